"""Median rating ("median"): the baseline of the ``rating`` kind.

Model: none; the answer is the median position of the task's ratings (the lower one of two
middle positions), the distribution the share of ratings per position, the confidence the
share on the answer. A worker's reliability is their smoothed share of ratings equal to the
result, (agree + 0.5) / (ratings + 1).
"""
from __future__ import annotations

import numpy as np

from .._kinds import KindAnswer, KindResult
from .ordinal import encode, median_position, ordinal_result

SUMMARY = "median rating, vote shares as distribution (baseline)"


def fit(answers: list[KindAnswer], config: dict, known: dict, warm_start: dict | None
        ) -> KindResult:
    r = encode(answers, config, known)
    shares = np.zeros((len(r.task_ids), r.n))
    np.add.at(shares, (r.task, r.rating), 1.0)
    gold = np.flatnonzero(r.known_index >= 0)
    shares[gold] = np.eye(r.n)[r.known_index[gold]]
    shares /= shares.sum(axis=1, keepdims=True)
    answer = median_position(shares)
    agree = (answer[r.task] == r.rating).astype(float)
    reliability = ((np.bincount(r.worker, weights=agree, minlength=len(r.worker_ids)) + 0.5)
                   / (np.bincount(r.worker, minlength=len(r.worker_ids)) + 1.0))
    return ordinal_result("median", r.task_ids, r.worker_ids, shares, reliability, {})
