"""One entry point for every task kind: string ids and answer values in, results out.

Interface (stable; the API, publishing, gold and replay code builds on it)::

    from chalicelib.aggregation.by_kind import (KINDS, TIE, KindAnswer, TaskOutcome, KindResult,
        aggregate_kind, default_method, methods, method_summaries, next_pairs)

    result = aggregate_kind(kind, answers, config, known=None, method=None, warm_start=None)

``kind`` is one of :data:`KINDS`; ``answers`` a list of :class:`KindAnswer` (worker id, task id,
value); ``config`` the project's answer-type dict (its ``kind`` key is ignored here), e.g.
``{"labels": [...]}`` (single choice), ``{"labels": [...], "min_selected": 0, "max_selected": 3}``,
``{"min": 0, "max": 100, "decimals": 1}`` (number), ``{"scale": ["bad", "ok", "good"]}``,
``{"max_length": 2000, "normalize": {"nfc": true, "case": true, "whitespace": true}}`` (text),
``{"allow_tie": true}`` (pairwise), ``{"labels": [...], "min_boxes": 0, "max_boxes": 50,
"iou": 0.5}`` (boxes). Every key is optional. ``known`` maps gold task ids to their true value
(same form as answer values; pairwise: the winning item id or ``"tie"``): gold tasks keep their
known answer (confidence 1) and anchor the worker parameters. ``method`` defaults to
:func:`default_method`; ``warm_start`` is a previous result's ``params`` for the same method
(ignored when it does not fit). Raises ``ValueError`` for an unknown kind or method, or a value
that does not have the kind's form (the API validates answers before storing them, so this is
a programming error there).

Answer values by kind (what :attr:`KindAnswer.value` holds, and :attr:`TaskOutcome.answer`):

=================  ===============================================================================
single_choice      a label (str)
multiple_choice    a list of labels (str); the result respects ``min_selected``/``max_selected``
number             a float; the result is rounded to ``decimals`` and clipped to ``min``/``max``
rating             an int, the position on the scale, 1..len(scale)
text               a str
pairwise           ``{"left": item, "right": item, "winner": item or "tie"}``; the task's answer
                   is the winner (an item id) or ``"tie"``
boxes              a list of ``{"x1","y1","x2","y2"}`` floats, plus ``"label"`` (str) when the
                   project has labels (absent or None means the project's only label)
=================  ===============================================================================

:class:`TaskOutcome` ``details`` by kind (JSON-able):

=================  ===============================================================================
single_choice      ``{"probabilities": {label: p}}``
multiple_choice    ``{"probabilities": {label: p}}`` (P(label belongs to the set), every label)
number             ``{"interval": [low, high]}`` (95 % credible interval of the true value)
rating             ``{"distribution": {"1": p, ..., "n": p}}`` (keys are the scale positions)
text               ``{"agreement": a}`` (mean word-level similarity 1 - WER of the answers to the
                   result, in [0, 1])
pairwise           ``{"probabilities": {left: p, right: p}}`` (P(item is the better one));
                   a tie when ties are allowed and most reliability-weighted answers said tie
boxes              ``{"box_confidences": [c, ...]}`` (one per result box, same order)
=================  ===============================================================================

``confidence`` is the probability of the chosen answer where the model gives one (single
choice: of the label; multiple choice: of the least certain label decision; rating: of the
chosen position; pairwise: of the winner, or the reliability-weighted share of tie answers for
a tie), for number the probability that the truth lies within the tolerance of the answer
(``config["tolerance"]``, else 2.5 % of max - min), for text the agreement, for boxes the mean
box confidence (1.0 for an empty result). Gold tasks have confidence 1.

Methods per kind (default first): single_choice ``ds`` and the other classification methods;
multiple_choice ``label_ds``, ``label_vote``; number ``bias_variance``, ``mean``, ``median``;
rating ``ordinal``, ``median``; text ``rover``, ``weighted_medoid``, ``medoid``; pairwise
``crowd_davidson``, ``crowd_bt``, ``bt``, ``win_rate``; boxes ``box_clusters``, ``medoid``.

:attr:`KindResult.workers` maps worker id -> reliability in [0, 1], 1 = perfect, by kind:

=================  ===============================================================================
single_choice      P(the worker's answer is correct) under the fitted model
multiple_choice    the worker's balanced accuracy, mean over labels of (sensitivity +
                   specificity) / 2 (0.5 = answers at random)
number             P(an answer of the worker lies within the tolerance of the truth): tolerance =
                   2.5 % of max - min when both bounds are set, else of the answers' spread
rating             P(the worker's rating equals the true one)
text               1 - the worker's mean word error rate against the results (clipped at 0)
pairwise           P(the worker states the true preference) (Crowd-BT's eta; 0.5 = coin flip)
boxes              the worker's F1 against the result boxes at the project's IoU threshold
=================  ===============================================================================

:attr:`KindResult.ranking` is None except for pairwise: one entry per item,
``{"item", "score", "low", "high", "rank"}``, best first (rank 1 = best; equal ranks share the
smaller one); score is the Bradley-Terry log-strength, low/high its 95 % interval.
:func:`next_pairs` picks, from candidate pairs, those whose order the ranking is least sure of.

This module imports numpy: the API function must not import it (``import app`` stays free
of numpy); it runs in the aggregator only.
"""
from __future__ import annotations

from typing import Any, Callable

from ._kinds import KINDS, TIE, KindAnswer, KindResult, TaskOutcome

# kind -> method name -> fit(answers, config, known, warm_start) -> KindResult;
# filled in by _register below, the first entry of each kind is its default.
_METHODS: dict[str, dict[str, Callable[..., KindResult]]] = {kind: {} for kind in KINDS}
_SUMMARIES: dict[str, dict[str, str]] = {kind: {} for kind in KINDS}


def _register(kind: str, name: str, fit: Callable[..., KindResult], summary: str) -> None:
    _METHODS[kind][name] = fit
    _SUMMARIES[kind][name] = summary


def _register_all() -> None:
    from .classification import DEFAULT_METHOD, METHOD_SUMMARIES
    from .classification.single_choice import FITS

    from .boxes import box_clusters, medoid as box_medoid
    from .multilabel import label_ds, label_vote
    from .numeric import bias_variance, mean, median, ordinal, rating_median
    from .pairwise import bradley_terry, crowd_bt, crowd_davidson, win_rate
    from .texts import medoid as text_medoid, rover, weighted_medoid

    for name in [DEFAULT_METHOD] + [m for m in FITS if m != DEFAULT_METHOD]:
        _register("single_choice", name, FITS[name], METHOD_SUMMARIES[name])
    for kind, modules in {  # the first of each kind is its default
        "multiple_choice": {"label_ds": label_ds, "label_vote": label_vote},
        "number": {"bias_variance": bias_variance, "mean": mean, "median": median},
        "rating": {"ordinal": ordinal, "median": rating_median},
        "text": {"rover": rover, "weighted_medoid": weighted_medoid, "medoid": text_medoid},
        "pairwise": {"crowd_davidson": crowd_davidson, "crowd_bt": crowd_bt, "bt": bradley_terry,
                     "win_rate": win_rate},
        "boxes": {"box_clusters": box_clusters, "medoid": box_medoid},
    }.items():
        for name, module in modules.items():
            _register(kind, name, module.fit, module.SUMMARY)


def default_method(kind: str) -> str:
    """The method :func:`aggregate_kind` uses when none is named."""
    return next(iter(_methods_of(kind)))


def methods(kind: str) -> list[str]:
    """The methods available for a kind, the default first."""
    return list(_methods_of(kind))


def method_summaries(kind: str) -> dict[str, str]:
    """Method name -> one-line description (for help texts)."""
    _methods_of(kind)
    return dict(_SUMMARIES[kind])


def _methods_of(kind: str) -> dict[str, Callable[..., KindResult]]:
    if kind not in _METHODS:
        raise ValueError(f"unknown kind {kind!r}; choose one of {', '.join(KINDS)}")
    if not _METHODS[kind]:
        raise ValueError(f"no aggregation method for kind {kind!r} yet")
    return _METHODS[kind]


def aggregate_kind(kind: str, answers: list[KindAnswer], config: dict | None = None,
                   known: dict[str, Any] | None = None, method: str | None = None,
                   warm_start: dict | None = None) -> KindResult:
    """Aggregate the answers of one project; see the module docstring."""
    available = _methods_of(kind)
    method = method or default_method(kind)
    if method not in available:
        raise ValueError(f"unknown method {method!r} for {kind}; choose one of "
                         f"{', '.join(available)}")
    fit = available[method]
    return fit(list(answers), dict(config or {}), dict(known or {}), warm_start or None)


def next_pairs(result: KindResult, candidate_pairs: list[tuple[str, str]], k: int
               ) -> list[tuple[str, str]]:
    """The ``k`` candidate pairs whose order the ranking is least certain of, most uncertain
    first (the gap in score over its standard error, smallest first; unseen items first)."""
    from .pairwise import least_certain_pairs

    return least_certain_pairs(result, candidate_pairs, k)


_register_all()

__all__ = ["KINDS", "TIE", "KindAnswer", "TaskOutcome", "KindResult", "aggregate_kind",
           "default_method", "methods", "method_summaries", "next_pairs"]
