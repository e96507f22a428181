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
import time

from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.transactions import TransactGet, TransactWrite

from chalicelib import observability
from chalicelib.auth import Caller
from chalicelib.errors import Conflict, Forbidden, NotFound
from chalicelib.models import Assignment, Project, Task, WorkerStats
from chalicelib.models.assignments import answer_shard, replaceable, task_key
from chalicelib.models.base import connection, conflicted, failed_conditions, now_ms
from chalicelib.models.tasks import ANSWERED
from chalicelib.models.workers import ALL_PROJECTS
from chalicelib.schemas.work import AnswerIn, AnswerReceipt, LeaseOut, Released
from chalicelib.services import (counters, gates, gold, leases, ledger, live, open_tasks, profiles,
                                 projects, review, rules, views)

# What one /work/next may try, so that its store calls are bounded whatever the number of live
# projects and open tasks: a window of live projects (services/live), then at most
# PROJECTS_PER_REQUEST of them, and in each at most SAMPLES_PER_PROJECT samples of its open
# tasks (services/open_tasks), each followed by at most LEASES_PER_PROJECT lease transactions.
PROJECTS_PER_REQUEST = 3
LEASES_PER_PROJECT = 4
SAMPLES_PER_PROJECT = 3  # another sample only when every slot tried was lost to a race
LEASE_ATTEMPTS = 8  # leasing one task by id: retries after a race for its slots
rng = random.Random()  # where work is looked for (tests may seed it)


def slots(task: Task) -> tuple[dict, dict, dict]:
    as_dict = lambda m: m.as_dict() if hasattr(m, "as_dict") else dict(m or {})  # noqa: E731
    return as_dict(task.slot_expiry), as_dict(task.slot_lease), as_dict(task.slot_worker)


def _lease_out(project: Project, task: Task, lease_id: str, expires_at: int) -> LeaseOut:
    # Never the known answer: a worker must not be able to tell a gold task. The view and the
    # media URLs come from the project and the payload alone, the same way for gold and real.
    return LeaseOut(lease_id=lease_id, project_id=project.project_id, task_id=task.task_id,
                    title=project.title, payload=task.payload, instructions=project.instructions,
                    view=views.lease_view(project, task.payload), media=views.lease_media(project, task.payload),
                    answer_type=project.answer_type, reward_cents=int(project.reward_cents),
                    expires_at=expires_at)


class AlreadyAnswered(Exception):
    pass


def task_overlap(project: Project, task: Task) -> int:
    """The task's slots: its own overlap, or the project's for tasks older than per-task overlap."""
    return int(task.overlap if task.overlap is not None else project.overlap)


def _try_lease(worker_id: str, project: Project, task: Task) -> LeaseOut | None:
    """Lease one slot of the task, or None if it has no free slot (now or after a race)."""
    now = now_ms()
    overlap = task_overlap(project, task)
    expiry, lease_ids, holders = slots(task)
    for slot, holder in holders.items():
        if holder == worker_id and expiry.get(slot, 0) >= now:
            if expiry[slot] == ANSWERED:
                raise AlreadyAnswered()
            return _lease_out(project, task, lease_ids[slot], int(expiry[slot]))  # asked again
    # Slots beyond a lowered overlap may still hold live leases or answers: they count, so a
    # task does not collect more than its new overlap (best effort: the slot condition below
    # is what guarantees never more than the slots that exist).
    held = sum(1 for at in expiry.values() if at >= now)
    free = [str(k) for k in range(overlap) if expiry.get(str(k), 0) < now] if held < overlap else []
    if not free:
        if int(task.answer_count) >= overlap:
            complete_task(project.project_id, task.task_id, overlap)
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
            tx.save(assignment, condition=Assignment.worker_id.does_not_exist() | replaceable(now))
            counters.add_in(tx, project.project_id, leases_granted=1, leases_expired=int(reclaimed))
            tx.update(WorkerStats(worker_id, project.project_id), actions=[WorkerStats.served.add(1)])
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
        if conflicted(error):
            return None  # met another lease of the same budget or task: nothing written, try again
        raise
    observability.metric(observability.LEASES_GRANTED, 1)
    return _lease_out(project, task, lease_id, expires_at)


def complete_task(project_id: str, task_id: str, overlap: int) -> None:
    """Take a task with all its answers out of the open index, counting it complete once.

    `overlap` is the task's overlap as read; the condition also holds if it was lowered
    since, and fails if it was raised (the task then needs more answers)."""
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.update(Task(project_id, task_id), actions=[Task.open_project.remove()],
                      condition=Task.open_project.exists() & (Task.answer_count >= overlap)
                      & (Task.overlap.does_not_exist() | (Task.overlap <= overlap)))
            counters.add_in(tx, project_id, tasks_complete=1)
    except TransactWriteError:
        pass  # already complete, or not yet: nothing to do


def _serves_work(project: Project, now: int) -> str | None:
    """Why this project serves no work now (an error code), or None if it does."""
    if project.status != "active":
        return "project_not_active"
    if project.expires_at is not None and now >= int(project.expires_at):
        return "project_expired"
    return None


def _active_project(project_id: str) -> Project:
    project = projects.get(project_id)
    reason = _serves_work(project, now_ms())
    if reason == "project_expired":
        raise Conflict("The project has expired: it serves no more work.", code=reason,
                       details={"expires_at": int(project.expires_at)})
    if reason:
        raise Conflict(f"The project is {project.status}: it serves no work now.", code=reason)
    return project


def _gold_lease_out(worker_id: str, project: Project, task: Task, held: Assignment | None) -> LeaseOut:
    """A specific gold task, leased as a real one: asking again returns the live lease, one
    given back or run out may be leased again, an answered one is already_answered."""
    now = now_ms()
    if held is None or held.state in (*RETURNED, "expired", "leased"):
        if held is not None and held.state == "leased" and int(held.expires_at) >= now:
            return _lease_out(project, task, held.lease_id, int(held.expires_at))  # asked again
        leased = gold.try_lease(worker_id, project, task, [])
        if leased:
            return _lease_out(project, task, *leased)
        held = _assignment(task, worker_id)  # cancelled, or leased by a concurrent request
        if held is not None and held.state == "leased" and int(held.expires_at) >= now_ms():
            return _lease_out(project, task, held.lease_id, int(held.expires_at))
        if held is None:
            raise Conflict("This task was cancelled.", code="task_cancelled")
    raise Conflict("You have already answered this task.", code="already_answered")


def _assignment(task: Task, worker_id: str) -> Assignment | None:
    try:
        return Assignment.get(task_key(task.project_id, task.task_id), worker_id, consistent_read=True)
    except Assignment.DoesNotExist:
        return None


def _task_and_assignment(project_id: str, task_id: str, worker_id: str) -> tuple[Task, Assignment | None]:
    """The task and the worker's assignment of it, in one read whether gold or real: a gold
    task is found leased through its assignment, a real one through its slots, and the two
    must cost the same store calls (a worker can time them)."""
    with TransactGet(connection=connection()) as read:
        task, held = read.get(Task, project_id, task_id), read.get(Assignment, task_key(project_id, task_id), worker_id)
    try:
        task = task.get()
    except Task.DoesNotExist:
        raise NotFound(f"No task {task_id!r} in this project.", code="task_not_found") from None
    try:
        return task, held.get()
    except Assignment.DoesNotExist:
        return task, None


def lease_task(caller: Caller, project_id: str, task_id: str) -> LeaseOut:
    project = _active_project(project_id)
    task, held = _task_and_assignment(project_id, task_id, caller.owner_id)
    records = gates.stats_of(caller.owner_id, [project_id])
    profiles.check_terms(caller, records[ALL_PROJECTS])
    stats = records[project_id]
    gates.check(project, stats, now_ms(), records[ALL_PROJECTS])
    if gates.in_qualification(project, stats):  # for gold too: no task id may probe which is gold
        required = int(project.qualification["gold_tasks"])
        raise Forbidden("Answer this project's test tasks first (ask /work/next for them).",
                        code="qualification_pending",
                        details={"answered": int(stats.gold_answers or 0), "required": required})
    if task.gold_project:
        try:
            return _gold_lease_out(caller.owner_id, project, task, held)
        except ledger.BudgetExhausted:
            raise ledger.budget_exhausted_error(project_id) from None
    if task.cancelled_at is not None:
        raise Conflict("This task was cancelled.", code="task_cancelled")
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
        expiry, _, _ = slots(task)
        now = now_ms()
        if not task.open_project or not any(expiry.get(str(k), 0) < now
                                            for k in range(task_overlap(project, task))):
            break
    raise Conflict("This task has no free slot: it has all the answers and leases it needs.",
                   code="task_full")


def has_work(project: Project, now: int) -> bool:
    """A cheap look at a live project read from the index (the lease transaction enforces)."""
    spent = project.budgeted and int(project.budget_remaining_cents) < int(project.reward_cents)
    return _serves_work(project, now) is None and not spent


def _candidate_projects(project_id: str | None) -> list[Project]:
    """The project asked for, or a window of live projects that serve work now, in the
    weighted random order of services/live (fair between tenants, priority within one)."""
    if project_id:
        return [_active_project(project_id)]
    now = now_ms()
    return live.weighted_order([p for p in live.window(rng) if has_work(p, now)], rng)


def _may_lease(worker: str, project: Project, task: Task, now: int) -> bool:
    """Whether the task, as read, may give this worker a lease (a free slot it has not
    answered, or its own live lease): the others would cost a transaction for nothing."""
    expiry, _, holders = slots(task)
    if any(holder == worker and expiry.get(slot, 0) >= now for slot, holder in holders.items()):
        return all(expiry[slot] != ANSWERED for slot, holder in holders.items() if holder == worker)
    overlap = task_overlap(project, task)
    return sum(1 for at in expiry.values() if at >= now) < overlap and \
        any(expiry.get(str(k), 0) < now for k in range(overlap))


def _next_real(worker: str, project: Project) -> LeaseOut | None:
    """A real task of this project with a free slot that the worker has not answered, from a
    random sample of its open tasks: many workers asking at once spread over all of them
    instead of racing for the first ones. When every slot tried went to other workers first,
    free tasks may remain: a fresh sample (which no longer shows the slots taken) is tried."""
    for _ in range(SAMPLES_PER_PROJECT):
        now = now_ms()
        candidates = open_tasks.sample(project, rng, lambda task: _may_lease(worker, project, task, now))
        rng.shuffle(candidates)
        lost_race = False
        for task in candidates[:LEASES_PER_PROJECT]:
            try:
                lease = _try_lease(worker, project, task)
            except AlreadyAnswered:
                continue
            if lease:
                return lease
            lost_race = True
        if not lost_race:
            return None  # nothing usable in the sample, or only tasks this worker answered
    return None


def _next_in(worker: str, project: Project, stats: WorkerStats) -> LeaseOut | None:
    """Gold when the worker's mixing plan (or qualification) says so, else a real task."""
    if project.budgeted and int(project.budget_remaining_cents) < int(project.reward_cents):
        return None  # spent (a cheap first look; the lease transaction is what enforces it)
    plan = gates.plan(project, stats)
    if plan.mode != gates.NO_GOLD:
        found = gold.next_for(worker, project, stats, plan.block)
        if found:
            return _lease_out(project, *found)
        if plan.mode == gates.ONLY_GOLD:
            return None
    return _next_real(worker, project)


def next_lease(caller: Caller, project_id: str | None) -> LeaseOut:
    """The next task for this worker: from the project asked for, or from live projects chosen
    fairly (services/live) among those whose gates it passes (asked for one project, a gate
    that fails is its 403)."""
    worker = caller.owner_id
    candidates = _candidate_projects(project_id)
    all_stats = gates.stats_of(worker, [p.project_id for p in candidates])
    profiles.check_terms(caller, all_stats[ALL_PROJECTS])
    now = now_ms()
    tried = 0
    for project in candidates:
        stats = all_stats[project.project_id]
        try:
            gates.check(project, stats, now, all_stats[ALL_PROJECTS])
        except Forbidden:
            if project_id:
                raise
            continue
        if tried == PROJECTS_PER_REQUEST:
            break
        tried += 1
        try:
            lease = _next_in(worker, project, stats)
        except ledger.BudgetExhausted:
            continue  # its budget cannot pay another answer: other projects may
        if lease:
            return lease
    raise NotFound("No task is available for you right now; ask again later.",
                   code="no_task_available", details={"retry_after_seconds": 30})


def own_assignment(caller: Caller, lease_id: str) -> tuple[leases.LeaseRef, Assignment]:
    ref = leases.parse(lease_id)
    if ref.worker_id != caller.owner_id:
        raise Forbidden("This lease belongs to another worker.", code="lease_not_yours")
    try:
        assignment = Assignment.get(task_key(ref.project_id, ref.task_id), ref.worker_id,
                                    consistent_read=True)
    except Assignment.DoesNotExist:
        raise NotFound("No such lease.", code="lease_not_found") from None
    if assignment.lease_id != lease_id and ref.legacy:  # anyone can write an unsealed id
        raise NotFound("No such lease.", code="lease_not_found")
    if assignment.lease_id != lease_id:
        raise Conflict("This lease was replaced by a newer one for the same task.", code="lease_superseded")
    return ref, assignment


def _receipt(assignment: Assignment) -> AnswerReceipt:
    return AnswerReceipt(lease_id=assignment.lease_id, project_id=assignment.project_id,
                         task_id=assignment.task_id, answer=assignment.answer,
                         submitted_at=int(assignment.submitted_at),
                         reward_cents=int(assignment.reward_cents))


def task_payload(ref) -> dict:
    """The task's payload, for a kind whose answers are checked against it (pairwise: the two
    items; boxes: the image's size). Tasks are never changed once written: any read will do."""
    try:
        return Task.get(ref.project_id, ref.task_id, attributes_to_get=["payload"]).payload or {}
    except Task.DoesNotExist:
        raise NotFound("This lease's task no longer exists.", code="task_not_found") from None


RETURNED = ("returned", "released")  # "released": items written before the rename
CONFLICT_RETRIES = 3


def _retrying_conflicts(write) -> None:
    """Run a transaction, again after a short random wait when DynamoDB cancelled it only
    because another transaction held one of its items (TransactionConflict: nothing was
    written). A popular project's answers meet on its counters and tasks: without this each
    such meeting was a 500 the worker's phone had to retry."""
    for attempt in range(CONFLICT_RETRIES + 1):
        try:
            return write()
        except TransactWriteError as error:
            if attempt == CONFLICT_RETRIES or not conflicted(error) or any(failed_conditions(error)):
                raise
            time.sleep(rng.uniform(0.005, 0.02) * 2 ** attempt)


def submit(caller: Caller, lease_id: str, body: AnswerIn) -> AnswerReceipt:
    ref, assignment = own_assignment(caller, lease_id)
    if assignment.state not in ("leased", *RETURNED, "expired"):
        return _receipt(assignment)  # a retry (the answer may be reviewed since): the first result
    if assignment.state in RETURNED:
        raise Conflict("This lease was given back; lease the task again to answer it.", code="lease_returned")
    now = now_ms()
    if assignment.state == "expired" or now > assignment.expires_at:
        raise Conflict("This lease has expired; its slot may have gone to another worker.",
                       code="lease_expired")
    terms = projects.terms(ref.project_id)
    answer = terms.answer_type.check(body.answer, task_payload(ref) if terms.answer_type.needs_payload else None)
    reward = terms.reward_cents
    gold_task = assignment.known_answer is not None
    correct = int(gold_task and terms.answer_type.matches_gold(answer, assignment.known_answer))
    slot = ref.slot
    slotless = slot == gold.GOLD_SLOT
    # The reward is pending until the answer is reviewed (services.review).
    worker_actions = [WorkerStats.answers.add(1), WorkerStats.pending_cents.add(reward),
                      WorkerStats.gold_answers.add(int(gold_task)), WorkerStats.gold_correct.add(correct)]

    def write() -> None:
        with TransactWrite(connection=connection()) as tx:
            if slotless:  # a gold task: any number of answers, one per worker (the assignment)
                tx.update(Task(ref.project_id, ref.task_id),
                          actions=[*gold.entry_update(assignment, ANSWERED), Task.answer_count.add(1)])
            else:
                tx.update(Task(ref.project_id, ref.task_id),
                          actions=[Task.slot_expiry[slot].set(ANSWERED), Task.answer_count.add(1)],
                          condition=(Task.slot_lease[slot] == lease_id) & (Task.slot_expiry[slot] >= now))
            tx.update(assignment,
                      actions=[Assignment.state.set("submitted"), Assignment.answer.set(answer),
                               Assignment.submitted_at.set(now), Assignment.reward_cents.set(reward),
                               Assignment.time_spent_ms.set(body.time_spent_ms),
                               Assignment.answer_shard.set(answer_shard(ref.project_id, ref.task_id)),
                               *[getattr(Assignment, name).set(value) for name, value in
                                 review.review_index_keys(terms.auto_approve_seconds, now).items()],
                               *([Assignment.live_gold.remove()] if slotless else [])],
                      condition=(Assignment.lease_id == lease_id) & (Assignment.state == "leased")
                      & (Assignment.expires_at >= now))
            counters.add_in(tx, ref.project_id, answers=1, gold_answers=int(slotless), rewards_cents=reward)
            tx.update(WorkerStats(caller.owner_id, ALL_PROJECTS), actions=worker_actions)
            tx.update(WorkerStats(caller.owner_id, ref.project_id),
                      actions=worker_actions + [WorkerStats.skipped_in_row.set(0)])

    try:
        _retrying_conflicts(write)
    except TransactWriteError as error:
        if not any(failed_conditions(error)):
            raise
        # A concurrent retry of the same submission may have won: then its receipt is ours.
        _, latest = own_assignment(caller, lease_id)
        if latest.state not in ("leased", *RETURNED, "expired"):
            return _receipt(latest)
        raise Conflict("This lease has expired; its slot may have gone to another worker.",
                       code="lease_expired") from None
    rules.after_answer(ref.project_id, caller.owner_id,  # the cheap rules
                       answer_seconds=None if body.time_spent_ms is None else body.time_spent_ms / 1000)
    # Read for a gold answer too: the same store calls for both, so no latency tells gold.
    task = Task.get(ref.project_id, ref.task_id, consistent_read=True,
                    attributes_to_get=["project_id", "task_id", "answer_count", "open_project", "overlap"])
    if not slotless:
        overlap = int(task.overlap) if task.overlap is not None else projects.get(ref.project_id).overlap
        if int(task.answer_count) >= overlap and task.open_project:
            complete_task(ref.project_id, ref.task_id, int(overlap))
    assignment.state, assignment.answer, assignment.submitted_at = "submitted", answer, now
    assignment.reward_cents = reward
    observability.metric(observability.ANSWERS_ACCEPTED, 1)
    return _receipt(assignment)


def release(caller: Caller, lease_id: str) -> Released:
    """Give a task back (skip it): its slot is free again at once. A gold task given back is
    not served to this worker again."""
    ref, assignment = own_assignment(caller, lease_id)
    if assignment.state in RETURNED:
        return Released(lease_id=lease_id)
    if assignment.state not in ("leased", "expired"):
        raise Conflict("This lease was already answered.", code="already_submitted")
    slot = ref.slot
    try:
        with TransactWrite(connection=connection()) as tx:
            if slot != gold.GOLD_SLOT:
                tx.update(Task(ref.project_id, ref.task_id),
                          actions=[Task.slot_expiry[slot].remove(), Task.slot_lease[slot].remove(),
                                   Task.slot_worker[slot].remove()],
                          condition=Task.slot_lease[slot] == lease_id)
            else:  # no slot to free, but its entry goes as a real one's: its time tells nothing
                tx.update(Task(ref.project_id, ref.task_id), actions=gold.entry_update(assignment, remove=True))
            tx.update(assignment, actions=[Assignment.state.set("returned"), Assignment.live_gold.remove()],
                      condition=(Assignment.lease_id == lease_id) & (Assignment.state == "leased"))
            counters.add_in(tx, ref.project_id, **({"gold_leases_returned": 1} if slot == gold.GOLD_SLOT
                                                   else {"leases_released": 1}))
            tx.update(WorkerStats(caller.owner_id, ref.project_id), actions=[WorkerStats.skipped_in_row.add(1)])
            terms = projects.terms(ref.project_id)
            ledger.release_in(tx, terms, terms.reward_cents)
        rules.after_answer(ref.project_id, caller.owner_id)  # skipped_in_row
    except TransactWriteError as error:
        if not any(failed_conditions(error)):
            raise
        _, latest = own_assignment(caller, lease_id)
        if latest.state not in ("leased", *RETURNED, "expired"):
            raise Conflict("This lease was already answered.", code="already_submitted") from None
        if latest.state == "leased":
            # The lease had expired and its slot went to someone else: only the assignment changes.
            try:
                latest.update(actions=[Assignment.state.set("returned"), Assignment.live_gold.remove()],
                              condition=(Assignment.lease_id == lease_id) & (Assignment.state == "leased"))
            except UpdateError:
                pass  # changed again meanwhile; returned or answered either way
    return Released(lease_id=lease_id)
