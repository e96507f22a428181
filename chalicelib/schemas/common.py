from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

# Ids chosen by requesters appear in URLs, S3 keys and CSV files: keep them plain.
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}$"
Identifier = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
Cursor = Annotated[str, StringConstraints(max_length=2048)]


# Every schema's validator is built when it is first used, not when its module is imported:
# a cold start then pays only for the models its first request touches (see bench/coldstart.py).
LAZY = ConfigDict(defer_build=True)


class Body(BaseModel):
    """A request body: unknown fields are refused, so a typo is an error, not a silent no-op."""

    model_config = ConfigDict(LAZY, extra="forbid")


class Out(BaseModel):
    """A response body."""

    model_config = LAZY


class ErrorDetail(Out):
    code: str = Field(description="Stable, machine-readable error code")
    message: str = Field(description="What went wrong, for a person")
    details: dict = Field(default_factory=dict)


class ErrorBody(Out):
    error: ErrorDetail


class PageQuery(Body):
    limit: int = Field(50, ge=1, le=1000)
    cursor: Cursor | None = None
