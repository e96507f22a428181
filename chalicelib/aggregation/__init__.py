"""Truth inference: turn noisy crowd answers into results, confidences and worker scores.

Pure numpy (no scipy, no AWS, no pandas); imported only by the aggregator, never by the API
function. One method per module, grouped by task kind as crowd-kit does:

- ``classification/`` single choice (the array interface below: Dawid-Skene and friends),
- ``multilabel/`` multiple choice, ``numeric/`` numbers and ratings, ``texts/`` free text,
  ``pairwise/`` comparisons, ``boxes/`` bounding boxes,

all behind :func:`aggregate_kind` (module :mod:`.by_kind`, whose docstring is the interface).
The single-choice array interface stays available as before::

    from chalicelib.aggregation import aggregate, encode, METHODS, DEFAULT_METHOD
"""
from __future__ import annotations

from .by_kind import (KINDS, TIE, KindAnswer, KindResult, TaskOutcome, aggregate_kind,
                      default_method, method_summaries, methods, next_pairs)
from .classification import (DEFAULT_METHOD, METHOD_SUMMARIES, METHODS, UNKNOWN,
                             AggregationResult, EncodedAnswers, aggregate, encode, encode_known)

__all__ = [
    "aggregate", "AggregationResult", "METHODS", "METHOD_SUMMARIES", "DEFAULT_METHOD",
    "encode", "encode_known", "EncodedAnswers", "UNKNOWN",
    "KINDS", "TIE", "KindAnswer", "KindResult", "TaskOutcome", "aggregate_kind",
    "default_method", "methods", "method_summaries", "next_pairs",
]
