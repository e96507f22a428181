"""Crowd-BT: Bradley-Terry with a reliability per worker ("crowd_bt").

Chen, Bennett, Collins-Thompson & Horvitz, "Pairwise Ranking Aggregation in a Crowdsourced
Setting", WSDM 2013. Model: item ``i`` has a strength ``s_i``; worker ``w`` reports the true
Bradley-Terry preference with probability ``eta_w`` and the reverse otherwise,

    P(w says i beats j) = eta_w sigmoid(s_i - s_j) + (1 - eta_w) sigmoid(s_j - s_i),

so a careless worker (eta near 1/2) carries no weight and an adversarial one (eta < 1/2) is
read backwards. As in the paper, every item plays ``prior_strength`` virtual games (a win and
a loss) against a virtual item of strength 0, which keeps scores finite for unbeaten items and
comparable across disconnected groups; ``eta_w`` has a Beta(``eta_prior``) prior (mean 0.8,
worth 10 answers). A tie (when the project allows them) counts as half a win each way for
the scores (a common reading of Davidson 1970's tie model), and, having no direction, it is
never read as a reversed report and does not enter ``eta_w``. EM:
the E-step gives each answer the probability that its worker reported truthfully; the M-step
sets ``eta_w`` in closed form and ``s`` by Newton steps on the soft-labelled logistic
likelihood (minorise-maximise steps beyond 1,500 items). Intervals are +- 1.96 standard
errors from the inverse Hessian (Laplace). Gold
tasks (a known winner) enter as comparisons by a perfectly reliable worker, repeated
``gold_weight`` times. A worker's reliability is ``eta_w``.
"""
from __future__ import annotations

import numpy as np

from .._kinds import TIE, KindAnswer, KindResult
from ._comparisons import Comparisons, build_result, comparisons_from

SUMMARY = "Crowd-BT: Bradley-Terry with per-worker reliability, EM (Chen et al. 2013)"


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def observations(data: Comparisons, gold_weight: float):
    """(winner, loser, weight, worker, is_tie) with each tie split into two halves; gold rows
    have worker -1."""
    winner = np.concatenate([data.winner, data.loser[data.tie]])
    loser = np.concatenate([data.loser, data.winner[data.tie]])
    weight = np.concatenate([np.where(data.tie, 0.5, 1.0), np.full(int(data.tie.sum()), 0.5)])
    worker = np.concatenate([data.worker, data.worker[data.tie]])
    gold_rows = [(data.left[i], data.right[i], data.known[t])
                 for i, t in enumerate(data.task_ids) if t in data.known]
    item_index = {item: i for i, item in enumerate(data.item_ids)}
    extra_w, extra_l, extra_c = [], [], []
    for left, right, value in gold_rows:
        if value == TIE:
            extra_w += [left, right]
            extra_l += [right, left]
            extra_c += [0.5 * gold_weight] * 2
        else:
            won = item_index[value]
            extra_w.append(won)
            extra_l.append(right if won == left else left)
            extra_c.append(gold_weight)
    return (np.concatenate([winner, np.array(extra_w, dtype=np.int64)]),
            np.concatenate([loser, np.array(extra_l, dtype=np.int64)]),
            np.concatenate([weight, np.array(extra_c, dtype=float)]),
            np.concatenate([worker, np.full(len(extra_w), -1, dtype=np.int64)]),
            np.concatenate([data.tie, data.tie[data.tie], np.zeros(len(extra_w), dtype=bool)]))


DENSE_LIMIT = 1500  # items up to which Newton uses the full Hessian (1500^2 floats = 18 MB)


def fit_scores(n_items: int, winner, loser, weight, target, prior_strength: float,
               score: np.ndarray, newton_steps: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Newton steps on sum weight [target log sig(d) + (1 - target) log sig(-d)] + prior.
    Returns (scores, the Hessian of the negative log posterior: dense, or its diagonal).

    Beyond ``DENSE_LIMIT`` items the full Hessian would not fit: each step is then a
    minorise-maximise step with twice the Hessian's diagonal (which bounds the Hessian of a
    comparison graph's Laplacian, so every step still climbs), and the variances are the
    inverse diagonal (slightly too narrow intervals)."""
    curvature_matrix = np.ones(n_items)
    for _ in range(newton_steps):
        d = score[winner] - score[loser]
        p = _sigmoid(d)
        residual = weight * (target - p)
        gradient = (np.bincount(winner, weights=residual, minlength=n_items)
                    - np.bincount(loser, weights=residual, minlength=n_items)
                    - prior_strength * np.tanh(0.5 * score))
        # An item compared with itself moves nothing and must not look better known.
        curvature = np.where(winner != loser, weight * p * (1 - p), 0.0)
        s = _sigmoid(score)
        diagonal = (np.bincount(winner, weights=curvature, minlength=n_items)
                    + np.bincount(loser, weights=curvature, minlength=n_items)
                    + prior_strength * 2 * s * (1 - s))
        if n_items <= DENSE_LIMIT:
            hessian = np.zeros((n_items, n_items))
            np.add.at(hessian, (winner, loser), -curvature)
            hessian += hessian.T
            hessian[np.diag_indices(n_items)] = diagonal
            step = np.linalg.solve(hessian, gradient)
            curvature_matrix = hessian
        else:
            step = gradient / (2 * diagonal)
            curvature_matrix = diagonal
        score = score + np.clip(step, -2.0, 2.0)  # damped: the first steps from 0 can overshoot
    return score, curvature_matrix


def score_variance(curvature_matrix: np.ndarray) -> np.ndarray:
    """Laplace variances: the inverse Hessian's diagonal (inverse diagonal beyond DENSE_LIMIT)."""
    if curvature_matrix.ndim == 2:
        return np.clip(np.diag(np.linalg.inv(curvature_matrix)), 0.0, None)
    return 1.0 / curvature_matrix


def fit_arrays(data: Comparisons, *, learn_reliability: bool = True, prior_strength: float = 1.0,
               eta_prior: tuple[float, float] = (8.0, 2.0), gold_weight: float = 3.0,
               n_iter: int = 100, tol: float = 1e-6):
    n_items, n_workers = len(data.item_ids), len(data.worker_ids)
    winner, loser, weight, worker, tie = observations(data, gold_weight)
    eta = np.full(n_workers, eta_prior[0] / sum(eta_prior)) if learn_reliability else np.ones(n_workers)
    score = np.zeros(n_items)
    curvature_matrix = np.ones(n_items)
    is_gold = worker < 0
    # A tie has no direction, so it cannot be a reversed report: it pulls the two scores
    # together whoever gave it, and says nothing about the worker's eta.
    trusted = is_gold | tie
    rated = ~trusted
    for _ in range(max(int(n_iter), 1)):
        eta_row = np.where(trusted, 1.0, eta[np.maximum(worker, 0)]) if worker.size else eta[:0]
        p = _sigmoid(score[winner] - score[loser])
        honest = eta_row * p
        target = honest / np.maximum(honest + (1 - eta_row) * (1 - p), 1e-300)
        new_score, curvature_matrix = fit_scores(n_items, winner, loser, weight, target, prior_strength,
                                         score)
        if learn_reliability and n_workers:
            honest_weight = np.bincount(worker[rated], weights=(weight * target)[rated],
                                        minlength=n_workers)
            total = np.bincount(worker[rated], weights=weight[rated], minlength=n_workers)
            a, b = eta_prior
            eta = (honest_weight + a - 1) / (total + a + b - 2)
        moved = float(np.abs(new_score - score).max()) if n_items else 0.0
        score = new_score
        if moved < tol:
            break
    return score, np.sqrt(score_variance(curvature_matrix)), eta


def fit(answers: list[KindAnswer], config: dict, known: dict, warm_start: dict | None,
        **params) -> KindResult:
    data = comparisons_from(answers, config, known)
    score, sd, eta = fit_arrays(data, **params)
    return build_result(data, "crowd_bt", score, sd, eta, {"workers": list(data.worker_ids),
                                                            "eta": eta.tolist()},
                        bool(config.get("allow_tie", True)))
