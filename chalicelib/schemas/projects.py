from typing import Literal

from pydantic import Field

from chalicelib.schemas.answers import AnswerType
from chalicelib.schemas.common import Body, Cursor, Out
from chalicelib.schemas.quality import MAX_RULES, Rule

ProjectStatus = Literal["active", "paused", "closed"]


class ProjectCreate(Body):
    title: str = Field(min_length=1, max_length=200)
    instructions: str = Field("", max_length=20_000)
    answer_type: AnswerType
    overlap: int = Field(3, ge=1, le=100, description="Answers wanted per task")
    reward_cents: int = Field(0, ge=0, le=100_000, description="Paid per accepted answer, in cents")
    lease_seconds: int = Field(600, ge=10, le=86_400, description="How long a worker holds a task")
    priority: int = Field(0, ge=-1000, le=1000, description="Higher is served to workers first")
    # QUALITY
    rules: list[Rule] = Field(default_factory=list, max_length=MAX_RULES,
                              description="Quality rules, evaluated per worker (see Rule)")


class ProjectUpdate(Body):
    status: ProjectStatus | None = Field(None, description="Pause, resume or close (final)")
    priority: int | None = Field(None, ge=-1000, le=1000)
    # QUALITY
    rules: list[Rule] | None = Field(None, max_length=MAX_RULES, description="Replaces the rules")


class ProjectOut(Out):
    project_id: str
    title: str
    instructions: str
    answer_type: AnswerType
    overlap: int
    reward_cents: int
    lease_seconds: int
    priority: int
    status: ProjectStatus
    created_at: int = Field(description="Epoch milliseconds")
    updated_at: int
    last_run_id: str | None = None
    # QUALITY
    rules: list[Rule] = Field(default_factory=list)


class ProjectPage(Out):
    items: list[ProjectOut]
    next_cursor: Cursor | None = None


class Progress(Out):
    project_id: str
    status: ProjectStatus
    tasks: int
    gold_tasks: int
    tasks_open: int
    tasks_complete: int
    answers: int
    leases_outstanding: int = Field(
        description="Leases handed out and not yet answered, released or reclaimed after expiry")
    rewards_cents: int
    last_run_id: str | None
    last_run_at: int | None
    answers_in_last_run: int


class AggregationQueued(Out):
    project_id: str
    status: Literal["queued"] = "queued"
    requested_at: int


# Moved to chalicelib.schemas.results; re-exported for existing imports.
from chalicelib.schemas.results import ResultFile, Results  # noqa: E402,F401
