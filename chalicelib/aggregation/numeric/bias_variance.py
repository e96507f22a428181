"""Per-worker bias and noise with an outlier component, fitted by EM ("bias_variance").

Model (the grader model PG1 of Piech et al., "Tuned Models of Peer Assessment in MOOCs", EDM
2013, made robust with a contaminated-normal noise, Tukey 1960 / Huber "Robust Statistics"
1981): task ``t`` has a true value ``mu_t ~ N(m, s^2)``; worker ``w`` answers

    x = mu_t + b_w + e,   e ~ (1 - p_w) N(0, v_w) + p_w Uniform(range)

so a worker has a bias ``b_w``, a noise variance ``v_w`` and a rate ``p_w`` of wild answers that
carry no information (typos, a slider left at 0, a spammer). EM alternates: the E-step gives
each answer the responsibility ``r`` of the normal component, the posterior of every ``mu_t``
(a precision-weighted mean of ``x - b_w`` with weights ``r / v_w``, plus the task prior) and
its variance; the M-step updates ``b_w`` (shrunk to 0 with a normal prior worth
``bias_strength`` answers of the crowd's typical noise), ``v_w`` (inverse-gamma prior worth
``variance_strength`` answers at the crowd's robust noise, the squared MAD of the answers around
the task medians, and floored at (1 % of the range)^2 since coarse answers such as 0 and 100
would otherwise let a component collapse onto them), ``p_w`` (Beta prior worth
``outlier_strength`` answers at ``outlier_prior``) and the task prior ``m, s^2``. Gold tasks are
clamped to their value, which anchors the biases; without gold the biases are centred (the
crowd is unbiased on average), since only relative biases are identified.

The result is the posterior mean of ``mu_t``, its 95 % interval, and as reliability
``(1 - p_w) P(|b_w + N(0, v_w)| <= tolerance)``: the probability that an answer of the worker
lands within the tolerance of the truth. The prior settings are the best of a grid on
synthetic crowds with biased, noisy and wild workers (bench/aggregation/kinds_settings.py:
mean absolute error 1.17 there, against 3.67 for the mean and 2.55 for the median), not
chosen on the shared datasets.

A worker model can lose to the plain mean on a project whose workers differ less than the
model assumes, or whose extreme answers carry signal that the outlier component discounts.
So within each project the published estimate is that of the candidate, the full model or
its simplest sub-models (all workers equal with normal noise: the mean; with Laplace noise:
the median), with the least 5-fold cross-validated squared error in predicting held-out
answers (:func:`cross_validated_errors`; Stone 1974, "Cross-validatory choice and assessment
of statistical predictions"). Squared error, not held-out likelihood: the expected squared
error of a held-out answer is the estimate's squared error against the truth plus terms that
are the same for every candidate, while likelihood rewards explaining the answers' spread.
On synthetic crowds this keeps the model where it wins and picks the mean on an equal crowd
(bench/aggregation/kinds_settings.py); the mean's and median's worker reliability is then
the share of answers within the tolerance, and ``params["model"]`` says which was chosen.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from .._kinds import KindAnswer, KindResult
from ._numbers import Numbers, build_result, normal_cdf, numbers_from, within_tolerance_share
from .mean import task_moments
from .median import median_standard_errors, task_medians

SUMMARY = ("per-worker bias, noise and outlier rate by EM (Piech et al. 2013, robust), or the mean/"
           "median where they predict held-out answers better")


def _robust_scale(residuals: np.ndarray) -> float:
    if not residuals.size:
        return 1.0
    mad = float(np.median(np.abs(residuals - np.median(residuals))))
    return 1.4826 * mad if mad > 0 else float(np.std(residuals)) or 1.0


def fit_arrays(data: Numbers, *, n_iter: int = 100, tol: float = 1e-6, bias_strength: float = 1.0,
               variance_strength: float = 3.0, outlier_strength: float = 10.0,
               outlier_prior: float = 0.05, task_prior: bool = False, robust_scale: bool = True,
               warm_start: dict | None = None):
    """(posterior mean, posterior sd, bias, variance, outlier rate) as arrays."""
    t, w, x = data.task, data.worker, data.value
    n_tasks, n_workers = data.n_tasks, data.n_workers
    gold = ~np.isnan(data.known)
    has_gold = bool(gold[t].any()) if x.size else False
    span = (data.high - data.low) if (data.low is not None and data.high is not None
                                      and data.high > data.low) else None
    if span is None:
        span = float(np.ptp(x)) * 1.5 if x.size and np.ptp(x) > 0 else 1.0
    log_uniform = -np.log(span)

    mu = task_medians(t, x, n_tasks)
    mu = np.where(gold, data.known, mu)
    mu = np.where(np.isnan(mu), np.nanmean(mu) if np.isfinite(mu).any() else 0.0, mu)
    noise = (_robust_scale(x - mu[t]) if robust_scale else float(np.std(x - mu[t]))) ** 2 if x.size else 1.0
    # Answers are often coarse (0, 50, 100 on a slider): without a floor, a normal component
    # squeezed onto a few identical answers beats every honest spread and EM collapses.
    variance_floor = (0.01 * span) ** 2
    noise = max(noise, 4 * variance_floor)
    bias = np.zeros(n_workers)
    variance = np.full(n_workers, noise)
    outlier = np.full(n_workers, outlier_prior)
    if warm_start and warm_start.get("workers") == list(data.worker_ids):
        bias = np.asarray(warm_start.get("bias", bias), dtype=float)
        variance = np.asarray(warm_start.get("variance", variance), dtype=float)
        outlier = np.asarray(warm_start.get("outlier", outlier), dtype=float)
    prior_mean, prior_var = (float(np.mean(mu)) if mu.size else 0.0), np.inf  # flat unless task_prior
    if task_prior:
        prior_var = float(np.var(mu)) + noise
    counts = np.bincount(w, minlength=n_workers).astype(float)
    previous = -np.inf
    posterior_var = np.zeros(n_tasks)
    for _ in range(max(int(n_iter), 1)):
        # E-step for the answers: responsibility of the normal component.
        residual = x - mu[t] - bias[w]
        spread = variance[w] + posterior_var[t]
        log_normal = -0.5 * (np.log(2 * np.pi * spread) + residual ** 2 / spread)
        log_good = np.log1p(-outlier[w]) + log_normal
        with np.errstate(divide="ignore"):  # outlier_prior = 0 turns the component off
            log_bad = np.log(outlier[w]) + log_uniform
        top = np.maximum(log_good, log_bad)
        log_total = top + np.log(np.exp(log_good - top) + np.exp(log_bad - top))
        r = np.exp(log_good - log_total)
        objective = float(log_total.sum())
        # E-step for the tasks: normal posterior of mu_t given the trusted answers.
        precision = np.bincount(t, weights=r / variance[w], minlength=n_tasks) + 1.0 / prior_var
        precision = np.maximum(precision, 1e-12)  # a gold task nobody answered
        weighted = np.bincount(t, weights=r * (x - bias[w]) / variance[w], minlength=n_tasks)
        mu = (weighted + prior_mean / prior_var) / precision
        posterior_var = 1.0 / precision
        mu = np.where(gold, data.known, mu)
        posterior_var = np.where(gold, 0.0, posterior_var)
        # M-step: task prior, then each worker's bias, variance and outlier rate.
        free = ~gold
        if task_prior and free.any():
            prior_mean = float(mu[free].mean())
            prior_var = max(float(((mu[free] - prior_mean) ** 2 + posterior_var[free]).mean()),
                            1e-9)
        trusted = np.bincount(w, weights=r, minlength=n_workers)
        offset = x - mu[t]
        bias = (np.bincount(w, weights=r * offset, minlength=n_workers)
                / (trusted + bias_strength))
        if not has_gold and trusted.sum() > 0:  # only relative biases are identified
            bias -= float((trusted * bias).sum() / trusted.sum())
        squared = (x - mu[t] - bias[w]) ** 2 + posterior_var[t]
        variance = ((np.bincount(w, weights=r * squared, minlength=n_workers)
                     + variance_strength * noise) / (trusted + variance_strength))
        variance = np.maximum(variance, variance_floor)
        outlier = ((counts - trusted + outlier_strength * outlier_prior)
                   / (counts + outlier_strength))
        outlier = np.clip(outlier, 1e-4 if outlier_prior > 0 else 0.0, 0.9)
        if abs(objective - previous) <= tol * max(x.size, 1):
            break
        previous = objective
    return mu, np.sqrt(posterior_var), bias, variance, outlier


def _subset(data: Numbers, keep: np.ndarray) -> Numbers:
    return replace(data, task=data.task[keep], worker=data.worker[keep], value=data.value[keep])


def _candidates(data: Numbers, params: dict) -> dict:
    """Each candidate's truth estimate per task: the full model and its simplest sub-models,
    all workers equal with normal noise (the mean) or with Laplace noise (the median)."""
    return {"bias_variance": fit_arrays(data, **params)[0],
            "mean": task_moments(data.task, data.value, data.n_tasks)[0],
            "median": task_medians(data.task, data.value, data.n_tasks)}


def cross_validated_errors(data: Numbers, folds: int = 5, seed: int = 0, **params) -> dict:
    """Mean squared error of each candidate in predicting held-out answers, by ``folds``-fold
    cross-validation over the answers (each task's answers dealt round the folds in a fixed
    random order, so every fit still sees most answers of every task).

    For a held-out answer y = mu + b + e of a worker not in the fit, E[(y - estimate)^2] =
    E[(mu - estimate)^2] + the answer's own noise and bias, the same for every candidate (up to
    a cross term of order 1/answers per task): the ranking is that of the error against the
    unknown truth, which held-out likelihood does not give (it rewards a model for explaining
    the answers' spread, not for locating the truth). Gold tasks are not scored."""
    rng = np.random.default_rng(seed)
    order = np.lexsort((rng.random(data.value.size), data.task))
    count = np.bincount(data.task, minlength=data.n_tasks)
    start = np.concatenate(([0], np.cumsum(count)[:-1]))
    fold = np.empty(data.value.size, dtype=np.int64)
    rank = np.arange(data.value.size) - start[data.task[order]]
    fold[order] = (rank + rng.integers(folds, size=data.n_tasks)[data.task[order]]) % folds
    scored = np.isnan(data.known)[data.task] & (count[data.task] > 1)
    squared: dict = {}
    for k in range(folds):
        held = (fold == k) & scored
        if not held.any():
            continue
        for name, estimate in _candidates(_subset(data, fold != k), params).items():
            error = (data.value[held] - estimate[data.task[held]]) ** 2
            squared.setdefault(name, []).append(error)
    return {name: float(np.concatenate(errors).mean()) for name, errors in squared.items()}


def fit(answers: list[KindAnswer], config: dict, known: dict, warm_start: dict | None,
        **params) -> KindResult:
    """The full model, or the sub-model (mean, median) that cross-validation says locates the
    truth better in this project (``select=False`` keeps the full model)."""
    data = numbers_from(answers, config, known)
    select = params.pop("select", True)
    errors = cross_validated_errors(data, **params) if select else {}
    chosen = min(errors, key=errors.get) if errors else "bias_variance"
    mu, sd, bias, variance, outlier = fit_arrays(data, warm_start=warm_start, **params)
    fitted = {"workers": list(data.worker_ids), "bias": bias.tolist(),
              "variance": variance.tolist(), "outlier": outlier.tolist(),
              "model": chosen, "cv_squared_error": errors}
    if chosen != "bias_variance":
        estimate, sd, _ = task_moments(data.task, data.value, data.n_tasks)
        if chosen == "median":
            estimate = task_medians(data.task, data.value, data.n_tasks)
            sd = median_standard_errors(data.task, data.value, data.n_tasks, estimate)
        return build_result(data, "bias_variance", estimate, sd,
                            within_tolerance_share(data, estimate), fitted)
    tol, sigma = data.tolerance, np.sqrt(variance)
    reliability = (1 - outlier) * (normal_cdf((tol - bias) / sigma) - normal_cdf((-tol - bias) / sigma))
    return build_result(data, "bias_variance", mu, sd, reliability, fitted)
