"""One-coin Dawid-Skene ("one_coin").

The symmetric special case of Dawid & Skene (JRSS C 28(1), 1979) used e.g. by Zhang, Chen, Zhou
& Jordan, "Spectral Methods Meet EM: A Provably Optimal Algorithm for Crowdsourcing", NeurIPS
2014 (and crowd-kit's OneCoinDawidSkene). Model: worker ``w`` gives the true label with
probability ``p_w`` and otherwise one of the ``K - 1`` other labels uniformly at random, so the
confusion matrix has ``p_w`` on the diagonal and ``(1 - p_w) / (K - 1)`` elsewhere; truths follow
a class prior. One parameter per worker makes it robust for workers with few answers, at the
price of ignoring label-specific biases. MAP-EM: ``p_w`` gets Beta pseudo-counts worth
``prior_strength`` answers at the crowd's pooled accuracy (empirical Bayes), the class prior one
pseudo-count per label; gold tasks stay clamped; EM starts from the gold/agreement-weighted vote.
"""
from __future__ import annotations

import numpy as np

from ._common import AggregationResult, Answers, class_prior_update, initial_posterior
from ._common import make_result, run_confusion_em

SUMMARY = "one-coin Dawid-Skene: one accuracy per worker, errors uniform"


def confusion_from_accuracy(accuracy: np.ndarray, n_labels: int) -> np.ndarray:
    """(W, K, K) matrices with ``accuracy`` on the diagonal and the rest spread uniformly."""
    off_diagonal = (1.0 - accuracy) / max(n_labels - 1, 1)
    eye = np.eye(n_labels)
    return off_diagonal[:, None, None] * (1.0 - eye) + accuracy[:, None, None] * eye


def fit(answers: Answers, warm_start: dict | None = None, *, n_iter: int = 100,
        tol: float = 1e-5, prior_strength: float = 2.0,
        class_pseudo_count: float = 1.0) -> AggregationResult:
    k = answers.n_labels

    def m_step(counts: np.ndarray, posterior: np.ndarray):
        correct = np.trace(counts, axis1=1, axis2=2)
        total = counts.sum(axis=(1, 2))
        pooled = (correct.sum() + 1.0) / (total.sum() + 1.0 + 1.0 / max(k - 1, 1))
        pseudo_correct, pseudo_wrong = prior_strength * pooled, prior_strength * (1 - pooled)
        accuracy = (correct + pseudo_correct) / (total + pseudo_correct + pseudo_wrong)
        if k == 1:
            accuracy = np.ones_like(accuracy)
        log_confusion = np.log(confusion_from_accuracy(accuracy, k))
        log_class_prior, class_term = class_prior_update(answers, posterior, class_pseudo_count)
        log_param_prior = float(pseudo_correct * np.log(accuracy).sum()
                                + pseudo_wrong * np.log1p(-np.minimum(accuracy, 1 - 1e-12)).sum())
        return log_confusion, log_class_prior, log_param_prior + class_term

    outcome = run_confusion_em(answers, initial_posterior(answers, warm_start), m_step,
                               n_iter=n_iter, tol=tol)
    confusion = np.exp(outcome.log_confusion)
    class_prior = np.exp(outcome.log_class_prior)
    accuracy = np.diagonal(confusion, axis1=1, axis2=2)[:, 0] if k else np.zeros(0)
    return make_result(
        answers, outcome.posterior, accuracy, method="one_coin", confusion=confusion,
        iterations=outcome.iterations, log_likelihood=outcome.log_likelihood,
        params={"confusion": confusion, "class_prior": class_prior},
    )
