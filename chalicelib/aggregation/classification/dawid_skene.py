"""Dawid-Skene with Dirichlet priors ("ds").

Dawid & Skene, "Maximum Likelihood Estimation of Observer Error-Rates Using the EM Algorithm",
JRSS C 28(1), 1979. Model: every task has a hidden true label drawn from the class prior
``rho``; worker ``w`` answering a task whose truth is ``k`` gives label ``l`` with probability
``pi[w, k, l]`` (a full confusion matrix per worker), independently of the other answers. EM
alternates the posterior of every task's truth with the re-estimation of ``pi`` and ``rho``.

We run MAP-EM instead of plain maximum likelihood: each confusion row gets Dirichlet pseudo-
counts, by default one answer's worth (``prior_strength=1``) distributed like the pooled
confusion matrix of all workers (empirical Bayes, in the spirit of the hierarchical DS of Paun
et al., "Comparing Bayesian Models of Annotation", TACL 2018), so that a worker with two answers
stays close to the crowd average instead of looking perfect, while a worker with hundreds of
answers is barely affected; ``prior="diagonal"`` uses a fixed template with ``diagonal_share``
on the diagonal instead. (Strengths 0.5, 1 and 2 all land within 0.05 points of each other on
the six benchmark datasets; 1 was the most even with 10 % gold revealed.) The class prior gets
one pseudo-count per label. EM starts from the gold/agreement-weighted vote (or a warm start),
keeps gold tasks clamped and stops when the log posterior (log-likelihood + log prior) per answer
changes by less than ``tol`` (crowd-kit's rule and default, 1e-5).

Gold is used as in crowd-kit's ``true_labels`` (and Dawid & Skene's own treatment of known
labels): known tasks keep a one-hot posterior in every E-step, so they enter each worker's
counts as certain evidence. With 10 % of the gold revealed, this and crowd-kit's DawidSkene
label the other tasks within a few tasks of each other on every benchmark run, either way: the
tasks they disagree on are near ties (posteriors between 0.4 and 0.6) that the Dirichlet prior
tips one way and maximum likelihood the other. Variants tried on the six datasets x 5 seeds
(prior strength 0.5 to 4, a gold-only pooled template, an empirical-Bayes prior strength fitted
to the gold answers, down-weighting the inferred tasks as in Nigam et al.'s EM-lambda, a plain
majority-vote start) moved these near ties at random, none kept every run level or ahead, so
none was adopted (see bench/RESULTS.md).
"""
from __future__ import annotations

import numpy as np

from ._common import AggregationResult, Answers, class_prior_update, initial_posterior
from ._common import result_from_confusion_em, run_confusion_em, sum_last_axis, sum_over_workers

SUMMARY = "Dawid-Skene: full confusion matrix per worker, MAP-EM with Dirichlet priors"


def confusion_pseudo_counts(counts: np.ndarray, prior: str, prior_strength: float,
                            diagonal_share: float) -> np.ndarray:
    """Dirichlet pseudo-counts (n_labels, n_labels) added to every worker's confusion row."""
    k = counts.shape[1]
    if prior == "pooled":
        # Average behaviour of the crowd, smoothed towards the diagonal template.
        template = sum_over_workers(counts) + confusion_pseudo_counts(counts, "diagonal", 1.0,
                                                                diagonal_share)
    elif prior == "diagonal":
        off_diagonal = (1.0 - diagonal_share) / max(k - 1, 1)
        template = np.full((k, k), off_diagonal) + np.eye(k) * (diagonal_share - off_diagonal)
    else:
        raise ValueError(f"unknown prior {prior!r}: use 'pooled' or 'diagonal'")
    return prior_strength * template / template.sum(axis=1, keepdims=True)


def fit(answers: Answers, warm_start: dict | None = None, *, n_iter: int = 100,
        tol: float = 1e-5, prior: str = "pooled", prior_strength: float = 1.0,
        diagonal_share: float = 0.7, class_pseudo_count: float = 1.0) -> AggregationResult:

    def m_step(counts: np.ndarray, posterior: np.ndarray):
        pseudo = confusion_pseudo_counts(counts, prior, prior_strength, diagonal_share)
        smoothed = np.add(counts, pseudo, out=counts)  # in place: a fresh table every step
        row_totals = sum_last_axis(smoothed)
        # float32 logarithms (4x faster without AVX-512; the E-step gathers float32 anyway):
        # relative error < 1e-7, and the sums below accumulate in float64.
        log_confusion = np.log(smoothed, dtype=np.float32)
        log_confusion -= np.log(row_totals, dtype=np.float32)
        log_class_prior, class_term = class_prior_update(answers, posterior, class_pseudo_count)
        # Dirichlet log density (up to a constant); summing over workers first is cheaper.
        log_param_prior = float((pseudo * sum_over_workers(log_confusion)).sum()) + class_term
        return log_confusion, log_class_prior, log_param_prior

    start = initial_posterior(answers, warm_start)
    outcome = run_confusion_em(answers, start, m_step, n_iter=n_iter, tol=tol)
    return result_from_confusion_em(answers, outcome, "ds")
