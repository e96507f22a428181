"""Win rate ("win_rate"): the baseline of the ``pairwise`` kind.

An item's score is its share of wins over all its comparisons, a tie counting half (Borda-like
counting; e.g. Shah & Wainwright, "Simple, Robust and Optimal Ranking from Pairwise
Comparisons", JMLR 18, 2018). Interval: +- 1.96 binomial standard errors. Worker
reliability: the worker's smoothed share of answers agreeing with the resulting order,
(agree + 0.5) / (answers + 1), ties counting half.
"""
from __future__ import annotations

import numpy as np

from .._kinds import KindAnswer, KindResult
from ._comparisons import Comparisons, build_result, comparisons_from

SUMMARY = "win rate per item, a tie = half a win (baseline)"


def agreement_with_order(data: Comparisons, score: np.ndarray) -> np.ndarray:
    n_workers = len(data.worker_ids)
    agree = np.where(data.tie, 0.5, (score[data.winner] > score[data.loser]).astype(float))
    agree = np.where(~data.tie & (score[data.winner] == score[data.loser]), 0.5, agree)
    return ((np.bincount(data.worker, weights=agree, minlength=n_workers) + 0.5)
            / (np.bincount(data.worker, minlength=n_workers) + 1.0))


def fit(answers: list[KindAnswer], config: dict, known: dict, warm_start: dict | None
        ) -> KindResult:
    data = comparisons_from(answers, config, known)
    n = len(data.item_ids)
    credit = np.where(data.tie, 0.5, 1.0)
    wins = (np.bincount(data.winner, weights=credit, minlength=n)
            + np.bincount(data.loser, weights=np.where(data.tie, 0.5, 0.0), minlength=n))
    games = np.bincount(data.winner, minlength=n) + np.bincount(data.loser, minlength=n)
    rate = np.where(games > 0, wins / np.maximum(games, 1), 0.5)
    sd = np.sqrt(rate * (1 - rate) / np.maximum(games, 1)) + (games == 0) * 0.5
    return build_result(data, "win_rate", rate, sd, agreement_with_order(data, rate), {},
                        bool(config.get("allow_tie", True)))
