"""Pieces the kinds share."""
from typing import Annotated

from pydantic import StringConstraints

Label = Annotated[str, StringConstraints(min_length=1, max_length=200)]


def unique(cls, labels: list[str] | None) -> list[str] | None:
    """A field validator: labels must be unique."""
    if labels is not None and len(set(labels)) != len(labels):
        raise ValueError("labels must be unique")
    return labels
