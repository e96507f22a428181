"""single_choice: one label out of the project's labels (a classifier).

Gold: the same label. Reliability: P(the worker's label is right), from the classification
methods of chalicelib.aggregation (Dawid-Skene by default). The aggregator keeps its own
columnar path for this kind (chalicelib.services.aggregator), whose files are unchanged.
"""
from typing import Any, Literal

from pydantic import Field, field_validator

from chalicelib.kinds.base import Kind, invalid
from chalicelib.kinds.common import Label, unique


class SingleChoice(Kind):
    kind: Literal["single_choice"] = "single_choice"
    labels: list[Label] = Field(min_length=2, max_length=100,
                                description="The choices, in the order shown to workers")

    _unique = field_validator("labels")(unique)

    def check(self, answer: Any, payload: dict | None = None) -> str:
        if not isinstance(answer, str) or answer not in self.labels:
            raise invalid("The answer must be one of the project's labels.", "not_a_label", labels=self.labels)
        return answer
