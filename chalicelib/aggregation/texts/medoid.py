"""Medoid ("medoid"): the baseline of the ``text`` kind.

The answer with the smallest summed word edit distance (over the longer length) to the task's
other answers, every worker counting the same (the selection baseline of e.g. Braylan & Lease,
WWW 2020). A worker's reliability is their answers' mean similarity to the other answers.
"""
from __future__ import annotations

from .._kinds import KindAnswer, KindResult
from ._words import texts_from
from .weighted_medoid import result_from_choice, select

SUMMARY = "medoid: the answer closest to the others, unweighted (baseline)"


def fit(answers: list[KindAnswer], config: dict, known: dict, warm_start: dict | None
        ) -> KindResult:
    texts = texts_from(answers, config, known)
    chosen, reliability = select(texts, n_iter=1)
    return result_from_choice(texts, "medoid", chosen, reliability)
