"""Bradley-Terry ("bt"): every worker equally trusted.

Bradley & Terry, "Rank Analysis of Incomplete Block Designs: I. The Method of Paired
Comparisons", Biometrika 39, 1952. Model: P(i beats j) = sigmoid(s_i - s_j). Fitted by Newton's
method with the same virtual-item prior, tie handling and intervals as :mod:`.crowd_bt` (Crowd-BT
with every eta fixed at 1). Worker reliability: the worker's smoothed share of answers that
agree with the fitted order, (agree + 0.5) / (answers + 1), ties counting half.
"""
from __future__ import annotations


from .._kinds import KindAnswer, KindResult
from ._comparisons import build_result, comparisons_from
from .crowd_bt import fit_arrays
from .win_rate import agreement_with_order

SUMMARY = "Bradley-Terry, all workers equal (Bradley & Terry 1952)"


def fit(answers: list[KindAnswer], config: dict, known: dict, warm_start: dict | None
        ) -> KindResult:
    data = comparisons_from(answers, config, known)
    score, sd, _ = fit_arrays(data, learn_reliability=False)
    return build_result(data, "bt", score, sd, agreement_with_order(data, score), {},
                        bool(config.get("allow_tie", True)))
