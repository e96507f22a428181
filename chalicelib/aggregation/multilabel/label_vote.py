"""Vote per label ("label_vote"): the baseline of the ``multiple_choice`` kind.

A label belongs to the set when at least half the task's answers ticked it (the "vote >= 50 %"
baseline of the CrowdTruth papers, e.g. Dumitrache, Aroyo & Welty, "Crowdsourcing Ground
Truth for Medical Relation Extraction", ACM TiiS 8(2), 2018); its probability is that share.
Worker reliability: mean over labels of the worker's balanced accuracy against the result,
smoothed by half an answer either way.
"""
from __future__ import annotations

import numpy as np

from .._kinds import KindAnswer, KindResult
from ._labels import build_result, choose_sets, label_sets_from

SUMMARY = "label share of the answers, kept at >= 50 % (baseline)"


def fit(answers: list[KindAnswer], config: dict, known: dict, warm_start: dict | None
        ) -> KindResult:
    data = label_sets_from(answers, config, known)
    n_tasks, n_workers = len(data.task_ids), len(data.worker_ids)
    count = np.bincount(data.task, minlength=n_tasks).astype(float)
    share = np.zeros((n_tasks, len(data.labels)))
    np.add.at(share, data.task, data.chosen.astype(float))
    share /= np.maximum(count, 1)[:, None]
    result = choose_sets(np.where(data.known >= 0, data.known, share), config)[data.task]
    agree_yes = np.zeros(n_workers)
    agree_no = np.zeros(n_workers)
    yes = result.sum(axis=1).astype(float)
    no = (~result).sum(axis=1).astype(float)
    np.add.at(agree_yes, data.worker, ((data.chosen & result).sum(axis=1) + 0.5) / (yes + 1))
    np.add.at(agree_no, data.worker, ((~data.chosen & ~result).sum(axis=1) + 0.5) / (no + 1))
    answered = np.maximum(np.bincount(data.worker, minlength=n_workers), 1)
    reliability = 0.5 * (agree_yes + agree_no) / answered
    return build_result(data, "label_vote", share, reliability, config, {})
