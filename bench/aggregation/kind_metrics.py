"""Scores of the shared kind datasets, as their READMEs define them (numpy only)."""
from __future__ import annotations

import re

import numpy as np


def kendall_tau_b(x, y) -> float:
    """Kendall's tau-b of two equally long sequences (ties in either count as in scipy)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    i, j = np.triu_indices(x.size, k=1)
    dx, dy = np.sign(x[i] - x[j]), np.sign(y[i] - y[j])
    concordant_minus_discordant = float((dx * dy).sum())
    denominator = np.sqrt(float((dx != 0).sum()) * float((dy != 0).sum()))
    return concordant_minus_discordant / denominator if denominator else float("nan")


def ranking_tau(score: dict, gold_rank: dict, group=lambda item: "") -> float:
    """Mean over groups of tau-b between -score and the gold rank (items with both)."""
    groups: dict = {}
    for item, rank in gold_rank.items():
        if item in score:
            groups.setdefault(group(item), []).append((score[item], rank))
    taus = [kendall_tau_b([-s for s, _ in rows], [r for _, r in rows])
            for rows in groups.values() if len(rows) > 1]
    return float(np.nanmean(taus))


_WORD = re.compile(r"[^\w\s']")


def wer_tokens(text: str) -> list[str]:
    """The README's WER normalisation: lower-case, punctuation removed except apostrophes."""
    return _WORD.sub(" ", text.lower()).split()


def corpus_wer(hypotheses: dict, references: dict) -> float:
    from chalicelib.aggregation.texts._words import edit_distances

    vocabulary: dict = {}
    ids = lambda text: np.array([vocabulary.setdefault(w, len(vocabulary))  # noqa: E731
                                 for w in wer_tokens(text)], dtype=np.int64)
    tasks = list(references)
    hyp = [ids(hypotheses.get(t, "")) for t in tasks]
    ref = [ids(references[t]) for t in tasks]
    return float(edit_distances(hyp, ref).sum() / max(sum(r.size for r in ref), 1))


def box_f1(predicted: list[dict], gold: list[dict], threshold: float = 0.5) -> float:
    """The README's per-image F1: greedy one-to-one matching by IoU, a match if IoU >= 0.5."""
    if not predicted and not gold:
        return 1.0
    as_array = lambda boxes: np.array([[b["x1"], b["y1"], b["x2"], b["y2"]]  # noqa: E731
                                       for b in boxes], dtype=float).reshape(-1, 4)
    from chalicelib.aggregation.boxes._boxes import greedy_matches, iou_matrix

    matches = len(greedy_matches(iou_matrix(as_array(predicted), as_array(gold)), threshold))
    return 2 * matches / (len(predicted) + len(gold))


def f1(predicted: np.ndarray, truth: np.ndarray) -> float:
    tp = float((predicted & truth).sum())
    denominator = float(predicted.sum() + truth.sum())
    return 2 * tp / denominator if denominator else 1.0
