"""The interface every task kind implements: one pydantic model per kind (the project's answer
type, a member of the union in chalicelib.schemas.answers) whose methods say how an answer is
checked, how it is compared with a gold answer, and which columns its result has.

The API function imports this (never numpy); the aggregation proper runs in the aggregator
Lambda only (chalicelib.kinds.aggregate imports chalicelib.aggregation.by_kind lazily).
"""
from typing import Any, ClassVar

from chalicelib.errors import BadRequest
from chalicelib.schemas.common import Body


def invalid(message: str, rule: str, **details) -> BadRequest:
    """The 400 every refused answer gets: code invalid_answer, the broken rule in details."""
    return BadRequest(message, code="invalid_answer", details={"rule": rule, **details})


class Kind(Body):
    """A project's answer type. Subclasses set `kind` (the discriminator) and override what
    differs from an exact comparison of plain values."""

    # A kind whose answers can only be checked against the task (pairwise: the two items;
    # boxes: the image's size) reads the task's payload when an answer arrives.
    needs_payload: ClassVar[bool] = False
    # Result columns beside answer and confidence, in results.jsonl and results.csv.
    result_columns: ClassVar[tuple[str, ...]] = ()

    def check(self, answer: Any, payload: dict | None = None) -> Any:
        """The answer as stored (normalised), or BadRequest invalid_answer naming the rule."""
        raise NotImplementedError

    def check_payload(self, payload: dict) -> None:
        """Refuse (BadRequest invalid_payload) a task payload this kind cannot show."""

    def matches_gold(self, answer: Any, known: Any) -> bool:
        """Whether an answer counts as correct against a gold answer, within the project's
        tolerance. Also how a worker's answer is judged against the published result (its
        agreement, one part of its reliability)."""
        return answer == known

    def aggregation_config(self) -> dict:
        """The `config` chalicelib.aggregation.by_kind.aggregate_kind takes: the answer type."""
        return self.model_dump(mode="json")

    def result_fields(self, outcome) -> dict:
        """The kind's columns of one task's result (see result_columns), from the aggregation's
        TaskOutcome (answer, confidence, details)."""
        return {}

    def csv_columns(self) -> list[str]:
        """The kind's columns in results.csv."""
        return list(self.result_columns)

    def csv_fields(self, fields: dict) -> dict:
        """result_fields flattened for results.csv (lists and dicts left become JSON cells)."""
        return fields
