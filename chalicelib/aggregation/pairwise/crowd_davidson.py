"""Crowd-BT with Davidson ties and a tie propensity per worker ("crowd_davidson").

Item ``i`` has a strength ``s_i``. Worker ``w`` sees the pair (i, j), d = s_i - s_j, through
Davidson's tie model (Davidson, "On Extending the Bradley-Terry Model to Accommodate Ties in
Paired Comparison Experiments", JASA 65, 1970), with the tie parameter the worker's own:

    D_i = e^(d/2) / Z,   D_j = e^(-d/2) / Z,   D_tie = e^(nu_w) / Z,   Z = e^(d/2) + e^(-d/2) + e^(nu_w)

and then, as in Crowd-BT (Chen, Bennett, Collins-Thompson & Horvitz, "Pairwise Ranking
Aggregation in a Crowdsourced Setting", WSDM 2013), reports the true direction with
probability ``eta_w`` and the reverse otherwise:

    P(w says i) = eta_w D_i + (1 - eta_w) D_j,   P(w says tie) = D_tie.

Bugakova, Fedorova, Gusev & Drutsa's noisy Bradley-Terry ("Aggregation of pairwise comparisons
with reduction of biases", 2019; crowd-kit's NoisyBT) gives each worker a skill and a
left/right bias and takes no ties. Here the skill is Crowd-BT's ``eta_w`` and the second worker
term is the tie propensity ``nu_w``, because ties are answers: a worker who calls nearly
everything a tie (large ``nu_w``) says little about how close two items are, while a tie from a
worker who rarely gives one pulls the two scores together. Priors: every item plays
``prior_strength`` virtual games (a win and a loss) against a virtual item of strength 0 (as in
:mod:`.crowd_bt`); ``eta_w`` ~ Beta(8, 2); ``nu_w`` ~ Normal(mean of all ``nu_w``, 1 /
``tie_precision``). EM: the E-step gives each decided answer the probability that it was
reported truthfully; the M-step sets ``eta_w`` in closed form, ``nu_w`` by a Newton step and
``s`` by Newton steps (dense Hessian up to Crowd-BT's ``DENSE_LIMIT`` items, minorise-maximise
steps beyond). Intervals: +- 1.96 standard errors from the inverse Hessian.

``prior_strength`` is not fixed: each project's own answers choose it from
``PRIOR_STRENGTHS`` by 5-fold held-out log-likelihood of the answers (ties included), so the
amount of shrinkage follows how much each project's comparisons say (25 shorter fits: about
ten times Crowd-BT's time, see bench/RESULTS.md). Gold tasks enter as
comparisons by a perfectly reliable worker, repeated ``gold_weight`` times. A worker's
reliability is ``eta_w``.
"""
from __future__ import annotations

import numpy as np

from .._kinds import TIE, KindAnswer, KindResult
from ._comparisons import Comparisons, build_result, comparisons_from
from . import crowd_bt

SUMMARY = ("Crowd-BT with Davidson ties and a tie propensity per worker, shrinkage chosen by "
           "held-out likelihood (Chen et al. 2013; Davidson 1970)")

PRIOR_STRENGTHS = (0.03, 0.1, 0.3, 1.0, 3.0)
FOLDS = 5
CV_ITERATIONS = 30  # EM iterations per held-out fit: the choice, not the final fit
ETA_PRIOR = (8.0, 2.0)


def _rows(data: Comparisons, gold_weight: float):
    """(first, second, outcome, worker, weight): outcome 1 = first won, 0 = tie; a decided
    answer has its winner first; gold rows have worker -1."""
    gold = [(data.left[i], data.right[i], data.known[t])
            for i, t in enumerate(data.task_ids) if t in data.known]
    first = [g[0] if g[2] in (TIE, data.item_ids[g[0]]) else g[1] for g in gold]
    second = [g[1] if f == g[0] else g[0] for f, g in zip(first, gold)]
    outcome = [0 if g[2] == TIE else 1 for g in gold]
    return (np.concatenate([data.winner, np.array(first, dtype=np.int64)]),
            np.concatenate([data.loser, np.array(second, dtype=np.int64)]),
            np.concatenate([(~data.tie).astype(float), np.array(outcome, dtype=float)]),
            np.concatenate([data.worker, np.full(len(gold), -1, dtype=np.int64)]),
            np.concatenate([np.ones(data.worker.size), np.full(len(gold), float(gold_weight))]))


def _davidson(d: np.ndarray, nu: np.ndarray):
    """(D_first, D_second, D_tie) for score gaps ``d``, computed stably."""
    top = np.maximum(np.abs(d) / 2, nu)
    first, second, tie = np.exp(d / 2 - top), np.exp(-d / 2 - top), np.exp(nu - top)
    total = first + second + tie
    return first / total, second / total, tie / total


def _answer_probability(score, nu_w, eta, first, second, outcome, worker):
    """Each row's probability under the model (the held-out criterion)."""
    row_nu = np.where(worker >= 0, nu_w[np.maximum(worker, 0)], nu_w.mean())
    row_eta = np.where(worker >= 0, eta[np.maximum(worker, 0)], 1.0)
    d_first, d_second, d_tie = _davidson(score[first] - score[second], row_nu)
    return np.where(outcome > 0, row_eta * d_first + (1 - row_eta) * d_second, d_tie)


def fit_arrays(n_items: int, n_workers: int, first, second, outcome, worker, weight, *,
               prior_strength: float, tie_precision: float = 1.0, n_iter: int = 100,
               tol: float = 1e-6, newton_steps: int = 2):
    """EM on the rows; returns (score, Hessian of the negative log posterior, nu_w, eta)."""
    decided, rated = outcome > 0, (outcome > 0) & (worker >= 0)
    worker_row = np.maximum(worker, 0)
    tie_rate = (np.sum(weight * (1 - outcome)) + 1) / (np.sum(weight) + 2)
    nu_w = np.full(n_workers, np.log(2 * tie_rate / (1 - tie_rate)))  # D_tie at d = 0
    eta = np.full(n_workers, (ETA_PRIOR[0] - 1) / (sum(ETA_PRIOR) - 2))
    score, hessian = np.zeros(n_items), np.ones(n_items)
    for _ in range(max(int(n_iter), 1)):
        row_nu = np.where(worker >= 0, nu_w[worker_row], nu_w.mean() if n_workers else 0.0)
        row_eta = np.where(worker >= 0, eta[worker_row], 1.0) if n_workers else np.ones(worker.size)
        d_first, d_second, _ = _davidson(score[first] - score[second], row_nu)
        honest = row_eta * d_first
        truthful = np.where(decided, honest / np.maximum(honest + (1 - row_eta) * d_second,
                                                         1e-300), 0.5)
        new_score = score
        for _ in range(newton_steps):
            d_first, d_second, _ = _davidson(new_score[first] - new_score[second], row_nu)
            # d/dd of the expected log-likelihood: (2 t - 1 - (D_first - D_second)) / 2, where
            # 2 t - 1 is 0 for a tie; its curvature is the variance of +-1/2 under (D_f, D_s, D_t).
            residual = weight * (np.where(decided, 2 * truthful - 1, 0.0) - (d_first - d_second)) / 2
            curvature = np.where(first != second, weight * ((d_first + d_second)
                                                           - (d_first - d_second) ** 2) / 4, 0.0)
            gradient = (np.bincount(first, weights=residual, minlength=n_items)
                        - np.bincount(second, weights=residual, minlength=n_items)
                        - prior_strength * np.tanh(0.5 * new_score))
            s = 0.5 * (1.0 + np.tanh(0.5 * new_score))
            diagonal = (np.bincount(first, weights=curvature, minlength=n_items)
                        + np.bincount(second, weights=curvature, minlength=n_items)
                        + prior_strength * 2 * s * (1 - s))
            if n_items <= crowd_bt.DENSE_LIMIT:  # its memory bound
                hessian = np.zeros((n_items, n_items))
                np.add.at(hessian, (first, second), -curvature)
                hessian += hessian.T
                hessian[np.diag_indices(n_items)] = diagonal
                step = np.linalg.solve(hessian, gradient)
            else:
                hessian = diagonal
                step = gradient / (2 * diagonal)
            new_score = new_score + np.clip(step, -2.0, 2.0)
        if n_workers:
            _, _, d_tie = _davidson(new_score[first] - new_score[second], row_nu)
            centre = nu_w.mean()
            own = worker >= 0
            slope = np.bincount(worker_row[own], weights=(weight * ((1 - outcome) - d_tie))[own],
                                minlength=n_workers) - tie_precision * (nu_w - centre)
            bend = np.bincount(worker_row[own], weights=(weight * d_tie * (1 - d_tie))[own],
                               minlength=n_workers) + tie_precision
            nu_w = nu_w + np.clip(slope / bend, -2.0, 2.0)
            honest_weight = np.bincount(worker_row[rated], weights=(weight * truthful)[rated],
                                        minlength=n_workers)
            total = np.bincount(worker_row[rated], weights=weight[rated], minlength=n_workers)
            eta = (honest_weight + ETA_PRIOR[0] - 1) / (total + sum(ETA_PRIOR) - 2)
        moved = float(np.abs(new_score - score).max()) if n_items else 0.0
        score = new_score
        if moved < tol:
            break
    return score, hessian, nu_w, eta


def choose_prior_strength(n_items: int, n_workers: int, rows, folds: int = FOLDS,
                          seed: int = 0) -> tuple[float, dict]:
    """The ``PRIOR_STRENGTHS`` entry with the best mean held-out log-likelihood per answer
    (answers split at random into ``folds``; gold rows always train)."""
    first, second, outcome, worker, weight = rows
    fold = np.random.default_rng(seed).integers(0, folds, worker.size)
    fold[worker < 0] = -1
    if (worker >= 0).sum() < 2 * folds:
        return 1.0, {}
    held_out = {}
    for strength in PRIOR_STRENGTHS:
        total = 0.0
        for k in range(folds):
            train, test = fold != k, fold == k
            score, _, nu_w, eta = fit_arrays(
                n_items, n_workers, first[train], second[train], outcome[train], worker[train],
                weight[train], prior_strength=strength, n_iter=CV_ITERATIONS)
            p = _answer_probability(score, nu_w, eta, first[test], second[test], outcome[test],
                                    worker[test])
            total += float(np.log(np.maximum(p, 1e-300)).sum())
        held_out[strength] = total / max(int((worker >= 0).sum()), 1)
    return max(held_out, key=held_out.get), held_out


def fit(answers: list[KindAnswer], config: dict, known: dict, warm_start: dict | None,
        gold_weight: float = 3.0) -> KindResult:
    data = comparisons_from(answers, config, known)
    n_items, n_workers = len(data.item_ids), len(data.worker_ids)
    rows = _rows(data, gold_weight)
    strength, held_out = choose_prior_strength(n_items, n_workers, rows)
    score, hessian, nu_w, eta = fit_arrays(n_items, n_workers, *rows, prior_strength=strength)
    sd = np.sqrt(crowd_bt.score_variance(hessian))
    params = {"workers": list(data.worker_ids), "eta": eta.tolist(), "tie_propensity": nu_w.tolist(),
              "prior_strength": strength,
              "held_out_log_likelihood": {str(k): v for k, v in held_out.items()}}
    return build_result(data, "crowd_davidson", score, sd, eta, params,
                        bool(config.get("allow_tie", True)))
