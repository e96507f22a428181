"""Review: a submitted answer is approved (paid) or rejected, by the requester or automatically.

States (Assignment.state): submitted -> approved | rejected, and rejected -> approved (a
reversal, within the project's rejection_reversal_seconds of the rejection). Each move is
one transaction conditional on the state it leaves, so an approval and a rejection racing
cannot both happen, and an approval pays exactly once (its ledger entry is keyed by the
assignment, see services.ledger). Repeating a decision already made is a success that
changes nothing, so a client can retry a bulk request safely.

An assignment id is the lease id of the answer: opaque to clients, it carries the
assignment's keys (services.leases), so no index is needed to find it.
"""
import random
import time
from dataclasses import dataclass

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.auth import Caller
from chalicelib.errors import Conflict, FouleError, NotFound
from chalicelib.models import Assignment, Project, WorkerStats
from chalicelib.models.assignments import ANSWERS_INDEX_KEY, task_key
from chalicelib.models.base import connection, conflicted, failed_conditions, now_ms
from chalicelib.models.workers import ALL_PROJECTS
from chalicelib.schemas.common import ErrorDetail
from chalicelib.schemas.review import (ApproveIn, RejectIn, ReviewAssignmentOut, ReviewAssignmentPage,
                                       ReviewItemResult, ReviewResults)
from chalicelib.services import audit, counters, leases, ledger, projects, pseudonyms, sharded_paging
from chalicelib.settings import settings

SUBMITTED, APPROVED, REJECTED = "submitted", "approved", "rejected"
AUTO, RULE = "auto", "rule"  # who reviewed, besides requesters
ATTEMPTS = 3


def review_index_keys(auto_approve_seconds: int, submitted_at: int) -> dict:
    """The sparse review-index attributes an answer is written with (see Assignment.review_due)."""
    return {"review_shard": str(random.randrange(settings.review_shards)),
            "review_due_at": submitted_at + auto_approve_seconds * 1000}


@dataclass
class Decision:
    target: str  # APPROVED | REJECTED
    reason: str | None
    by: str  # AUTO, "rule", or the requester's id
    override_rejection: bool = False
    actor: Caller | None = None  # a requester or an admin: the decision is audited


def _audit_in(tx, project: Project, assignment: Assignment, decision: Decision, reward: int) -> None:
    if decision.actor is not None:
        action = "approve" if decision.target == APPROVED else "reject"
        audit.put_in(tx, audit.entry(audit.project_log(project.project_id), action, decision.actor,
                                     project_id=project.project_id,
                                     worker_id=pseudonyms.for_requester(project.owner_id, assignment.worker_id),
                                     cents=reward, reason=decision.reason,
                                     details={"task_id": assignment.task_id,
                                              "override_rejection": assignment.state == REJECTED}))


def _reviewed(decision: Decision, now: int) -> list:
    reason = [Assignment.review_reason.set(decision.reason)] if decision.reason \
        else [Assignment.review_reason.remove()]
    return [Assignment.state.set(decision.target), Assignment.reviewed_at.set(now),
            Assignment.reviewed_by.set(decision.by), Assignment.review_shard.remove(),
            Assignment.review_due_at.remove(), *reason]


def _reversal_window_ms(project: Project) -> int:
    return projects.to_out(project).rejection_reversal_seconds * 1000


def _approve(project: Project, assignment: Assignment, decision: Decision, now: int) -> None:
    reward = int(assignment.reward_cents or 0)
    reversal = assignment.state == REJECTED
    entry = ledger.new_entry(ledger.reward_entry_id(project.project_id, assignment.task_id,
                                                    assignment.worker_id),
                             "reward", assignment.worker_id, project.project_id, reward,
                             task_id=assignment.task_id, assignment_id=assignment.lease_id)
    if reversal:
        worker_actions = [WorkerStats.rejected.add(-1), WorkerStats.approved.add(1)]
        condition = (Assignment.state == REJECTED) & \
            (Assignment.reviewed_at >= now - _reversal_window_ms(project))
    else:
        worker_actions = [WorkerStats.pending_cents.add(-reward), WorkerStats.approved.add(1)]
        condition = Assignment.state == SUBMITTED
    with TransactWrite(connection=connection()) as tx:
        ledger.pay_in(tx, entry, worker_actions)  # the entry (put), then the two worker records
        _audit_in(tx, project, assignment, decision, reward)
        tx.update(assignment, actions=_reviewed(decision, now), condition=condition)
        counters.add_in(tx, project.project_id, approved=1, rejected=-int(reversal), paid_cents=reward)
        if reversal:  # the rejection gave the reservation back: take it again
            ledger.reserve_in(tx, project, reward)


def _reject(project: Project, assignment: Assignment, decision: Decision, now: int) -> None:
    reward = int(assignment.reward_cents or 0)
    with TransactWrite(connection=connection()) as tx:
        tx.update(assignment, actions=_reviewed(decision, now), condition=Assignment.state == SUBMITTED)
        _audit_in(tx, project, assignment, decision, 0)
        for scope in (ALL_PROJECTS, project.project_id):
            tx.update(WorkerStats(assignment.worker_id, scope),
                      actions=[WorkerStats.pending_cents.add(-reward), WorkerStats.rejected.add(1)])
        counters.add_in(tx, project.project_id, rejected=1)
        ledger.release_in(tx, project, reward)


def _refusal(assignment: Assignment, decision: Decision, project: Project, now: int) -> FouleError | None:
    """Why this decision cannot apply to the assignment as it is now (None: it can)."""
    refusal = _why_not(assignment, decision, project, now)
    if refusal is not None:
        refusal.details = {"state": assignment.state, **refusal.details}
    return refusal


def _why_not(assignment: Assignment, decision: Decision, project: Project, now: int) -> FouleError | None:
    state = assignment.state
    if state == SUBMITTED:
        return None
    if state == REJECTED and decision.target == APPROVED:
        if not decision.override_rejection:
            return Conflict("This assignment was rejected; send override_rejection: true to approve it.",
                            code="already_rejected")
        if int(assignment.reviewed_at) < now - _reversal_window_ms(project):
            return Conflict("The rejection can no longer be reversed: its window has closed.",
                            code="reversal_window_closed")
        return None
    if state == APPROVED:
        return Conflict("This assignment was already approved and paid.", code="already_approved")
    if state == REJECTED:
        return Conflict("This assignment was already rejected.", code="already_rejected")
    return Conflict("This assignment has no answer to review.", code="not_submitted")


def decide(project: Project, assignment: Assignment, decision: Decision) -> str:
    """Apply a decision; the state it leaves the assignment in. Raises FouleError if refused."""
    for _ in range(ATTEMPTS):
        if assignment.state == decision.target:
            return assignment.state  # already decided so: a retry
        now = now_ms()
        refusal = _refusal(assignment, decision, project, now)
        if refusal:
            raise refusal
        try:
            (_approve if decision.target == APPROVED else _reject)(project, assignment, decision, now)
            assignment.state = decision.target
            return decision.target
        except TransactWriteError as error:
            if not any(failed_conditions(error)) and not conflicted(error):
                raise
            if decision.target == APPROVED and assignment.state == REJECTED and ledger.budget_failed(error):
                raise ledger.budget_exhausted_error(project.project_id) from None
            assignment = Assignment.get(assignment.task_key, assignment.worker_id, consistent_read=True)
    raise Conflict("The assignment keeps changing; try again.", code="concurrent_update")


# --- The requester's routes -------------------------------------------------------------------
def _find(caller: Caller, assignment_id: str, owned: dict) -> tuple[Project, Assignment]:
    missing = NotFound("No assignment with this id in your projects.", code="assignment_not_found")
    try:
        ref = leases.parse(assignment_id)
    except NotFound:
        raise missing from None
    if ref.project_id not in owned:
        try:
            owned[ref.project_id] = projects.get_owned(caller, ref.project_id, consistent=True)
        except NotFound:
            owned[ref.project_id] = None
    project = owned[ref.project_id]
    if project is None:
        raise missing
    try:
        assignment = Assignment.get(task_key(ref.project_id, ref.task_id), ref.worker_id, consistent_read=True)
    except Assignment.DoesNotExist:
        raise missing from None
    if assignment.lease_id != assignment_id:
        raise missing
    return project, assignment


def _review_all(caller: Caller, ids: list[str], decision: Decision) -> ReviewResults:
    owned: dict = {}
    results = []
    for assignment_id in ids:
        assignment = None
        try:
            project, assignment = _find(caller, assignment_id, owned)
            state = decide(project, assignment, decision)
            results.append(ReviewItemResult(assignment_id=assignment_id, ok=True, state=state))
        except FouleError as error:
            state = error.details.get("state")
            results.append(ReviewItemResult(
                assignment_id=assignment_id, ok=False,
                state=state if state in (SUBMITTED, APPROVED, REJECTED) else None,
                error=ErrorDetail(code=error.code, message=error.message, details=error.details)))
    return ReviewResults(items=results)


def approve(caller: Caller, body: ApproveIn) -> ReviewResults:
    return _review_all(caller, body.assignment_ids,
                       Decision(APPROVED, body.reason, caller.owner_id, body.override_rejection, actor=caller))


def reject(caller: Caller, body: RejectIn) -> ReviewResults:
    return _review_all(caller, body.assignment_ids, Decision(REJECTED, body.reason, caller.owner_id, actor=caller))


# --- Automatic approval and rules -------------------------------------------------------------
def auto_approve_due(deadline: float) -> dict:
    """The scheduled pass: approve what has waited its project's auto_approve_seconds.

    Reads only the sparse review index, shard by shard from a random one (so a backlog on one
    shard does not starve the others), at most `auto_approve_batch` approvals per run; what
    is left is due at the next run. Two passes at once pay once: each approval is conditional.
    """
    now, approved, skipped = now_ms(), 0, 0
    shards = settings.review_shards
    first = random.randrange(shards)
    project_cache: dict[str, Project] = {}
    for offset in range(shards):
        shard = str((first + offset) % shards)
        for assignment in Assignment.review_due.query(shard, Assignment.review_due_at <= now, page_size=100):
            if time.monotonic() > deadline or approved >= settings.auto_approve_batch:
                return {"approved": approved, "skipped": skipped, "finished": False}
            pid = assignment.project_id
            if pid not in project_cache:
                project_cache[pid] = projects.get(pid)
            try:
                decide(project_cache[pid], assignment, Decision(APPROVED, None, AUTO))
                approved += 1
            except FouleError:
                skipped += 1  # reviewed meanwhile (the index is eventually consistent)
    return {"approved": approved, "skipped": skipped, "finished": True}


def reject_pending_of_worker(project_id: str, worker_id: str, reason: str) -> int:
    """Reject every answer of the worker in the project still awaiting review (a rule's
    action); how many were rejected."""
    project = projects.get(project_id)
    rejected = 0
    waiting = Assignment.by_worker.query(
        worker_id, filter_condition=(Assignment.project_id == project_id) & (Assignment.state == SUBMITTED))
    for assignment in waiting:
        try:
            decide(project, assignment, Decision(REJECTED, reason, RULE))
            rejected += 1
        except FouleError:
            pass  # reviewed meanwhile
    return rejected


# --- The requester's listing ------------------------------------------------------------------
def _out(a: Assignment, owner_id: str) -> ReviewAssignmentOut:
    return ReviewAssignmentOut(assignment_id=a.lease_id, task_id=a.task_id,
                               worker_id=pseudonyms.for_requester(owner_id, a.worker_id),
                               state=a.state, answer=a.answer, submitted_at=int(a.submitted_at),
                               time_spent_ms=None if a.time_spent_ms is None else int(a.time_spent_ms),
                               reward_cents=int(a.reward_cents or 0),
                               auto_approve_at=None if a.review_due_at is None else int(a.review_due_at),
                               reviewed_at=None if a.reviewed_at is None else int(a.reviewed_at),
                               review_reason=a.review_reason, reviewed_by=a.reviewed_by)


def list_page(caller: Caller, project_id: str, state: str | None, limit: int,
              cursor: str | None) -> ReviewAssignmentPage:
    """A project's answered assignments, from the sharded answers index (see sharded_paging)."""
    owner_id = projects.get_owned(caller, project_id).owner_id
    items, next_cursor = sharded_paging.page(
        Assignment, Assignment.answers_by_project, project_id, "answer_shard", ANSWERS_INDEX_KEY, limit, cursor,
        filter_condition=(Assignment.state == state) if state else None)
    return ReviewAssignmentPage(items=[_out(a, owner_id) for a in items], next_cursor=next_cursor)
