"""Label-set answers as a (answers x labels) 0/1 matrix, and the label-set result."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._kinds import KindAnswer, KindResult, TaskOutcome, index_ids, task_ids_with_gold


@dataclass
class LabelSets:
    task_ids: list
    worker_ids: list
    labels: list
    task: np.ndarray
    worker: np.ndarray
    chosen: np.ndarray  # bool (n_answers, n_labels)
    known: np.ndarray  # int (n_tasks, n_labels): 1 / 0 known, -1 unknown


def _label_list(value, where: str) -> list[str]:
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"{where}: {value!r} is not a list of labels")
    return [str(v) for v in value]


def label_sets_from(answers: list[KindAnswer], config: dict, known: dict) -> LabelSets:
    labels = [str(label) for label in config.get("labels") or []]
    values = [_label_list(a.value, f"answer of {a.worker} to {a.task}") for a in answers]
    gold = {t: _label_list(v, f"gold of {t}") for t, v in known.items()}
    for chosen in values + list(gold.values()):
        for label in chosen:
            if label not in labels:  # a label outside the config: keep it rather than fail
                labels.append(label)
    index = {label: i for i, label in enumerate(labels)}
    task, _ = index_ids([a.task for a in answers])
    task_ids = task_ids_with_gold([a.task for a in answers], known)
    worker, worker_ids = index_ids([a.worker for a in answers])
    matrix = np.zeros((len(answers), len(labels)), dtype=bool)
    for row, chosen in enumerate(values):
        matrix[row, [index[label] for label in chosen]] = True
    known_matrix = np.full((len(task_ids), len(labels)), -1, dtype=np.int64)
    position = {t: i for i, t in enumerate(task_ids)}
    for t, chosen in gold.items():
        known_matrix[position[t]] = 0
        known_matrix[position[t], [index[label] for label in chosen]] = 1
    return LabelSets(task_ids, worker_ids, labels, np.asarray(task, dtype=np.int64),
                     np.asarray(worker, dtype=np.int64), matrix, known_matrix)


def choose_sets(probability: np.ndarray, config: dict) -> np.ndarray:
    """Labels with probability >= 1/2, then trimmed to ``max_selected`` (most probable kept)
    or topped up to ``min_selected`` (most probable added)."""
    selected = probability >= 0.5
    low = int(config.get("min_selected") or 0)
    high = config.get("max_selected")
    order = np.argsort(-probability, axis=1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(probability.shape[1])[None, :].repeat(
        probability.shape[0], axis=0), axis=1)
    if high is not None:
        selected &= rank < int(high)
    selected |= rank < low
    return selected


def build_result(data: LabelSets, method: str, probability: np.ndarray, reliability: np.ndarray,
                 config: dict, params: dict) -> KindResult:
    """Confidence of a set: the probability of its least certain label decision."""
    probability = np.where(data.known >= 0, data.known, probability)
    selected = choose_sets(probability, config)
    decision = np.where(selected, probability, 1.0 - probability)
    tasks = {}
    for i, task in enumerate(data.task_ids):
        chosen = [label for label, s in zip(data.labels, selected[i]) if s]
        confidence = float(decision[i].min()) if data.labels else 1.0
        tasks[task] = TaskOutcome(chosen, confidence, {"probabilities": {
            label: float(p) for label, p in zip(data.labels, probability[i])}})
    workers = {w: float(np.clip(r, 0.0, 1.0)) for w, r in zip(data.worker_ids, reliability)}
    return KindResult(method, tasks, workers, None, params)
