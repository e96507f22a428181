"""rating: a point on an ordered scale with labels (1 = the first label; a Likert scale, stars).

Answer: an integer 1..n, n the number of scale labels. Gold: within gold_within_steps steps of
the gold value (0: the same point). Reliability: how often the worker's rating is within the
gold tolerance of the published one; the aggregation respects the order (a 4 is closer to a 5
than a 1 is: chalicelib.aggregation.by_kind). Result: the value (its label too) and the
distribution over the scale.
"""
from typing import Any, ClassVar, Literal

from pydantic import Field

from chalicelib.kinds.base import Kind, invalid
from chalicelib.kinds.common import Label


class Rating(Kind):
    kind: Literal["rating"] = "rating"
    scale: list[Label] = Field(min_length=2, max_length=20, description=(
        "The scale's labels, worst or least first: the answer is the position, 1..len(scale)"))
    gold_within_steps: int = Field(0, ge=0, le=19, description="A gold answer is matched this many steps away")

    result_columns: ClassVar[tuple[str, ...]] = ("answer_label", "distribution")

    def check(self, answer: Any, payload: dict | None = None) -> int:
        if isinstance(answer, bool) or not isinstance(answer, (int, float)) or answer != int(answer):
            raise invalid("The answer must be a whole number on the scale.", "not_an_integer")
        if not 1 <= answer <= len(self.scale):
            raise invalid(f"The answer must be between 1 and {len(self.scale)}.", "out_of_bounds",
                          min=1, max=len(self.scale))
        return int(answer)

    def matches_gold(self, answer: Any, known: Any) -> bool:
        return abs(int(answer) - int(known)) <= self.gold_within_steps

    def result_fields(self, outcome) -> dict:
        distribution = (outcome.details or {}).get("distribution") or {}
        if isinstance(distribution, (list, tuple)):
            distribution = {str(i + 1): p for i, p in enumerate(distribution)}
        label = self.scale[int(outcome.answer) - 1] if outcome.answer is not None else None
        return {"answer_label": label,
                "distribution": {str(v): round(float(distribution.get(str(v), distribution.get(v, 0.0))), 6)
                                 for v in range(1, len(self.scale) + 1)}}

    def csv_columns(self) -> list[str]:
        return ["answer_label", *[f"p:{v}" for v in range(1, len(self.scale) + 1)]]

    def csv_fields(self, fields: dict) -> dict:
        return {"answer_label": fields["answer_label"],
                **{f"p:{v}": p for v, p in fields["distribution"].items()}}
