"""Per-label Dawid-Skene ("label_ds"): binary relevance with worker sensitivity/specificity.

Binary relevance (each label an independent yes/no question; Tsoumakas & Katakis, "Multi-Label
Classification: An Overview", IJDWM 2007; crowd-kit's ``BinaryRelevance``) with, for every
label, the two-class Dawid-Skene model (Dawid & Skene, JRSS C 1979): task ``t`` has label
``l`` with prior ``rho_l``; worker ``w`` ticks ``l`` with probability ``sens_wl`` when it
applies and ``1 - spec_wl`` when it does not. Each label is fitted by this package's MAP-EM
Dawid-Skene (``classification.dawid_skene``: empirical-Bayes Dirichlet prior that keeps
workers with few answers near the crowd, gold tasks clamped), on the answers of the tasks
the worker saw (an unticked label is a "no"). The result: P(label applies) per label, the
labels with P >= 1/2 (then ``min_selected``/``max_selected``). A worker's reliability is the
mean over labels of their balanced accuracy (sens + spec) / 2.
"""
from __future__ import annotations

import numpy as np

from .._kinds import KindAnswer, KindResult
from ..classification import aggregate
from ._labels import build_result, label_sets_from

SUMMARY = "binary relevance with two-class Dawid-Skene per label (sensitivity/specificity per worker)"


def fit(answers: list[KindAnswer], config: dict, known: dict, warm_start: dict | None
        ) -> KindResult:
    data = label_sets_from(answers, config, known)
    n_tasks, n_workers, n_labels = len(data.task_ids), len(data.worker_ids), len(data.labels)
    probability = np.zeros((n_tasks, n_labels))
    balanced = np.zeros((n_workers, max(n_labels, 1)))
    for label in range(n_labels):
        result = aggregate("ds", data.task, data.worker, data.chosen[:, label].astype(np.int64),
                           n_tasks, n_workers, 2, known=data.known[:, label])
        probability[:, label] = result.posterior[:, 1]
        confusion = result.worker_confusion
        balanced[:, label] = 0.5 * (confusion[:, 0, 0] + confusion[:, 1, 1])
    reliability = balanced[:, :n_labels].mean(axis=1) if n_labels else np.ones(n_workers)
    return build_result(data, "label_ds", probability, reliability, config, {})
