"""Median of the answers ("median"): the robust baseline of the ``number`` kind.

Model: none beyond "most answers are near the truth"; the median ignores wild answers. Its
standard error is taken as 1.2533 x that of the mean (the normal-theory ratio). A worker's
reliability is their smoothed share of answers within the tolerance of the result.
"""
from __future__ import annotations

import numpy as np

from .._kinds import KindAnswer, KindResult
from ._numbers import build_result, numbers_from, within_tolerance_share
from .mean import task_moments

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


def fit(answers: list[KindAnswer], config: dict, known: dict, warm_start: dict | None
        ) -> KindResult:
    data = numbers_from(answers, config, known)
    median = task_medians(data.task, data.value, data.n_tasks)
    _, sd, _ = task_moments(data.task, data.value, data.n_tasks)
    return build_result(data, "median", median, 1.2533 * sd,
                        within_tolerance_share(data, median), {})
