"""Task kinds: what an answer looks like, how it is checked, compared with gold and aggregated.

One module per kind, each a pydantic model (the project's answer type) implementing
chalicelib.kinds.base.Kind: single_choice, multiple_choice, number, rating, text, pairwise,
boxes. A new kind is one module here, its member in chalicelib.schemas.answers.AnswerType,
and its aggregation methods in chalicelib.aggregation.by_kind.

Nothing here imports numpy: `aggregate` imports the aggregation (numpy) when it is called,
which only the aggregator Lambda does.
"""
from chalicelib.kinds.base import Kind
from chalicelib.kinds.boxes import Boxes
from chalicelib.kinds.multiple_choice import MultipleChoice
from chalicelib.kinds.number import Number
from chalicelib.kinds.pairwise import Pairwise
from chalicelib.kinds.rating import Rating
from chalicelib.kinds.single_choice import SingleChoice
from chalicelib.kinds.text import Text

KINDS: dict[str, type[Kind]] = {model.model_fields["kind"].default: model for model in (
    SingleChoice, MultipleChoice, Number, Rating, Text, Pairwise, Boxes)}


# The aggregation methods of each kind, the default first: the names of
# chalicelib.aggregation.by_kind.methods(kind), kept here (numpy-free) so that the API can
# validate a project's `aggregation.method` without importing the aggregation;
# tests/test_aggregation_settings.py checks that both lists agree.
AGGREGATION_METHODS: dict[str, tuple[str, ...]] = {
    "single_choice": ("ds", "mv", "wawa", "gold_weighted", "one_coin", "mace", "glad", "ibcc"),
    "multiple_choice": ("label_ds", "label_vote"),
    "number": ("bias_variance", "mean", "median"),
    "rating": ("ordinal", "median"),
    "text": ("rover", "weighted_medoid", "medoid"),
    "pairwise": ("crowd_davidson", "crowd_bt", "bt", "win_rate"),
    "boxes": ("box_clusters", "medoid"),
}


def aggregate(answer_type: Kind, answers: list[tuple[str, str, object]], known: dict, method: str | None = None):
    """Aggregate one project's answers of a kind other than single choice: `answers` as
    (worker, task, value) with pairwise values as {"left", "right", "winner"}; `known` the gold
    answers by task. Returns chalicelib.aggregation.by_kind's KindResult."""
    from chalicelib.aggregation import by_kind

    return by_kind.aggregate_kind(answer_type.kind, [by_kind.KindAnswer(w, t, v) for w, t, v in answers],
                                  answer_type.aggregation_config(), known or None, method=method)


__all__ = ["AGGREGATION_METHODS", "KINDS", "Kind", "aggregate", "Boxes", "MultipleChoice", "Number", "Pairwise", "Rating",
           "SingleChoice", "Text"]
