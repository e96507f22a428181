"""Answer types. A project says what an answer looks like; answers are checked against it.

The union is discriminated by `kind`; each member lives in its own module of chalicelib.kinds
(schema, validation, gold comparison, result columns), so the OpenAPI description shows every
kind's fields.
"""
import functools
from typing import Annotated, Union

from pydantic import Field, TypeAdapter

from chalicelib.kinds import Boxes, Kind, MultipleChoice, Number, Pairwise, Rating, SingleChoice, Text

AnswerType = Annotated[Union[SingleChoice, MultipleChoice, Number, Rating, Text, Pairwise, Boxes],
                       Field(discriminator="kind")]



@functools.cache
def _answer_types() -> TypeAdapter:
    return TypeAdapter(AnswerType)  # built on first use, like the models (schemas.common.LAZY)


def parse_answer_type(stored: dict) -> Kind:
    """A project's stored answer type as its model (which checks answers)."""
    return _answer_types().validate_python(stored)
