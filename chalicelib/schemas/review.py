"""Bodies of review: a requester reads its project's assignments and approves or rejects them."""
from typing import Any, Literal

from pydantic import Field

from chalicelib.schemas.common import Body, Cursor, ErrorDetail, Out

ReviewState = Literal["submitted", "approved", "rejected"]
AssignmentIds = list[str]
MAX_REVIEW_ITEMS = 100


class ApproveIn(Body):
    assignment_ids: AssignmentIds = Field(min_length=1, max_length=MAX_REVIEW_ITEMS,
                                          description="Assignment ids (the lease ids of the answers)")
    reason: str | None = Field(None, max_length=1000, description="Optional feedback shown to the worker")
    override_rejection: bool = Field(
        False, description="Approve (and pay) rejected assignments too, within the project's "
                           "rejection_reversal_seconds of the rejection")


class RejectIn(Body):
    assignment_ids: AssignmentIds = Field(min_length=1, max_length=MAX_REVIEW_ITEMS)
    reason: str = Field(min_length=1, max_length=1000, description="Why: shown to the worker")


class ReviewItemResult(Out):
    assignment_id: str
    ok: bool
    state: ReviewState | None = Field(description="The assignment's state after the request")
    error: ErrorDetail | None = None


class ReviewResults(Out):
    items: list[ReviewItemResult] = Field(description="One result per assignment id, in order")


class AssignmentQuery(Body):
    state: ReviewState | None = Field(None, description="Only assignments in this state")
    limit: int = Field(50, ge=1, le=1000)
    cursor: Cursor | None = None


class ReviewAssignmentOut(Out):
    assignment_id: str = Field(description="Use it to approve, reject or give a bonus")
    task_id: str
    worker_id: str = Field(description="The worker's pseudonym for you (the same in all your projects)")
    state: ReviewState
    answer: Any
    submitted_at: int
    time_spent_ms: int | None
    reward_cents: int
    auto_approve_at: int | None = Field(description="When it is approved unless reviewed before")
    reviewed_at: int | None
    review_reason: str | None
    reviewed_by: str | None = Field(description='"auto" (after auto_approve_seconds), "rule" (a quality '
                                                'rule), or the requester')


class ReviewAssignmentPage(Out):
    items: list[ReviewAssignmentOut]
    next_cursor: Cursor | None = None
