"""Median of the answers ("median"): the robust baseline of the ``number`` kind.

Model: none beyond "most answers are near the truth"; the median ignores wild answers. Its
standard error is the normal-theory 1.2533 sigma / sqrt(n) with sigma estimated robustly
(1.4826 x the median absolute deviation), so a wild answer widens the interval no more than it
moves the median; a task with one answer, or with most answers equal, gets the project's
typical standard error. A worker's
reliability is their smoothed share of answers within the tolerance of the result.
"""
from __future__ import annotations

import numpy as np

from .._kinds import KindAnswer, KindResult
from ._numbers import build_result, numbers_from, within_tolerance_share

SUMMARY = "median of the answers (baseline)"


def task_medians(task: np.ndarray, value: np.ndarray, n_tasks: int) -> np.ndarray:
    order = np.lexsort((value, task))
    sorted_value = value[order]
    count = np.bincount(task, minlength=n_tasks)
    start = np.concatenate(([0], np.cumsum(count)[:-1]))
    median = np.full(n_tasks, np.nan)
    has = count > 0
    lower = start[has] + (count[has] - 1) // 2
    upper = start[has] + count[has] // 2
    median[has] = 0.5 * (sorted_value[lower] + sorted_value[upper])
    return median


def median_standard_errors(task: np.ndarray, value: np.ndarray, n_tasks: int,
                           median: np.ndarray) -> np.ndarray:
    count = np.bincount(task, minlength=n_tasks)
    if not value.size:
        return np.zeros(n_tasks)
    mad = task_medians(task, np.abs(value - median[task]), n_tasks)
    with np.errstate(invalid="ignore", divide="ignore"):
        se = 1.2533 * 1.4826 * mad / np.sqrt(count)
    spread = (count > 1) & (se > 0)
    typical = float(np.median(se[spread])) if spread.any() else 0.0
    return np.where(spread, se, typical)


def fit(answers: list[KindAnswer], config: dict, known: dict, warm_start: dict | None
        ) -> KindResult:
    data = numbers_from(answers, config, known)
    median = task_medians(data.task, data.value, data.n_tasks)
    sd = median_standard_errors(data.task, data.value, data.n_tasks, median)
    return build_result(data, "median", median, sd,
                        within_tolerance_share(data, median), {})
