"""Lifecycle of leases and tasks beyond lease/answer/return: extension, expiry, cancellation,
a worker's history, and a batch of answers from a client back online.

Assignment states written here and in services/work: leased -> submitted | returned | expired
(review moves submitted on). "expired" is also derived at read: a leased assignment past its
expiry is expired whether or not the cleanup pass has written it yet.
"""
import time

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.auth import Caller
from chalicelib.errors import Conflict, FouleError
from chalicelib.models import Assignment, Project, Task, WorkerStats
from chalicelib.models.base import connection, failed_conditions, now_ms
from chalicelib.models.tasks import ANSWERED
from chalicelib.models.assignments import task_key
from chalicelib.schemas.work import (AnswerBatch, AnswerBatchItemResult, AnswerBatchResult, AssignmentOut,
                                     AssignmentPage, ExtendIn, LeaseExtended)
from chalicelib.schemas.tasks import CancelRequest, CancelResult, CancelOutcome
from chalicelib.services import counters, gold, ledger, open_tasks, paging, projects, work
from chalicelib.settings import settings


def state_of(assignment: Assignment, now: int) -> str:
    """The state a reader sees: "released" items read as returned, a lapsed lease as expired."""
    if assignment.state == "released":
        return "returned"
    if assignment.state == "leased" and int(assignment.expires_at) < now:
        return "expired"
    return assignment.state


# --- Extension ----------------------------------------------------------------------------
def extend(caller: Caller, lease_id: str, body: ExtendIn) -> LeaseExtended:
    """Extend one's own live lease, once, by at most the project's max_lease_extension_seconds."""
    ref, assignment = work.own_assignment(caller, lease_id)
    limit = int(projects.get(ref.project_id).max_lease_extension_seconds or 0)
    if limit <= 0:
        raise Conflict("This project does not allow lease extensions.", code="extension_not_allowed")
    seconds = body.seconds if body.seconds is not None else limit
    if seconds > limit:
        raise Conflict(f"A lease can be extended by at most {limit} seconds here.",
                       code="extension_too_long", details={"max_seconds": limit})
    now = now_ms()
    if state_of(assignment, now) != "leased":
        raise Conflict("Only a live lease can be extended.", code="lease_not_live",
                       details={"state": state_of(assignment, now)})
    if assignment.extended_at is not None:
        raise Conflict("This lease was already extended once.", code="already_extended")
    expires_at = int(assignment.expires_at) + seconds * 1000
    try:
        with TransactWrite(connection=connection()) as tx:
            if ref.slot != gold.GOLD_SLOT:
                tx.update(Task(ref.project_id, ref.task_id), actions=[Task.slot_expiry[ref.slot].set(expires_at)],
                          condition=(Task.slot_lease[ref.slot] == lease_id) & (Task.slot_expiry[ref.slot] >= now)
                          & (Task.slot_expiry[ref.slot] < ANSWERED))
            else:  # no slot to extend, but its entry changes as a real one's (no timing tell)
                tx.update(Task(ref.project_id, ref.task_id), actions=gold.entry_update(assignment, expires_at))
            tx.update(assignment, actions=[Assignment.expires_at.set(expires_at), Assignment.extended_at.set(now)],
                      condition=(Assignment.lease_id == lease_id) & (Assignment.state == "leased")
                      & (Assignment.expires_at >= now) & Assignment.extended_at.does_not_exist())
    except TransactWriteError as error:
        if not any(failed_conditions(error)):
            raise
        _, latest = work.own_assignment(caller, lease_id)
        if latest.extended_at is not None:
            raise Conflict("This lease was already extended once.", code="already_extended") from None
        raise Conflict("Only a live lease can be extended.", code="lease_not_live",
                       details={"state": state_of(latest, now_ms())}) from None
    return LeaseExtended(lease_id=lease_id, expires_at=expires_at)


# --- A batch of answers -------------------------------------------------------------------
def submit_batch(caller: Caller, body: AnswerBatch) -> AnswerBatchResult:
    """Each item is submitted on its own, exactly as POST /leases/{id}/answer: a retried item
    gets its first receipt back, a failed one its own error; one never affects another."""
    results = []
    for item in body.answers:
        try:
            receipt = work.submit(caller, item.lease_id, item)
            results.append(AnswerBatchItemResult(lease_id=item.lease_id, status="submitted", receipt=receipt))
        except FouleError as error:
            results.append(AnswerBatchItemResult(lease_id=item.lease_id, status="error",
                                                 error={"code": error.code, "message": error.message,
                                                        "details": error.details}))
    return AnswerBatchResult(results=results,
                             submitted=sum(r.status == "submitted" for r in results),
                             failed=sum(r.status == "error" for r in results))


# --- A worker's history -------------------------------------------------------------------
def history(caller: Caller, limit: int, cursor: str | None) -> AssignmentPage:
    start = paging.decode(cursor, {"task_key": "S", "worker_id": "S", "leased_at": "N"},
                          "worker_id", caller.owner_id)
    page = Assignment.by_worker.query(caller.owner_id, limit=limit, last_evaluated_key=start,
                                      scan_index_forward=False)
    now = now_ms()
    items = [AssignmentOut(lease_id=a.lease_id, project_id=a.project_id, task_id=a.task_id,
                           state=state_of(a, now), answer=a.answer, reward_cents=int(a.reward_cents or 0),
                           leased_at=int(a.leased_at), expires_at=int(a.expires_at),
                           submitted_at=_ms(a.submitted_at), **review_of(a))
             for a in page]
    return AssignmentPage(items=items, next_cursor=paging.encode(page.last_evaluated_key))


def _ms(value) -> int | None:
    return None if value is None else int(value)


def review_of(assignment: Assignment) -> dict:
    """What the worker is told of its answer's review (the README's promise: a rejection's
    reason is shown to the worker): when, by whom (the requester is not named), why, and
    until when it waits. Nothing here depends on whether the task was gold: gold answers go
    through the same review (services/work), and no known answer or "correct" flag is shown."""
    by = assignment.reviewed_by
    return {"reviewed_at": _ms(assignment.reviewed_at),
            "reviewed_by": None if by is None else (by if by in ("auto", "rule") else "requester"),
            "review_reason": assignment.review_reason, "auto_approve_at": _ms(assignment.review_due_at)}


# --- Cancelling tasks ---------------------------------------------------------------------
def cancel(caller: Caller, project_id: str, body: CancelRequest) -> CancelResult:
    """Cancel tasks: they serve no more work. Live leases on them stay answerable (and paid):
    the worker took the task in good faith, and its answer is kept."""
    projects.get_owned(caller, project_id)
    now = now_ms()
    outcomes = []
    found = {t.task_id: t for t in Task.batch_get([(project_id, t) for t in dict.fromkeys(body.task_ids)],
                                                  attributes_to_get=["project_id", "task_id", "open_project",
                                                                     "gold_project", "cancelled_at"])}
    for task_id in dict.fromkeys(body.task_ids):
        task = found.get(task_id)
        outcomes.append(CancelOutcome(task_id=task_id, status=_cancel_one(project_id, task, now)))
    return CancelResult(results=outcomes)


def _cancel_one(project_id: str, task: Task | None, now: int) -> str:
    if task is None:
        return "not_found"
    if task.cancelled_at is not None:
        return "already_cancelled"
    if not task.open_project and not task.gold_project:
        return "complete"
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.update(Task(project_id, task.task_id),
                      actions=[Task.open_project.remove(), Task.gold_project.remove(), Task.cancelled_at.set(now)],
                      condition=Task.cancelled_at.does_not_exist()
                      & (Task.open_project.exists() | Task.gold_project.exists()))
            if not task.gold_project:
                counters.add_in(tx, project_id, tasks_cancelled=1)
    except TransactWriteError as error:
        if not any(failed_conditions(error)):
            raise
        latest = Task.get(project_id, task.task_id, consistent_read=True)
        return "already_cancelled" if latest.cancelled_at is not None else "complete"
    return "cancelled"


# --- Cleanup pass: expired leases ---------------------------------------------------------
def purge_time(expired_at_ms: int) -> int:
    """When DynamoDB may delete an expired lease's assignment (epoch seconds, its time to
    live): nobody needs it once the worker's recent history no longer shows it."""
    return expired_at_ms // 1000 + settings.expired_lease_retention_days * 86400


def _release_reservation(tx, project_id: str) -> None:
    """The budget a lapsed lease reserved goes back: its freed slot, when leased again, is a
    never-used slot for the ledger and reserves anew (work._try_lease `reclaimed`)."""
    terms = projects.terms(project_id)
    ledger.release_in(tx, terms, terms.reward_cents)


def expire_slot(project_id: str, task: Task, slot: str, now: int) -> bool:
    """Mark one lapsed lease's assignment expired and free its slot, in one transaction."""
    lease_id, worker_id = task.slot_lease[slot], task.slot_worker[slot]
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.update(Task(project_id, task.task_id),
                      actions=[Task.slot_expiry[slot].remove(), Task.slot_lease[slot].remove(),
                               Task.slot_worker[slot].remove()],
                      condition=(Task.slot_lease[slot] == lease_id) & (Task.slot_expiry[slot] < now))
            tx.update(Assignment(task_key(project_id, task.task_id), worker_id),
                      actions=[Assignment.state.set("expired"), Assignment.purge_at.set(purge_time(now))],
                      condition=(Assignment.lease_id == lease_id) & (Assignment.state == "leased"))
            counters.add_in(tx, project_id, leases_expired=1)
            tx.update(WorkerStats(worker_id, project_id), actions=[WorkerStats.skipped_in_row.add(1)])
            _release_reservation(tx, project_id)
    except TransactWriteError as error:
        if not any(failed_conditions(error)):
            raise
        return False  # answered, returned, extended or re-leased meanwhile
    return True


def expire_gold(project_id: str, assignment: Assignment, now: int) -> bool:
    """Mark one lapsed gold lease expired (it holds no slot: only the assignment changes)."""
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.update(assignment, actions=[Assignment.state.set("expired"), Assignment.live_gold.remove(),
                                           Assignment.purge_at.set(purge_time(now))],
                      condition=(Assignment.lease_id == assignment.lease_id) & (Assignment.state == "leased")
                      & (Assignment.expires_at < now))
            if assignment.gold_slot is not None:  # its entry goes, as a lapsed real lease's slot
                tx.update(Task(project_id, assignment.task_id), actions=gold.entry_update(assignment, remove=True))
            tx.update(WorkerStats(assignment.worker_id, project_id), actions=[WorkerStats.skipped_in_row.add(1)])
            _release_reservation(tx, project_id)
    except TransactWriteError as error:
        if not any(failed_conditions(error)):
            raise
        return False  # answered, returned or extended meanwhile
    return True


def sweep_gold(project: Project, now: int, deadline: float, page_size: int = 100) -> int:
    """Expire the project's lapsed gold leases: they leave the live_gold index as they go, so
    each pass reads only lapsed ones, oldest first."""
    expired = 0
    while time.monotonic() < deadline:
        page = list(Assignment.live_gold_leases.query(project.project_id, Assignment.expires_at < now,
                                                      limit=page_size))
        done = sum(expire_gold(project.project_id, a, now) for a in page)
        expired += done
        if len(page) < page_size or not done:  # the end, or only index lag left: next pass
            break
    return expired


def lapsed_slots(task: Task, now: int) -> list[str]:
    expiry = work.slots(task)[0]
    return [slot for slot, at in expiry.items() if int(at) < now]


def sweep_project(project: Project, deadline: float, page_size: int = 100) -> int:
    """Expire the lapsed leases of one project: its open tasks' slots, resuming from the
    project's cursor, then its gold leases."""
    now = now_ms()
    expired = 0

    def visit(task: Task) -> None:
        nonlocal expired
        expired += sum(expire_slot(project.project_id, task, slot, now) for slot in lapsed_slots(task, now))

    walk(project, "lease_sweep", lambda start: open_tasks.walk_pages(project, page_size, start), visit, deadline)
    return expired + sweep_gold(project, now, deadline, page_size)


def walk(project: Project, cursor_name: str, query_page, visit, deadline: float) -> bool:
    """Visit a project's items page by page from the cursor kept on the project (a JSON map
    attribute named `cursor_name`), saving it after each page; True when the walk is complete
    (the cursor is then cleared), False when the deadline stopped it."""
    attribute = getattr(Project, cursor_name)
    start = (getattr(project, cursor_name) or {}).get("cursor")
    resumed = start is not None
    while time.monotonic() < deadline:
        page = query_page(start)
        for item in page:
            visit(item)
        start = page.last_evaluated_key
        if not start:
            if resumed:  # a walk that fits in one page never writes its cursor
                project.update(actions=[attribute.remove()])
            return True
        project.update(actions=[attribute.set({"cursor": start})])
        resumed = True
    return False
