"""multiple_choice: every label that applies, out of the project's labels (a multi-label
classifier; MTurk's "select all that apply").

Answer: a JSON list of labels, each once, between min_selected and max_selected of them;
stored in the project's label order. Gold: Jaccard similarity |A∩G| / |A∪G| at least
gold_min_jaccard (1: the same set; two empty sets agree). Reliability: per label, how often
the worker's include/exclude decision is right (binary relevance: one two-class model per
label, chalicelib.aggregation.by_kind). Result: the label set, and each label's probability.
"""
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from chalicelib.kinds.base import Kind, invalid
from chalicelib.kinds.common import Label, unique


def jaccard(a: list, b: list) -> float:
    a, b = set(a), set(b)
    return len(a & b) / len(a | b) if a | b else 1.0


class MultipleChoice(Kind):
    kind: Literal["multiple_choice"] = "multiple_choice"
    labels: list[Label] = Field(min_length=1, max_length=100,
                                description="The choices, in the order shown to workers")
    min_selected: int = Field(0, ge=0, le=100, description="Fewest labels an answer selects (0: none may apply)")
    max_selected: int | None = Field(None, ge=1, le=100, description="Most labels an answer selects (null: all)")
    gold_min_jaccard: float = Field(1.0, ge=0, le=1, description=(
        "A gold answer is matched when |answer ∩ gold| / |answer ∪ gold| reaches this (1: same set)"))

    result_columns: ClassVar[tuple[str, ...]] = ("probabilities",)
    _unique = field_validator("labels")(unique)

    @model_validator(mode="after")
    def _ordered(self):
        if self.max_selected is not None and self.max_selected < self.min_selected:
            raise ValueError("max_selected must be at least min_selected")
        if self.min_selected > len(self.labels):
            raise ValueError("min_selected cannot exceed the number of labels")
        return self

    def check(self, answer: Any, payload: dict | None = None) -> list[str]:
        if not isinstance(answer, list) or not all(isinstance(a, str) for a in answer):
            raise invalid("The answer must be a list of the project's labels.", "not_a_list")
        unknown = sorted(set(answer) - set(self.labels))
        if unknown:
            raise invalid("The answer names labels the project does not have.", "unknown_label",
                          unknown=unknown[:10], labels=self.labels)
        if len(set(answer)) != len(answer):
            raise invalid("The answer names a label twice.", "duplicate_label")
        if len(answer) < self.min_selected:
            raise invalid(f"Select at least {self.min_selected} labels.", "too_few_labels",
                          min_selected=self.min_selected)
        if self.max_selected is not None and len(answer) > self.max_selected:
            raise invalid(f"Select at most {self.max_selected} labels.", "too_many_labels",
                          max_selected=self.max_selected)
        return [label for label in self.labels if label in answer]

    def matches_gold(self, answer: Any, known: Any) -> bool:
        return jaccard(answer, known) >= self.gold_min_jaccard

    def result_fields(self, outcome) -> dict:
        probabilities = (outcome.details or {}).get("probabilities") or {}
        return {"probabilities": {label: round(float(probabilities.get(label, 0.0)), 6) for label in self.labels}}

    def csv_columns(self) -> list[str]:
        return [f"p:{label}" for label in self.labels]

    def csv_fields(self, fields: dict) -> dict:
        return {f"p:{label}": p for label, p in fields["probabilities"].items()}
