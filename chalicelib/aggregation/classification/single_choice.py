"""The ``single_choice`` kind behind :func:`chalicelib.aggregation.by_kind.aggregate_kind`.

Encodes string ids and labels, runs one of this package's methods (see its docstring for the
models and papers) and turns the arrays back into a :class:`KindResult`. Warm starts are keyed
by worker id here, so they survive workers arriving in a different order; the index-based
``params`` of the array interface are converted on the way in and out.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from .._kinds import KindAnswer, KindResult, TaskOutcome
from . import METHOD_SUMMARIES, METHODS, aggregate
from ._encoding import encode, encode_known


def _label_order(answers: list[KindAnswer], config: dict, known: dict) -> list[str]:
    labels = [str(label) for label in config.get("labels") or []]
    seen = set(labels)
    for value in [a.value for a in answers] + list(known.values()):
        if str(value) not in seen:  # a label outside the config: keep it rather than fail
            seen.add(str(value))
            labels.append(str(value))
    return labels


# Parameters that carry over between runs (per-task ones such as GLAD's difficulties do not).
_PER_WORKER_PARAMS = {"confusion", "ability"}
_GLOBAL_PARAMS = {"class_prior"}


def _warm_start_by_index(warm_start: dict | None, worker_ids: list[str]) -> dict | None:
    """Reorder per-worker arrays of a previous result to the current worker order."""
    if not warm_start or "workers" not in warm_start:
        return None
    previous = {worker: i for i, worker in enumerate(warm_start["workers"])}
    params = {}
    for key, value in warm_start.items():
        if key not in _GLOBAL_PARAMS and key not in _PER_WORKER_PARAMS:
            continue
        array = np.asarray(value, dtype=float)
        if key in _GLOBAL_PARAMS:
            params[key] = array
        elif key in _PER_WORKER_PARAMS and array.ndim >= 1 and array.shape[0] == len(previous) > 0:
            filler = array.mean(axis=0)
            params[key] = np.stack([array[previous[w]] if w in previous else filler
                                    for w in worker_ids]) if worker_ids else array[:0]
    return params


def _jsonable(params: dict, worker_ids: list[str]) -> dict:
    out = {key: np.asarray(value).tolist() for key, value in params.items()}
    out["workers"] = list(worker_ids)
    return out


def fit_with(method: str) -> Callable[..., KindResult]:
    """The by-kind ``fit`` of one classification method."""

    def fit(answers: list[KindAnswer], config: dict, known: dict, warm_start: dict | None
            ) -> KindResult:
        labels = _label_order(answers, config, known)
        encoded = encode([a.worker for a in answers], [a.task for a in answers],
                         [str(a.value) for a in answers], label_order=labels)
        task_ids = list(encoded.task_ids) + [t for t in known if t not in set(encoded.task_ids)]
        encoded = encoded._replace(task_ids=task_ids)
        known_index = encode_known(encoded, list(known), [str(v) for v in known.values()])
        result = aggregate(method, encoded.tasks, encoded.workers, encoded.labels,
                           len(task_ids), len(encoded.worker_ids), len(labels), known=known_index,
                           warm_start=_warm_start_by_index(warm_start, encoded.worker_ids))
        tasks = {}
        for i, task in enumerate(task_ids):
            posterior = result.posterior[i]
            tasks[task] = TaskOutcome(
                labels[int(result.labels[i])], float(result.confidence[i]),
                {"probabilities": {label: float(p) for label, p in zip(labels, posterior)}})
        workers = {w: float(np.clip(r, 0.0, 1.0))
                   for w, r in zip(encoded.worker_ids, result.worker_reliability)}
        return KindResult(method, tasks, workers, None, _jsonable(result.params,
                                                                  encoded.worker_ids))

    fit.__doc__ = METHOD_SUMMARIES[method]
    return fit


FITS = {name: fit_with(name) for name in METHODS}
