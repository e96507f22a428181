"""A worker's profile, a project's audience, and the projects open to a worker (issue 14)."""
from typing import Annotated

from pydantic import Field, StrictBool, StringConstraints, field_validator

from chalicelib.schemas.common import Body, Cursor, Out

# ISO 639-1 language codes ("fr") and ISO 3166-1 alpha-2 country codes ("FR"); the case is
# normalised, so "FR" and "fr" are the same language.
Language = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2}$", to_lower=True)]
Country = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2}$", to_upper=True)]
MAX_LANGUAGES = 20
MAX_COUNTRIES = 250


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


class ProfileIn(Body):
    """The fields given are changed; the others are left as they are."""

    display_name: str | None = Field(None, max_length=60, description="Shown to you only; null clears it")
    languages: list[Language] | None = Field(None, max_length=MAX_LANGUAGES, description=(
        "Languages you work in, ISO 639-1 (\"fr\", \"en\"), in your order of preference"))
    country: Country | None = Field(None, description="Where you live, ISO 3166-1 alpha-2 (\"FR\")")
    accepted_terms: StrictBool | None = Field(None, description=(
        "true (a JSON boolean: consent is never inferred): you accept the terms of work (recorded as terms_accepted_at, once); false: you "
        "withdraw your acceptance (no more work is served to you until you accept again)"))

    @field_validator("display_name")
    @classmethod
    def _stripped(cls, value):
        return (value.strip() or None) if value is not None else None

    @field_validator("languages")
    @classmethod
    def _distinct(cls, value):
        return _unique(value) if value is not None else None


class ProfileOut(Out):
    worker_id: str
    display_name: str | None = None
    languages: list[str] = Field(default_factory=list)
    country: str | None = None
    accepted_terms: bool = False
    terms_accepted_at: int | None = Field(None, description="Epoch ms; null: not accepted")


class Audience(Body):
    """Who a project serves besides its other gates: a worker whose profile names one of
    `languages` (if any are given) and whose country is one of `countries` (if any are given).
    Empty lists: everyone."""

    languages: list[Language] = Field(default_factory=list, max_length=MAX_LANGUAGES)
    countries: list[Country] = Field(default_factory=list, max_length=MAX_COUNTRIES)

    @field_validator("languages", "countries")
    @classmethod
    def _distinct(cls, value):
        return _unique(value)


class OpenProjectsQuery(Body):
    limit: int = Field(20, ge=1, le=100)
    cursor: Cursor | None = None


class OpenProject(Out):
    project_id: str
    title: str
    reward_cents: int
    lease_seconds: int
    instructions: str
    kind: str = Field(description="The answer kind (answer_type.kind)")
    tasks_available: bool = Field(description=(
        "Whether the project has tasks still collecting answers (you may have answered them all)"))


class OpenProjectPage(Out):
    items: list[OpenProject]
    cursor: Cursor | None = Field(None, description="Pass it back for the next page; null: the last page")
