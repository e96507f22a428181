"""Shared plumbing of the ``number`` methods: arrays in, :class:`KindResult` out."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._kinds import KindAnswer, KindResult, TaskOutcome, index_ids, task_ids_with_gold

Z95 = 1.959963984540054  # two-sided 95 % normal quantile


@dataclass
class Numbers:
    """Answers as arrays: ``task``/``worker`` indices and ``value`` per answer."""

    task: np.ndarray
    worker: np.ndarray
    value: np.ndarray
    task_ids: list
    worker_ids: list
    known: np.ndarray  # float (n_tasks,), NaN where unknown
    low: float | None
    high: float | None
    decimals: int | None

    @property
    def n_tasks(self) -> int:
        return len(self.task_ids)

    @property
    def n_workers(self) -> int:
        return len(self.worker_ids)

    @property
    def tolerance(self) -> float:
        """Half-width within which an answer counts as right: ``config["tolerance"]`` if set,
        else 2.5 % of max - min, else 2.5 % of the answers' spread (5th to 95th percentile)."""
        if self.configured_tolerance is not None:
            return self.configured_tolerance
        if self.low is not None and self.high is not None and self.high > self.low:
            return 0.025 * (self.high - self.low)
        if self.value.size:
            spread = float(np.subtract(*np.percentile(self.value, [95, 5])))
            if spread > 0:
                return 0.025 * spread
        return 0.5

    configured_tolerance: float | None = None


def _number(value, where: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: {value!r} is not a number") from None
    if not math.isfinite(number):
        raise ValueError(f"{where}: {value!r} is not a finite number")
    return number


def numbers_from(answers: list[KindAnswer], config: dict, known: dict) -> Numbers:
    tasks, task_ids = index_ids([a.task for a in answers])
    task_ids = task_ids_with_gold([a.task for a in answers], known)
    workers, worker_ids = index_ids([a.worker for a in answers])
    values = np.array([_number(a.value, f"answer of {a.worker} to {a.task}") for a in answers])
    gold = np.full(len(task_ids), np.nan)
    position = {task: i for i, task in enumerate(task_ids)}
    for task, value in known.items():
        gold[position[task]] = _number(value, f"gold of {task}")
    low, high = config.get("min"), config.get("max")
    tolerance = config.get("tolerance")
    return Numbers(np.asarray(tasks, dtype=np.int64), np.asarray(workers, dtype=np.int64),
                   values.reshape(-1), task_ids, worker_ids, gold,
                   None if low is None else float(low), None if high is None else float(high),
                   config.get("decimals"), None if tolerance is None else float(tolerance))


def normal_cdf(x) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    return 0.5 * (1.0 + np.vectorize(math.erf, otypes=[float])(x / math.sqrt(2.0)))


def clip_and_round(data: Numbers, values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    if data.low is not None:
        values = np.maximum(values, data.low)
    if data.high is not None:
        values = np.minimum(values, data.high)
    if data.decimals is not None:
        values = np.round(values, int(data.decimals))
    return values


def build_result(data: Numbers, method: str, estimate: np.ndarray, sd: np.ndarray,
                 reliability: np.ndarray, params: dict) -> KindResult:
    """Tasks get the estimate (rounded, clipped), a 95 % interval estimate +- 1.96 sd and as
    confidence P(|truth - answer| <= tolerance) under a normal posterior; gold tasks are exact."""
    is_gold = ~np.isnan(data.known)
    estimate = np.where(is_gold, data.known, estimate)
    sd = np.where(is_gold, 0.0, sd)
    answer = clip_and_round(data, estimate)
    low = clip_and_round(data, estimate - Z95 * sd)
    high = clip_and_round(data, estimate + Z95 * sd)
    tol = data.tolerance
    safe_sd = np.maximum(sd, 1e-12)
    confidence = normal_cdf((answer - estimate + tol) / safe_sd) - normal_cdf(
        (answer - estimate - tol) / safe_sd)
    confidence = np.where(is_gold, 1.0, confidence)
    tasks = {}
    for i, task in enumerate(data.task_ids):
        if np.isnan(estimate[i]):  # no answers and no gold: cannot happen via task_ids
            continue
        tasks[task] = TaskOutcome(float(answer[i]), float(np.clip(confidence[i], 0.0, 1.0)),
                                  {"interval": [float(low[i]), float(high[i])]})
    workers = {w: float(np.clip(r, 0.0, 1.0)) for w, r in zip(data.worker_ids, reliability)}
    return KindResult(method, tasks, workers, None, params)


def within_tolerance_share(data: Numbers, estimate: np.ndarray) -> np.ndarray:
    """Per worker: smoothed share of answers within the tolerance of the estimate (or gold)."""
    truth = np.where(np.isnan(data.known), estimate, data.known)
    if not data.value.size:
        return np.zeros(data.n_workers)
    hit = np.abs(data.value - truth[data.task]) <= data.tolerance
    good = np.bincount(data.worker, weights=hit.astype(float), minlength=data.n_workers)
    total = np.bincount(data.worker, minlength=data.n_workers)
    return (good + 0.5) / (total + 1.0)
