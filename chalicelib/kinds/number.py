"""number: a quantity, between bounds, with so many decimals, in a unit (a count, a price, a
score on 0..100).

Answer: a JSON number (not a string), finite, within [min, max]; rounded to `decimals` places
when set. Gold: |answer - gold| ≤ max(gold_abs_tolerance, gold_rel_tolerance × |gold|).
Reliability: workers differ in bias and noise; the aggregation (chalicelib.aggregation.by_kind)
fits a bias and a variance per worker, robust to wild answers, and the reliability reported
is how often the worker's answer lands within the gold tolerance of the published value.
Result: the value and an interval (low, high).
"""
import math
from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from chalicelib.kinds.base import Kind, invalid


class Number(Kind):
    kind: Literal["number"] = "number"
    min: float | None = Field(None, description="Smallest answer allowed (null: unbounded)")
    max: float | None = Field(None, description="Largest answer allowed (null: unbounded)")
    decimals: int | None = Field(None, ge=0, le=10, description="Answers are rounded to this many decimals")
    unit: str = Field("", max_length=40, description="Shown to workers beside the field, e.g. 'kg'")
    gold_abs_tolerance: float = Field(0.0, ge=0, description="A gold answer is matched within this distance")
    gold_rel_tolerance: float = Field(0.0, ge=0, le=10, description=(
        "... or within this share of the gold value (0.05: 5 %), whichever is larger"))

    result_columns: ClassVar[tuple[str, ...]] = ("low", "high")

    @model_validator(mode="after")
    def _ordered(self):
        if self.min is not None and self.max is not None and self.max < self.min:
            raise ValueError("max must be at least min")
        return self

    def check(self, answer: Any, payload: dict | None = None) -> float:
        if isinstance(answer, bool) or not isinstance(answer, (int, float)) or not math.isfinite(answer):
            raise invalid("The answer must be a finite number.", "not_a_number")
        value = float(round(answer, self.decimals)) if self.decimals is not None else float(answer)
        if (self.min is not None and value < self.min) or (self.max is not None and value > self.max):
            bounds = [f"at least {self.min:g}" if self.min is not None else "",
                      f"at most {self.max:g}" if self.max is not None else ""]
            raise invalid(f"The answer must be {' and '.join(b for b in bounds if b)}.", "out_of_bounds",
                          min=self.min, max=self.max)
        return value

    def matches_gold(self, answer: Any, known: Any) -> bool:
        tolerance = max(self.gold_abs_tolerance, self.gold_rel_tolerance * abs(float(known)))
        return abs(float(answer) - float(known)) <= tolerance + 1e-9

    def aggregation_config(self) -> dict:
        # The band in which the aggregation counts an answer right (its confidence and the
        # workers' reliability) is the requester's gold tolerance, when one is set.
        config = super().aggregation_config()
        if self.gold_abs_tolerance > 0:
            config["tolerance"] = self.gold_abs_tolerance
        return config

    def result_fields(self, outcome) -> dict:
        details = outcome.details or {}
        interval = details.get("interval") or (details.get("low"), details.get("high"))
        return {"low": _rounded(interval[0]), "high": _rounded(interval[1])}


def _rounded(value):
    return None if value is None else round(float(value), 6)
