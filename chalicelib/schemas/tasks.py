from typing import Any, Literal

from pydantic import Field, SkipValidation

from chalicelib.schemas.common import Body, Cursor, Identifier, Out
from chalicelib.schemas.review import ReviewState


class TaskIn(Body):
    task_id: Identifier = Field(description="The requester's id for the task, unique in the project")
    payload: dict[str, Any] = Field(description="What the worker sees: text, image URL, ...")
    known_answer: Any = Field(None, description="Set for a gold task: the correct answer")


class TaskBatch(Body):
    # Items are validated one by one by the service, so that a bad item is reported by its
    # index while the good ones are kept.
    tasks: list[SkipValidation[TaskIn]] = Field(min_length=1, max_length=1000)


class TaskError(Out):
    index: int
    task_id: str | None
    code: str
    message: str
    details: dict = Field(default_factory=dict, description=(
        "As in an error body: for invalid_answer (a known answer), the broken `rule`"))


class TaskBatchResult(Out):
    created: int = Field(description="Tasks written by this request")
    unchanged: int = Field(description="Tasks already present with the same content (a re-sent batch)")
    errors: list[TaskError]


class TaskAnswer(Out):
    worker_id: str = Field(description="The worker's pseudonym for you (the same in all your projects)")
    answer: Any
    submitted_at: int
    time_spent_ms: int | None
    state: ReviewState = Field(
        "submitted", description="Its review: awaiting it, approved (paid) or rejected")


class TaskResultOut(Out):
    label: Any
    confidence: float
    answer_count: int
    run_id: str


class TaskSummary(Out):
    task_id: str
    payload: dict[str, Any]
    known_answer: Any = None
    status: Literal["open", "complete", "cancelled"] = Field(description=(
        "open: collecting answers (a gold task stays open: every worker may answer it once); "
        "complete: has its answers; cancelled: serves no more work"))
    overlap: int | None = Field(None, description="Answers this task collects (none for a gold task)")
    answer_count: int
    created_at: int


class TaskDetail(TaskSummary):
    answers: list[TaskAnswer]
    result: TaskResultOut | None


class TaskPage(Out):
    items: list[TaskSummary]
    next_cursor: Cursor | None = None


class CancelRequest(Body):
    task_ids: list[Identifier] = Field(min_length=1, max_length=100)


class CancelOutcome(Out):
    task_id: str
    status: Literal["cancelled", "already_cancelled", "complete", "not_found"]


class CancelResult(Out):
    results: list[CancelOutcome]
