"""The worker's side: lease a task, answer it exactly once, release it, read one's record.

Every invariant is enforced by DynamoDB, never by a read followed by a write:
- a lease takes a task slot with a conditional write (see models.tasks.Task), in the same
  transaction that creates the (task, worker) assignment, which may exist only once per pair:
  no over-assignment and no worker twice on a task;
- an answer turns the lease's slot into a permanent one, marks the assignment submitted and
  adds the reward to the counters and to the worker's record, all in one transaction: the
  money is counted once, and a retried submission finds the assignment already submitted and
  gets the first receipt back.
"""
import random

from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from chalicelib.auth import Caller
from chalicelib.errors import Conflict, Forbidden, NotFound
from chalicelib.models import Assignment, Project, Task, WorkerStats
from chalicelib.models.assignments import task_key
from chalicelib.models.base import connection, failed_conditions, now_ms
from chalicelib.models.tasks import ANSWERED
from chalicelib.models.workers import ALL_PROJECTS
from chalicelib.schemas.work import AnswerIn, AnswerReceipt, LeaseOut, Released
from chalicelib.services import counters, leases, ledger, projects, review, rules

TASK_PAGE = 50  # open tasks read per query when looking for work
PAGES_PER_PROJECT = 3
PROJECTS_PER_REQUEST = 10
LEASE_ATTEMPTS = 8


def _slots(task: Task) -> tuple[dict, dict, dict]:
    as_dict = lambda m: m.as_dict() if hasattr(m, "as_dict") else dict(m or {})  # noqa: E731
    return as_dict(task.slot_expiry), as_dict(task.slot_lease), as_dict(task.slot_worker)


def _lease_out(project: Project, task: Task, lease_id: str, expires_at: int) -> LeaseOut:
    # Never the known answer: a worker must not be able to tell a gold task.
    return LeaseOut(lease_id=lease_id, project_id=project.project_id, task_id=task.task_id,
                    payload=task.payload, instructions=project.instructions,
                    answer_type=project.answer_type, reward_cents=int(project.reward_cents),
                    expires_at=expires_at)


class AlreadyAnswered(Exception):
    pass


def _try_lease(worker_id: str, project: Project, task: Task) -> LeaseOut | None:
    """Lease one slot of the task, or None if it has no free slot (now or after a race)."""
    now = now_ms()
    expiry, lease_ids, holders = _slots(task)
    for slot, holder in holders.items():
        if holder == worker_id and expiry.get(slot, 0) >= now:
            if expiry[slot] == ANSWERED:
                raise AlreadyAnswered()
            return _lease_out(project, task, lease_ids[slot], int(expiry[slot]))  # asked again
    free = [str(k) for k in range(int(project.overlap)) if expiry.get(str(k), 0) < now]
    if not free:
        if int(task.answer_count) >= int(project.overlap):
            complete_task(project.project_id, int(project.overlap), task.task_id)
        return None
    slot = free[0]
    reclaimed = str(slot) in expiry  # a lease that ran out without an answer
    lease_id = leases.new_lease_id(project.project_id, task.task_id, worker_id, slot)
    expires_at = now + int(project.lease_seconds) * 1000
    assignment = Assignment(task_key(project.project_id, task.task_id), worker_id,
                            project_id=project.project_id, task_id=task.task_id,
                            lease_id=lease_id, slot=slot, state="leased", leased_at=now,
                            expires_at=expires_at, known_answer=task.known_answer)
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.update(Task(project.project_id, task.task_id),
                      actions=[Task.slot_expiry[slot].set(expires_at),
                               Task.slot_lease[slot].set(lease_id),
                               Task.slot_worker[slot].set(worker_id)],
                      condition=(Task.slot_expiry[slot].does_not_exist() | (Task.slot_expiry[slot] < now))
                      & Task.open_project.exists())
            tx.save(assignment,
                    condition=Assignment.worker_id.does_not_exist() | (Assignment.state == "released")
                    | ((Assignment.state == "leased") & (Assignment.expires_at < now)))
            counters.add_in(tx, project.project_id, leases_granted=1, leases_expired=int(reclaimed))
            if not reclaimed:  # a reclaimed slot keeps the reservation of the lease that expired
                ledger.reserve_in(tx, project, int(project.reward_cents))
    except TransactWriteError as error:
        # The put comes before the updates: the assignment is item 0, the task item 1 (the
        # project's budget, when reserved, is the last).
        assignment_failed, task_failed = (failed_conditions(error) + [False, False])[:2]
        if task_failed:
            return None  # another worker took the slot first
        if assignment_failed:
            raise AlreadyAnswered() from None  # or holds a live lease taken concurrently
        if ledger.budget_failed(error):
            raise ledger.BudgetExhausted() from None
        if ledger.conflicted(error):
            return None  # met another lease of the same budget or task: nothing written, try again
        raise
    return _lease_out(project, task, lease_id, expires_at)


def complete_task(project_id: str, overlap: int, task_id: str) -> None:
    """Take a task with all its answers out of the open index, counting it complete once."""
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.update(Task(project_id, task_id), actions=[Task.open_project.remove()],
                      condition=Task.open_project.exists() & (Task.answer_count >= overlap))
            counters.add_in(tx, project_id, tasks_complete=1)
    except TransactWriteError:
        pass  # already complete, or not yet: nothing to do


def _active_project(project_id: str) -> Project:
    project = projects.get(project_id)
    if project.status != "active":
        raise Conflict(f"The project is {project.status}: it serves no work now.",
                       code="project_not_active")
    return project


def lease_task(caller: Caller, project_id: str, task_id: str) -> LeaseOut:
    project = _active_project(project_id)
    try:
        task = Task.get(project_id, task_id, consistent_read=True)
    except Task.DoesNotExist:
        raise NotFound(f"No task {task_id!r} in this project.", code="task_not_found") from None
    for _ in range(LEASE_ATTEMPTS):
        try:
            lease = _try_lease(caller.owner_id, project, task)
        except AlreadyAnswered:
            raise Conflict("You have already answered this task.", code="already_answered") from None
        except ledger.BudgetExhausted:
            raise ledger.budget_exhausted_error(project_id) from None
        if lease:
            return lease
        task = Task.get(project_id, task_id, consistent_read=True)
        expiry, _, _ = _slots(task)
        now = now_ms()
        if not any(expiry.get(str(k), 0) < now for k in range(int(project.overlap))):
            break
    raise Conflict("This task has no free slot: it has all the answers and leases it needs.",
                   code="task_full")


def _candidate_projects(project_id: str | None) -> list[Project]:
    if project_id:
        return [_active_project(project_id)]
    live = Project.live_projects.query("live", limit=PROJECTS_PER_REQUEST * 2)
    return [p for p in live if p.status == "active"][:PROJECTS_PER_REQUEST]


def next_lease(caller: Caller, project_id: str | None) -> LeaseOut:
    """The next task for this worker: the most urgent live project first, a task it has not
    answered with a free slot. Candidates of a page are tried in random order, so that many
    workers asking at once do not all race for the same slot."""
    worker = caller.owner_id
    for project in _candidate_projects(project_id):
        try:
            lease = _lease_in_project(worker, project)
        except ledger.BudgetExhausted:
            continue  # its budget cannot pay another answer: other projects may
        if lease:
            return lease
    raise NotFound("No task is available for you right now; ask again later.",
                   code="no_task_available", details={"retry_after_seconds": 30})


def _lease_in_project(worker: str, project: Project) -> LeaseOut | None:
    if project.budgeted and int(project.budget_remaining_cents) < int(project.reward_cents):
        return None  # spent (a cheap first look; the lease transaction is what enforces it)
    start = None
    for _ in range(PAGES_PER_PROJECT):
        page = Task.open_tasks.query(project.project_id, limit=TASK_PAGE, last_evaluated_key=start)
        candidates = list(page)
        random.shuffle(candidates)
        for task in candidates:
            try:
                lease = _try_lease(worker, project, task)
            except AlreadyAnswered:
                continue
            if lease:
                return lease
        start = page.last_evaluated_key
        if not start:
            break
    return None


def _own_assignment(caller: Caller, lease_id: str) -> tuple[leases.LeaseRef, Assignment]:
    ref = leases.parse(lease_id)
    if ref.worker_id != caller.owner_id:
        raise Forbidden("This lease belongs to another worker.", code="lease_not_yours")
    try:
        assignment = Assignment.get(task_key(ref.project_id, ref.task_id), ref.worker_id,
                                    consistent_read=True)
    except Assignment.DoesNotExist:
        raise NotFound("No such lease.", code="lease_not_found") from None
    if assignment.lease_id != lease_id:
        raise Conflict("This lease was replaced by a newer one for the same task.", code="lease_superseded")
    return ref, assignment


def _receipt(assignment: Assignment) -> AnswerReceipt:
    return AnswerReceipt(lease_id=assignment.lease_id, project_id=assignment.project_id,
                         task_id=assignment.task_id, answer=assignment.answer,
                         submitted_at=int(assignment.submitted_at),
                         reward_cents=int(assignment.reward_cents))


def submit(caller: Caller, lease_id: str, body: AnswerIn) -> AnswerReceipt:
    ref, assignment = _own_assignment(caller, lease_id)
    if assignment.state == "submitted":
        return _receipt(assignment)  # a retry: the first result, unchanged
    if assignment.state == "released":
        raise Conflict("This lease was released; lease the task again to answer it.", code="lease_released")
    now = now_ms()
    if now > assignment.expires_at:
        raise Conflict("This lease has expired; its slot may have gone to another worker.",
                       code="lease_expired")
    terms = projects.terms(ref.project_id)
    answer = terms.answer_type.check(body.answer)
    reward = terms.reward_cents
    gold = assignment.known_answer is not None
    correct = int(gold and answer == assignment.known_answer)
    slot = ref.slot
    # The reward is pending until the answer is reviewed (services.review).
    worker_actions = [WorkerStats.answers.add(1), WorkerStats.pending_cents.add(reward),
                      WorkerStats.gold_answers.add(int(gold)), WorkerStats.gold_correct.add(correct)]
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.update(Task(ref.project_id, ref.task_id),
                      actions=[Task.slot_expiry[slot].set(ANSWERED), Task.answer_count.add(1)],
                      condition=(Task.slot_lease[slot] == lease_id) & (Task.slot_expiry[slot] >= now))
            tx.update(assignment,
                      actions=[Assignment.state.set("submitted"), Assignment.answer.set(answer),
                               Assignment.submitted_at.set(now), Assignment.reward_cents.set(reward),
                               Assignment.time_spent_ms.set(body.time_spent_ms),
                               Assignment.answer_shard.set(leases.answer_shard(ref.project_id, ref.task_id)),
                               *[getattr(Assignment, name).set(value) for name, value in
                                 review.review_index_keys(terms.auto_approve_seconds, now).items()]],
                      condition=(Assignment.lease_id == lease_id) & (Assignment.state == "leased"))
            counters.add_in(tx, ref.project_id, answers=1, rewards_cents=reward)
            tx.update(WorkerStats(caller.owner_id, ALL_PROJECTS), actions=worker_actions)
            tx.update(WorkerStats(caller.owner_id, ref.project_id), actions=worker_actions)
    except TransactWriteError as error:
        if not any(failed_conditions(error)):
            raise
        # A concurrent retry of the same submission may have won: then its receipt is ours.
        _, latest = _own_assignment(caller, lease_id)
        if latest.state == "submitted":
            return _receipt(latest)
        raise Conflict("This lease has expired; its slot may have gone to another worker.",
                       code="lease_expired") from None
    rules.after_answer(ref.project_id, caller.owner_id,  # QUALITY: the cheap rules
                       answer_seconds=None if body.time_spent_ms is None else body.time_spent_ms / 1000)
    task = Task.get(ref.project_id, ref.task_id, consistent_read=True,
                    attributes_to_get=["project_id", "task_id", "answer_count", "open_project"])
    if int(task.answer_count) >= terms.overlap and task.open_project:
        complete_task(ref.project_id, terms.overlap, ref.task_id)
    assignment.state, assignment.answer, assignment.submitted_at = "submitted", answer, now
    assignment.reward_cents = reward
    return _receipt(assignment)


def release(caller: Caller, lease_id: str) -> Released:
    """Give a task back (skip it): its slot is free again at once."""
    ref, assignment = _own_assignment(caller, lease_id)
    if assignment.state == "released":
        return Released(lease_id=lease_id)
    if assignment.state == "submitted":
        raise Conflict("This lease was already answered.", code="already_submitted")
    slot = ref.slot
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.update(Task(ref.project_id, ref.task_id),
                      actions=[Task.slot_expiry[slot].remove(), Task.slot_lease[slot].remove(),
                               Task.slot_worker[slot].remove()],
                      condition=Task.slot_lease[slot] == lease_id)
            tx.update(assignment, actions=[Assignment.state.set("released")],
                      condition=(Assignment.lease_id == lease_id) & (Assignment.state == "leased"))
            counters.add_in(tx, ref.project_id, leases_released=1)
            terms = projects.terms(ref.project_id)
            ledger.release_in(tx, terms, terms.reward_cents)
        rules.after_answer(ref.project_id, caller.owner_id)  # QUALITY: skipped_in_row
    except TransactWriteError as error:
        if not any(failed_conditions(error)):
            raise
        _, latest = _own_assignment(caller, lease_id)
        if latest.state == "submitted":
            raise Conflict("This lease was already answered.", code="already_submitted") from None
        if latest.state == "leased":
            # The lease had expired and its slot went to someone else: only the assignment changes.
            try:
                latest.update(actions=[Assignment.state.set("released")],
                              condition=(Assignment.lease_id == lease_id) & (Assignment.state == "leased"))
            except UpdateError:
                pass  # changed again meanwhile; released or answered either way
    return Released(lease_id=lease_id)
