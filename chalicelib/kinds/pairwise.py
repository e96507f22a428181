"""pairwise: which of two items is better (more relevant, more similar, heavier), or a tie.

A task shows two items: its payload has `left` and `right`, each an item id (a string) or an
object with an `id` and what to display ({"id": "P1", "image_url": ...}). Answer: the id of
the better item, or "tie" when the project allows ties. Gold: the same winner. Reliability:
how often the worker names the winner the published ranking gives (Crowd-BT, Chen et al.
2013, estimates it jointly with the scores and each worker's propensity to say tie:
chalicelib.aggregation.by_kind). Result per task:
the winner and its probability; per item, across the project: a score, an interval and a rank,
published as ranking.jsonl and ranking.csv. With adaptive overlap, pairs whose winner is still
uncertain get more answers and confident ones stop: work goes where the ranking is least sure.
"""
from typing import Any, ClassVar, Literal

from pydantic import Field

from chalicelib.errors import BadRequest
from chalicelib.kinds.base import Kind, invalid

TIE = "tie"
RANKING_COLUMNS = ["item", "score", "low", "high", "rank"]


def item_id(side: Any) -> str | None:
    """An item's id from the payload's `left` or `right`: the string, or the object's `id`."""
    value = side.get("id") if isinstance(side, dict) else side
    return value if isinstance(value, str) and value else None


def pair(payload: dict | None) -> tuple[str | None, str | None]:
    payload = payload or {}
    return item_id(payload.get("left")), item_id(payload.get("right"))


class Pairwise(Kind):
    kind: Literal["pairwise"] = "pairwise"
    allow_tie: bool = Field(False, description='Whether a worker may answer "tie" (equally good)')

    needs_payload: ClassVar[bool] = True
    result_columns: ClassVar[tuple[str, ...]] = ("p_left", "p_right")

    def check_payload(self, payload: dict) -> None:
        left, right = pair(payload)
        if left is None or right is None:
            raise BadRequest('A pairwise task\'s payload needs "left" and "right": item ids, or objects '
                             'with an "id" and what to display.', code="invalid_payload")
        if left == right or TIE in (left, right):
            raise BadRequest(f'The two items of a pair must differ, and no item may be called "{TIE}".',
                             code="invalid_payload")

    def check(self, answer: Any, payload: dict | None = None) -> str:
        left, right = pair(payload)
        if answer == TIE:
            if not self.allow_tie:
                raise invalid("This project does not allow ties: name the better item.", "tie_not_allowed")
            return TIE
        if not isinstance(answer, str) or answer not in (left, right):
            raise invalid("The answer must be the id of one of the two items shown.", "unknown_item",
                          items=[left, right])
        return answer

    def result_fields(self, outcome) -> dict:
        """P(each item is the better one) from the fitted model, left then right."""
        probabilities = list(((outcome.details or {}).get("probabilities") or {}).values())
        return {"p_left": round(float(probabilities[0]), 6) if probabilities else None,
                "p_right": round(float(probabilities[1]), 6) if len(probabilities) > 1 else None}
