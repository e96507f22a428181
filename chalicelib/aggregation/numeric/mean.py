"""Plain mean of the answers ("mean"): the baseline of the ``number`` kind.

Model: every answer is the truth plus noise of the same variance, so the mean is the maximum-
likelihood estimate and its standard error the sample standard deviation over sqrt(n). A
worker's reliability is their smoothed share of answers within the tolerance of the result.
"""
from __future__ import annotations

import numpy as np

from .._kinds import KindAnswer, KindResult
from ._numbers import build_result, numbers_from, within_tolerance_share

SUMMARY = "mean of the answers (baseline)"


def task_moments(task: np.ndarray, value: np.ndarray, n_tasks: int):
    count = np.bincount(task, minlength=n_tasks).astype(float)
    total = np.bincount(task, weights=value, minlength=n_tasks)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / count
        squares = np.bincount(task, weights=(value - mean[task]) ** 2, minlength=n_tasks)
        sd = np.sqrt(squares / np.maximum(count - 1, 1)) / np.sqrt(count)
    # One answer says nothing about the spread: borrow the typical spread of the project.
    typical = np.nanmedian(np.sqrt(squares / np.maximum(count - 1, 1))[count > 1]) if (
        count > 1).any() else 0.0
    sd = np.where(count > 1, sd, typical)
    return mean, sd, count


def fit(answers: list[KindAnswer], config: dict, known: dict, warm_start: dict | None
        ) -> KindResult:
    data = numbers_from(answers, config, known)
    mean, sd, _ = task_moments(data.task, data.value, data.n_tasks)
    return build_result(data, "mean", mean, sd, within_tolerance_share(data, mean), {})
