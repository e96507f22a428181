"""Independent Bayesian Classifier Combination, variational Bayes ("ibcc").

Kim & Ghahramani, "Bayesian Classifier Combination", AISTATS 2012; the variational inference
used here is Simpson, Roberts, Psorakis & Smith, "Dynamic Bayesian Combination of Multiple
Imperfect Classifiers", in Decision Making and Imperfection, Springer 2013. Model: Dawid-Skene's
(class prior ``rho``, one confusion matrix ``pi_w`` per worker) made fully Bayesian with
Dirichlet priors ``rho ~ Dir(nu0)`` and ``pi_w[k] ~ Dir(alpha0[k])``; instead of point estimates,
mean-field VB keeps Dirichlet posteriors over the parameters and scores each task with their
expected logarithms, ``E[log pi] = digamma(alpha) - digamma(sum alpha)``. Integrating over the
parameters is what keeps a worker with two answers from looking perfect, and it was the
strongest simple model in Li, Rubinstein & Cohn's benchmark (ICML 2019 / WWW 2019; bluebirds
88.89, face 64.04). ``alpha0`` is ``diagonal_pseudo_count`` on the diagonal and
``off_diagonal_pseudo_count`` elsewhere. Gold tasks stay clamped; VB starts from the
gold/agreement-weighted vote and stops when the plug-in log-likelihood settles.
"""
from __future__ import annotations

import numpy as np

from ._common import AggregationResult, Answers, digamma, initial_posterior, make_result
from ._common import reliability_from_confusion, run_confusion_em, sum_last_axis

SUMMARY = "IBCC: Bayesian Dawid-Skene fitted by variational Bayes (Dirichlet posteriors)"


def fit(answers: Answers, warm_start: dict | None = None, *, n_iter: int = 100,
        tol: float = 1e-5, diagonal_pseudo_count: float = 2.0,
        off_diagonal_pseudo_count: float = 1.0, class_pseudo_count: float = 1.0
        ) -> AggregationResult:
    k = answers.n_labels
    alpha0 = np.full((k, k), off_diagonal_pseudo_count) + np.eye(k) * (
        diagonal_pseudo_count - off_diagonal_pseudo_count)
    posterior_params = {}

    def vb_step(counts: np.ndarray, posterior: np.ndarray):
        alpha = counts + alpha0
        rows = answers.informative_rows
        nu = (posterior if rows is None else posterior[rows]).sum(axis=0) + class_pseudo_count
        posterior_params["alpha"], posterior_params["nu"] = alpha, nu
        expected_log_confusion = digamma(alpha) - digamma(sum_last_axis(alpha))
        expected_log_prior = digamma(nu) - digamma(nu.sum())
        return expected_log_confusion, expected_log_prior, 0.0

    outcome = run_confusion_em(answers, initial_posterior(answers, warm_start), vb_step,
                               n_iter=n_iter, tol=tol)
    alpha, nu = posterior_params["alpha"], posterior_params["nu"]
    confusion = alpha / alpha.sum(axis=2, keepdims=True)  # posterior mean
    class_prior = nu / nu.sum()
    return make_result(
        answers, outcome.posterior, reliability_from_confusion(confusion, class_prior),
        method="ibcc", confusion=confusion, iterations=outcome.iterations,
        log_likelihood=outcome.log_likelihood,
        params={"confusion": confusion, "class_prior": class_prior},
    )
