"""MACE, Multi-Annotator Competence Estimation ("mace").

Hovy, Berg-Kirkpatrick, Vaswani & Hovy, "Learning Whom to Trust with MACE", NAACL-HLT 2013.
Model: for each answer, worker ``w`` either knows the answer (with probability ``theta_w``, the
competence) and gives the true label, or spams, drawing a label from a worker-specific
distribution ``xi_w`` regardless of the truth. The implied confusion matrix is
``theta_w * I + (1 - theta_w) * xi_w`` (every row equal off the diagonal), which captures both
random clickers and workers who always press the same button. We fit it with MAP-EM (the
paper's EM variant with Beta/Dirichlet smoothing, single start, not its 10-restart VB):
competence gets Beta pseudo-counts worth ``prior_strength`` answers at the crowd's pooled
competence, the spam distribution ``spam_pseudo_count`` per label, the class prior (which MACE
takes as uniform; we learn it, a harmless generalisation) one per label. Gold tasks stay
clamped; EM starts from the gold/agreement-weighted vote. Reliability = P(answer correct).
"""
from __future__ import annotations

import numpy as np

from ._common import AggregationResult, Answers, class_prior_update, initial_posterior
from ._common import result_from_confusion_em, run_confusion_em

SUMMARY = "MACE: each answer is either competent (true label) or spam from a worker's habit"


def fit(answers: Answers, warm_start: dict | None = None, *, n_iter: int = 100,
        tol: float = 1e-5, prior_strength: float = 2.0, spam_pseudo_count: float = 1.0,
        class_pseudo_count: float = 1.0) -> AggregationResult:
    k, n_workers = answers.n_labels, answers.n_workers
    # Starting point of the spam-responsibility computation in the first M-step.
    state = {"competence": np.full(n_workers, 0.5), "spam": np.full((n_workers, k), 1.0 / k)}

    def m_step(counts: np.ndarray, posterior: np.ndarray):
        competence, spam = state["competence"], state["spam"]
        agreeing = np.diagonal(counts, axis1=1, axis2=2)  # answers equal to the truth, per label
        given = counts.sum(axis=1)  # answers per given label
        # An answer equal to the truth was competent with probability theta / P(label | truth).
        competent_share = competence[:, None] / (competence[:, None]
                                                 + (1 - competence[:, None]) * spam)
        competent = (agreeing * competent_share).sum(axis=1)
        spam_counts = given - agreeing * competent_share
        total = given.sum(axis=1)
        pooled = (competent.sum() + 1.0) / (total.sum() + 2.0)
        pseudo_competent, pseudo_spam = prior_strength * pooled, prior_strength * (1 - pooled)
        competence = (competent + pseudo_competent) / (total + pseudo_competent + pseudo_spam)
        spam = spam_counts + spam_pseudo_count
        spam /= spam.sum(axis=1, keepdims=True)
        state["competence"], state["spam"] = competence, spam
        confusion = (competence[:, None, None] * np.eye(k)
                     + (1 - competence)[:, None, None] * spam[:, None, :])
        log_class_prior, class_term = class_prior_update(answers, posterior, class_pseudo_count)
        log_param_prior = float(pseudo_competent * np.log(competence).sum()
                                + pseudo_spam * np.log1p(-competence).sum()
                                + spam_pseudo_count * np.log(spam).sum())
        return np.log(confusion), log_class_prior, log_param_prior + class_term

    outcome = run_confusion_em(answers, initial_posterior(answers, warm_start), m_step,
                               n_iter=n_iter, tol=tol)
    return result_from_confusion_em(answers, outcome, "mace")
