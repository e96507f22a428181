"""Answer types. A project says what an answer looks like; answers are checked against it.

Single choice is the first kind; the union is discriminated by `kind` so that multiple
choice, free text and numbers can be added as further members without changing stored data.
"""
import functools
from typing import Annotated, Any, Literal, Union

from pydantic import Field, StringConstraints, TypeAdapter, field_validator

from chalicelib.errors import BadRequest
from chalicelib.schemas.common import Body

Label = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class SingleChoice(Body):
    kind: Literal["single_choice"] = "single_choice"
    labels: list[Label] = Field(min_length=2, max_length=100,
                                description="The choices, in the order shown to workers")

    @field_validator("labels")
    @classmethod
    def labels_are_unique(cls, labels: list[str]) -> list[str]:
        if len(set(labels)) != len(labels):
            raise ValueError("labels must be unique")
        return labels

    def check(self, answer: Any) -> str:
        """The answer as stored, or BadRequest if it is not one of the labels."""
        if not isinstance(answer, str) or answer not in self.labels:
            raise BadRequest("The answer must be one of the project's labels.",
                             code="invalid_answer", details={"labels": self.labels})
        return answer


AnswerType = Annotated[Union[SingleChoice], Field(discriminator="kind")]



@functools.cache
def _answer_types() -> TypeAdapter:
    return TypeAdapter(AnswerType)  # built on first use, like the models (schemas.common.LAZY)


def parse_answer_type(stored: dict) -> SingleChoice:
    """A project's stored answer type as its model (which checks answers)."""
    return _answer_types().validate_python(stored)
