"""Median rating ("median"): the baseline of the ``rating`` kind.

Model: none; the answer is the median position of the task's ratings (the lower one of two
middle positions), the distribution the share of ratings per position, the confidence the
share on the answer. A worker's reliability is their smoothed share of ratings equal to the
result, (agree + 0.5) / (ratings + 1).
"""
from __future__ import annotations

import numpy as np

from .._kinds import KindAnswer, KindResult, index_ids, task_ids_with_gold
from .ordinal import median_position, ordinal_result, positions, scale_size

SUMMARY = "median rating, vote shares as distribution (baseline)"


def fit(answers: list[KindAnswer], config: dict, known: dict, warm_start: dict | None
        ) -> KindResult:
    n = scale_size(config, answers, known)
    task, _ = index_ids([a.task for a in answers])
    task_ids = task_ids_with_gold([a.task for a in answers], known)
    worker, worker_ids = index_ids([a.worker for a in answers])
    rating = positions([a.value for a in answers], n, "rating")
    shares = np.zeros((len(task_ids), n))
    np.add.at(shares, (np.asarray(task, dtype=np.int64), rating), 1.0)
    position = {t: i for i, t in enumerate(task_ids)}
    for t, p in zip(known, positions(list(known.values()), n, "gold rating")):
        shares[position[t]] = np.eye(n)[p]
    shares /= shares.sum(axis=1, keepdims=True)
    answer = median_position(shares)
    agree = (answer[np.asarray(task, dtype=np.int64)] == rating).astype(float)
    worker = np.asarray(worker, dtype=np.int64)
    reliability = ((np.bincount(worker, weights=agree, minlength=len(worker_ids)) + 0.5)
                   / (np.bincount(worker, minlength=len(worker_ids)) + 1.0))
    return ordinal_result("median", task_ids, worker_ids, shares, reliability, {})
