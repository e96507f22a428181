"""Bodies of the worker's API: small, for a mobile client on a flaky network."""
from typing import Any, Literal

from pydantic import Field

from chalicelib.schemas.answers import AnswerType
from chalicelib.schemas.common import Body, Identifier, Out
from chalicelib.schemas.views import Block


class NextTaskRequest(Body):
    project_id: Identifier | None = Field(None, description="Only work from this project")


class LeaseOut(Out):
    lease_id: str = Field(description="Send the answer to /leases/{lease_id}/answer")
    project_id: str
    task_id: str
    title: str = Field(description="The project's title")
    payload: dict[str, Any]
    instructions: str = Field(description="Markdown (the subset of text blocks)")
    view: list[Block] = Field(description=(
        "Render these blocks top to bottom, then the answer widget of answer_type.kind: the "
        "project's view, or one text block per payload field"))
    media: dict[str, str] = Field(description=(
        "{payload field: short-lived presigned GET URL} for the media keys of this task (the "
        "image, audio and video blocks whose field holds one); a media block whose field holds "
        "an https URL shows that URL"))
    answer_type: AnswerType
    reward_cents: int
    expires_at: int = Field(description="Epoch milliseconds; an answer after this is refused")


class AnswerIn(Body):
    answer: Any = Field(description="For single choice: one of the labels")
    time_spent_ms: int | None = Field(None, ge=0, le=86_400_000)


class AnswerReceipt(Out):
    lease_id: str
    project_id: str
    task_id: str
    state: Literal["submitted"] = "submitted"
    answer: Any
    submitted_at: int
    reward_cents: int


class Released(Out):
    lease_id: str
    state: Literal["returned"] = "returned"


class WorkerProjectStats(Out):
    project_id: str
    answers: int
    reliability: float | None = Field(description="As of the project's latest aggregation run")
    # A block in force on this project
    blocked_until: int | None = Field(None, description="Epoch ms; 9007199254740992 = for good")
    block_reason: str | None = Field(None, description='"requester" or "rule:<measure>"')
    block_message: str | None = None


class WorkerProfile(Out):
    worker_id: str
    answers: int
    earned_cents: int = Field(description="Approved rewards and bonuses")
    pending_cents: int = Field(0, description="Rewards of answers awaiting review")
    reliability: float | None = Field(description="Reliability over projects (the projects' figures "
                                      "weighted by your answers in each), once known")
    projects: list[WorkerProjectStats]


# --- Lifecycle: extension, batches of answers, a worker's history -------------------------
AssignmentState = Literal["leased", "submitted", "returned", "expired", "approved", "rejected"]


class ExtendIn(Body):
    seconds: int | None = Field(None, ge=1, le=86_400, description=(
        "How much longer; at most the project's max_lease_extension_seconds (the default)"))


class LeaseExtended(Out):
    lease_id: str
    expires_at: int = Field(description="The new expiry, epoch milliseconds")


class AnswerBatchItem(AnswerIn):
    lease_id: str = Field(min_length=1, max_length=1024)


class AnswerBatch(Body):
    answers: list[AnswerBatchItem] = Field(min_length=1, max_length=50, description=(
        "Answers to send at once (a client back online); each is idempotent on its lease"))


class AnswerBatchItemResult(Out):
    lease_id: str
    status: Literal["submitted", "error"]
    receipt: AnswerReceipt | None = None
    error: dict | None = Field(None, description="{code, message, details}, as a single answer's error")


class AnswerBatchResult(Out):
    results: list[AnswerBatchItemResult] = Field(description="One per item, in the order sent")
    submitted: int
    failed: int


class AssignmentOut(Out):
    lease_id: str
    project_id: str
    task_id: str
    state: AssignmentState = Field(description=(
        "leased (live), submitted (awaiting review), approved, rejected, returned (given back), "
        "expired (not answered in time)"))
    answer: Any = None
    reward_cents: int
    leased_at: int
    expires_at: int
    submitted_at: int | None = None
    reviewed_at: int | None = Field(None, description="When it was approved or rejected (epoch ms)")
    reviewed_by: Literal["requester", "auto", "rule"] | None = Field(
        None, description="Who decided: the requester, the automatic approval after the project's "
                          "auto_approve_seconds, or one of the project's quality rules")
    review_reason: str | None = Field(None, description="Why it was rejected (always given), or the "
                                                        "requester's feedback on an approval")
    auto_approve_at: int | None = Field(None, description="While awaiting review: when it is approved "
                                                          "unless the requester decides before")


class AssignmentPage(Out):
    items: list[AssignmentOut] = Field(description="Newest lease first")
    next_cursor: str | None = None
