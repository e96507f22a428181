"""Calibrated confidence for single choice, fitted on gold and cross-fitted.

The model: a method's posterior probability ``c`` of the label it chose is turned into the
published confidence ``g(c) = sigmoid(a * logit(c) + b)`` (Platt scaling, Platt 1999, "Probabilistic
outputs for support vector machines"; as a calibration of a posterior: Guo et al. 2017, "On
calibration of modern neural networks", which also defines the expected calibration error, ECE).
Two parameters fit well on the few dozen gold tasks a project has, where a binned or isotonic
map would overfit; a Gaussian prior pulls (a, b) to (1, 0), the identity, so little gold
changes little.

A gold task's own posterior is clamped to its known answer, so it cannot tell how sure the
method is on tasks like it. Cross-fitting: the gold tasks are split into ``folds``; the method
is fitted again with one fold's gold hidden, and that fold's tasks give (confidence, correct)
pairs measured as on any task without gold. The map is fitted on all pairs; the ECE published
with it is nested: each fold's pairs scored by a map fitted on the other folds' pairs, so no
gold task ever calibrates itself.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

FOLDS = 5
MIN_GOLD = 30  # fewer gold tasks than this: the map is left at the identity
ECE_BINS = 15
PRIOR_PRECISION = 1.0  # the Gaussian prior's 1 / variance on (a - 1, b)
_EPS = 1e-6


@dataclass(frozen=True)
class Calibration:
    slope: float  # a
    intercept: float  # b
    gold_tasks: int  # gold tasks whose cross-fitted pairs fitted the map
    ece_before: float | None  # ECE of the method's own confidence on those pairs
    ece_after: float | None  # nested cross-fitted ECE of the calibrated confidence

    def apply(self, posterior: np.ndarray) -> np.ndarray:
        """The posterior (n_tasks, n_labels) with each row's top probability mapped through g
        and the others scaled to sum to one with it (their order kept); unchanged when no map
        was fitted (too little gold)."""
        if self.ece_after is None:
            return np.asarray(posterior, dtype=float)
        return recalibrated(posterior, self.slope, self.intercept)


IDENTITY = Calibration(1.0, 0.0, 0, None, None)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EPS, 1 - _EPS)
    return np.log(p) - np.log1p(-p)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return np.exp(-np.logaddexp(0, -x))


def _penalised_log_likelihood(theta: np.ndarray, x: np.ndarray, y: np.ndarray) -> float:
    z = theta[0] * x + theta[1]
    # log sigmoid(z) = -log(1 + e^-z), written to stay finite for large |z|
    log_likelihood = np.sum(y * -np.logaddexp(0, -z) + (1 - y) * -np.logaddexp(0, z))
    return float(log_likelihood - 0.5 * PRIOR_PRECISION * ((theta[0] - 1) ** 2 + theta[1] ** 2))


def fit_platt(confidence: np.ndarray, correct: np.ndarray) -> tuple[float, float]:
    """MAP (a, b) of P(correct) = sigmoid(a * logit(c) + b): Newton's method with backtracking
    on the concave penalised log-likelihood (saturated confidences make plain Newton overshoot)."""
    x = _logit(np.asarray(confidence, dtype=float))
    y = np.asarray(correct, dtype=float)
    theta = np.array([1.0, 0.0])
    current = _penalised_log_likelihood(theta, x, y)
    for _ in range(100):
        p = _sigmoid(theta[0] * x + theta[1])
        gradient = np.array([np.sum((y - p) * x), np.sum(y - p)]) - PRIOR_PRECISION * (theta - [1.0, 0.0])
        w = p * (1 - p)
        hessian = np.array([[np.sum(w * x * x), np.sum(w * x)], [np.sum(w * x), np.sum(w)]]) \
            + PRIOR_PRECISION * np.eye(2)  # minus the log-likelihood's Hessian: positive definite
        step = np.linalg.solve(hessian, gradient)
        size = 1.0
        while size > 1e-8:
            candidate = theta + size * step
            value = _penalised_log_likelihood(candidate, x, y)
            if value >= current:
                break
            size /= 2
        else:
            break
        theta, improvement, current = candidate, value - current, value
        if improvement < 1e-10:
            break
    return float(theta[0]), float(theta[1])


def recalibrated(posterior: np.ndarray, slope: float, intercept: float) -> np.ndarray:
    posterior = np.asarray(posterior, dtype=float)
    top = posterior.argmax(axis=1)
    rows = np.arange(posterior.shape[0])
    before = posterior[rows, top]
    after = _sigmoid(slope * _logit(before) + intercept)
    after = np.maximum(after, 1.0 / posterior.shape[1])  # the chosen label stays the most likely
    rest = 1.0 - before
    scale = np.divide(1.0 - after, rest, out=np.zeros_like(rest), where=rest > _EPS)
    out = posterior * scale[:, None]
    even = rest <= _EPS  # a posterior of 1: the remainder is spread evenly over the others
    if posterior.shape[1] > 1:
        out[even] = ((1.0 - after[even]) / (posterior.shape[1] - 1))[:, None]
    out[rows, top] = after
    return out


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = ECE_BINS) -> float:
    """ECE over equal-width confidence bins: sum over bins of share * |accuracy - confidence|."""
    confidence, correct = np.asarray(confidence, dtype=float), np.asarray(correct, dtype=float)
    if confidence.size == 0:
        return 0.0
    index = np.minimum((confidence * bins).astype(int), bins - 1)
    count = np.bincount(index, minlength=bins)
    gap = np.abs(np.bincount(index, correct, bins) - np.bincount(index, confidence, bins))
    return float(gap.sum() / confidence.size) if count.any() else 0.0


def cross_fitted_pairs(fit: Callable[[np.ndarray], np.ndarray], known: np.ndarray, folds: int,
                       seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(confidence, correct, fold) for every gold task, each from a fit with its fold's gold
    hidden. ``fit(known)`` returns the posterior (n_tasks, n_labels) of a fit given ``known``."""
    gold = np.flatnonzero(known >= 0)
    fold_of = np.random.default_rng(seed).permutation(gold.size) % folds
    confidence = np.empty(gold.size)
    correct = np.empty(gold.size, dtype=bool)
    for k in range(folds):
        held = gold[fold_of == k]
        if held.size == 0:
            continue
        hidden = known.copy()
        hidden[held] = -1
        posterior = fit(hidden)[held]
        confidence[fold_of == k] = posterior.max(axis=1)
        correct[fold_of == k] = posterior.argmax(axis=1) == known[held]
    return confidence, correct, fold_of


def calibrate(fit: Callable[[np.ndarray], np.ndarray], known: np.ndarray, folds: int = FOLDS,
              min_gold: int | None = None, seed: int = 0) -> Calibration:
    """The calibration map of a project's method from its gold (the identity below ``min_gold``
    gold tasks, MIN_GOLD by default). Costs ``folds`` more fits of the method."""
    known = np.asarray(known)
    min_gold = MIN_GOLD if min_gold is None else min_gold
    gold_tasks = int(np.sum(known >= 0))
    if gold_tasks < max(min_gold, folds):
        return Calibration(1.0, 0.0, gold_tasks, None, None)
    confidence, correct, fold_of = cross_fitted_pairs(fit, known, folds, seed)
    scored = np.empty_like(confidence)
    for k in range(folds):
        inside = fold_of == k
        slope, intercept = fit_platt(confidence[~inside], correct[~inside])
        scored[inside] = _sigmoid(slope * _logit(confidence[inside]) + intercept)
    slope, intercept = fit_platt(confidence, correct)
    return Calibration(slope, intercept, gold_tasks,
                       expected_calibration_error(confidence, correct),
                       expected_calibration_error(scored, correct))
