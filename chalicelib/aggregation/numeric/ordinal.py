"""Ordinal Dawid-Skene with an ordered-probit worker model ("ordinal").

Lakshminarayanan & Teh, "Inferring ground truth from multi-annotator ordinal data: a
probabilistic approach", arXiv:1305.0015 (2013); Dawid & Skene, JRSS C 1979 for the EM. Model:
task ``t`` has a true position ``k`` on the scale 1..n (class prior ``rho``); worker ``w`` sees
``k + b_w + N(0, s_w^2)`` and reports the nearest position (an ordered probit with cut points
halfway between positions), except with probability ``e_w`` a position at random:

    P(l | k, w) = (1 - e_w) [Phi((l + 1/2 - k - b_w) / s_w) - Phi((l - 1/2 - k - b_w) / s_w)]
                  + e_w / n          (the end positions take the open tails)

So a worker's confusion matrix has three parameters that respect the order: a harsh or lenient
bias, a spread, and a rate of random ratings; off-by-one errors cost less than wild ones. EM
alternates the posterior over each task's position with a MAP M-step that maximises every
worker's expected log-likelihood over a grid of (b, s, e) with priors b ~ N(0, 1),
log s ~ N(log 0.7, 1), e ~ Beta(1, 9) (exact on the grid, so it cannot diverge). Gold tasks are
clamped to their position. The answer is the posterior median position (it minimises the
expected distance on the ordered scale), the distribution is the posterior, the confidence
its mass on the answer, and a worker's reliability P(rating = truth) under their fitted model.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._kinds import KindAnswer, KindResult, TaskOutcome, index_ids, task_ids_with_gold
from ._numbers import normal_cdf

SUMMARY = "ordered-probit worker bias/spread + random ratings, Dawid-Skene EM (Lakshminarayanan & Teh 2013)"

_BIASES = np.linspace(-2.0, 2.0, 17)
_SPREADS = np.exp(np.linspace(np.log(0.2), np.log(4.0), 14))
_RANDOM = np.array([0.005, 0.03, 0.1, 0.25, 0.5])


def scale_size(config: dict, answers: list[KindAnswer], known: dict) -> int:
    scale = config.get("scale")
    if scale:
        return len(scale)
    values = [int(a.value) for a in answers] + [int(v) for v in known.values()]
    return max(values, default=1)


def positions(values, n: int, where: str) -> np.ndarray:
    """Ratings as 0-based positions; ValueError outside 1..n."""
    out = []
    for value in values:
        try:
            position = int(value)
        except (TypeError, ValueError):
            raise ValueError(f"{where}: {value!r} is not a position on the scale") from None
        if position != float(value) or not 1 <= position <= n:
            raise ValueError(f"{where}: {value!r} is not a position 1..{n}")
        out.append(position - 1)
    return np.asarray(out, dtype=np.int64)


def confusion_grid(n: int) -> tuple[np.ndarray, np.ndarray]:
    """(log P(l | k) for every grid point, shape (G, n, n); log prior of each grid point)."""
    b, s, e = np.meshgrid(_BIASES, _SPREADS, _RANDOM, indexing="ij")
    b, s, e = b.ravel(), s.ravel(), e.ravel()
    k = np.arange(n)[:, None]
    cuts = np.arange(n + 1)[None, :] - 0.5  # cut points between positions, in position units
    z = (cuts[None] - k[None] - b[:, None, None]) / s[:, None, None]
    cdf = normal_cdf(z)
    cdf[:, :, 0], cdf[:, :, -1] = 0.0, 1.0  # the ends take the open tails
    probit = np.diff(cdf, axis=2)
    confusion = (1 - e)[:, None, None] * probit + (e / n)[:, None, None]
    log_prior = (-0.5 * b ** 2 - 0.5 * (np.log(s) - np.log(0.7)) ** 2 + 8 * np.log1p(-e))
    return np.log(np.maximum(confusion, 1e-300)), log_prior


def fit_arrays(task: np.ndarray, worker: np.ndarray, rating: np.ndarray, n_tasks: int,
               n_workers: int, n: int, known: np.ndarray, *, n_iter: int = 50,
               tol: float = 1e-6):
    """(posterior (n_tasks, n), worker confusion (n_workers, n, n), class prior (n,))."""
    log_grid, log_grid_prior = confusion_grid(n)
    counts = np.zeros((n_tasks, n))
    np.add.at(counts, (task, rating), 1.0)
    posterior = (counts + 1e-3) / (counts + 1e-3).sum(axis=1, keepdims=True)
    gold = known >= 0
    posterior[gold] = np.eye(n)[known[gold]]
    choice = np.zeros(n_workers, dtype=np.int64)
    previous = -np.inf
    class_prior = np.full(n, 1.0 / n)
    for _ in range(max(int(n_iter), 1)):
        # M-step: expected (true, given) counts per worker, then the best grid point.
        expected = np.zeros((n_workers, n, n))
        np.add.at(expected, (worker, slice(None), rating), posterior[task])
        score = np.einsum("wkl,gkl->wg", expected, log_grid) + log_grid_prior
        choice = score.argmax(axis=1)
        class_prior = posterior.sum(axis=0) + 1.0
        class_prior /= class_prior.sum()
        # E-step.
        log_joint = np.tile(np.log(class_prior), (n_tasks, 1))
        np.add.at(log_joint, task, log_grid[choice[worker], :, rating])
        top = log_joint.max(axis=1, keepdims=True)
        posterior = np.exp(log_joint - top)
        norm = posterior.sum(axis=1, keepdims=True)
        posterior /= norm
        posterior[gold] = np.eye(n)[known[gold]]
        objective = float((np.log(norm) + top).sum() + log_grid_prior[choice].sum())
        if abs(objective - previous) <= tol * max(task.size, 1):
            break
        previous = objective
    return posterior, np.exp(log_grid[choice]), class_prior


def median_position(posterior: np.ndarray) -> np.ndarray:
    return (np.cumsum(posterior, axis=1) >= 0.5 - 1e-12).argmax(axis=1)


class Ratings(NamedTuple):
    """Answers as arrays: task and worker indexes, 0-based scale positions, and each task's
    gold position (-1: not gold)."""
    n: int  # the scale's size
    task: np.ndarray
    worker: np.ndarray
    rating: np.ndarray
    task_ids: list
    worker_ids: list
    known_index: np.ndarray


def encode(answers: list[KindAnswer], config: dict, known: dict) -> Ratings:
    """What every rating method starts from (this one and rating_median)."""
    n = scale_size(config, answers, known)
    task, _ = index_ids([a.task for a in answers])
    task_ids = task_ids_with_gold([a.task for a in answers], known)
    worker, worker_ids = index_ids([a.worker for a in answers])
    rating = positions([a.value for a in answers], n, "rating")
    known_index = np.full(len(task_ids), -1, dtype=np.int64)
    position = {t: i for i, t in enumerate(task_ids)}
    for t, p in zip(known, positions(list(known.values()), n, "gold rating")):
        known_index[position[t]] = p
    return Ratings(n, np.asarray(task, dtype=np.int64), np.asarray(worker, dtype=np.int64), rating,
                   task_ids, worker_ids, known_index)


def fit(answers: list[KindAnswer], config: dict, known: dict, warm_start: dict | None
        ) -> KindResult:
    r = encode(answers, config, known)
    posterior, confusion, class_prior = fit_arrays(r.task, r.worker, r.rating, len(r.task_ids),
                                                   len(r.worker_ids), r.n, r.known_index)
    return ordinal_result("ordinal", r.task_ids, r.worker_ids, posterior,
                          (np.diagonal(confusion, axis1=1, axis2=2) * class_prior).sum(axis=1),
                          {"class_prior": class_prior.tolist()})


def ordinal_result(method: str, task_ids: list, worker_ids: list, posterior: np.ndarray,
                   reliability: np.ndarray, params: dict) -> KindResult:
    """The median position of each task's distribution as its answer (1-based)."""
    answer = median_position(posterior)
    tasks = {t: TaskOutcome(int(answer[i]) + 1, float(posterior[i, answer[i]]),
                            {"distribution": {str(k + 1): float(p)
                                              for k, p in enumerate(posterior[i])}})
             for i, t in enumerate(task_ids)}
    workers = {w: float(np.clip(r, 0.0, 1.0)) for w, r in zip(worker_ids, reliability)}
    return KindResult(method, tasks, workers, None, params)
