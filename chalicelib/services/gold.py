"""Gold tasks in a worker's stream: leased without a slot, each served once per worker.

A gold task has no slot limit: any number of workers answer it. What keeps a worker from
answering it twice is the one assignment per (task, worker): a gold lease puts it only if it
does not exist or was given back or ran out, exactly as a real task's lease (services/work),
so that leasing, giving back and leasing again look the same for gold and real work.

Order: the stream reads the gold index a window at a time (the tasks after the worker's
cursor, a page as large as the real path's) and serves the window's tasks in an order keyed
per worker by the deployment's secret, so no two workers meet gold in the same order and none
can predict it. The worker's record keeps the window's tasks already served; the lease of the
window's last one moves the cursor past the window.

Slot entries: a real task's item carries a lease id, a worker id and an expiry per taken slot,
and every step of a real lease reads or writes them. A gold task's item carries entries of the
same shape and sizes, written by the same steps (a lease adds one at the lowest free slot, an
extension or an answer changes its expiry, a return or a lapse removes it; when all `overlap`
are written the next lease starts them over, as a real task fills and leaves the open index),
so that reading or writing a gold task costs the store what a real one does and its latency
tells nothing. They are padding (random values, no worker's id): nothing decides by them.
"""
import secrets

from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from chalicelib import observability, sealing
from chalicelib.models import Assignment, Project, Task, WorkerStats
from chalicelib.models.assignments import replaceable, task_key
from chalicelib.models.base import connection, conflicted, failed_conditions, now_ms
from chalicelib.services import counters, leases, ledger, open_tasks
from chalicelib.services.leases import GOLD_SLOT  # noqa: F401  (its home is the lease id's layout)

# A write that changes nothing, for gold leases taken before they wrote slot entries: where a
# real step updates its task's slot, the gold path updates the task too (the same store work).
UNCHANGED = Task.answer_count.add(0)
GOLD_PAGE = open_tasks.PAGE  # as many tasks as the real path's sample reads: the same work for both
GOLD_PAGES = 3


def _padding(like: str) -> str:
    """A random value as long as `like` (a lease id or a worker id): the size, not the content."""
    return secrets.token_urlsafe(len(like))[:len(like)]


def _entry_actions(project: Project, task: Task, worker_id: str, lease_id: str, expires_at: int) -> tuple[str, list]:
    """(slot, update actions) of the entry a gold lease writes on its task as read."""
    as_dict = lambda m: m.as_dict() if hasattr(m, "as_dict") else dict(m or {})  # noqa: E731
    taken = as_dict(task.slot_expiry)
    overlap = int(task.overlap if task.overlap is not None else project.overlap)
    free = [str(k) for k in range(overlap) if str(k) not in taken]
    lease, worker = _padding(lease_id), _padding(worker_id)
    if free:
        slot = free[0]
        return slot, [Task.slot_expiry[slot].set(expires_at), Task.slot_lease[slot].set(lease),
                      Task.slot_worker[slot].set(worker)]
    slot = "0"  # all written: start over, as a real task's slots fill once
    return slot, [Task.slot_expiry.set({slot: expires_at}), Task.slot_lease.set({slot: lease}),
                  Task.slot_worker.set({slot: worker})]


def entry_update(assignment: Assignment, expiry: int | None = None, remove: bool = False) -> list:
    """The task update of a step on a gold lease (extension or answer: the entry's new expiry;
    return or lapse: `remove`), as the real step updates its slot."""
    slot = assignment.gold_slot
    if slot is None:
        return [UNCHANGED]
    if remove:
        return [Task.slot_expiry[slot].remove(), Task.slot_lease[slot].remove(), Task.slot_worker[slot].remove()]
    return [Task.slot_expiry[slot].set(expiry)]


def try_lease(worker_id: str, project: Project, task: Task, stream_actions: list) -> tuple[str, int] | None:
    """Lease a gold task: (lease_id, expires_at), or None if this worker holds or answered it,
    or it was cancelled. `stream_actions` update the worker's mixing state."""
    now = now_ms()
    lease_id = leases.new_lease_id(project.project_id, task.task_id, worker_id, GOLD_SLOT)
    expires_at = now + int(project.lease_seconds) * 1000
    entry, entry_actions = _entry_actions(project, task, worker_id, lease_id, expires_at)
    assignment = Assignment(task_key(project.project_id, task.task_id), worker_id,
                            project_id=project.project_id, task_id=task.task_id, lease_id=lease_id,
                            slot=GOLD_SLOT, gold_slot=entry, state="leased", leased_at=now,
                            expires_at=expires_at, live_gold=project.project_id,
                            known_answer=task.known_answer)
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.update(Task(project.project_id, task.task_id), actions=entry_actions,
                      condition=Task.gold_project.exists())
            tx.save(assignment, condition=Assignment.worker_id.does_not_exist() | replaceable(now))
            counters.add_in(tx, project.project_id, gold_leases_granted=1)  # as a real lease's counters
            tx.update(WorkerStats(worker_id, project.project_id),
                      actions=[WorkerStats.served.add(1), WorkerStats.gold_served.add(1), *stream_actions])
            ledger.reserve_in(tx, project, int(project.reward_cents))  # gold answers are paid too: last item
    except TransactWriteError as error:
        if ledger.budget_failed(error):
            raise ledger.BudgetExhausted() from None
        if any(failed_conditions(error)) or conflicted(error):
            return None  # had it, cancelled, or met this worker's concurrent lease: try another
        raise
    observability.metric(observability.LEASES_GRANTED, 1)
    return lease_id, expires_at


def _order(worker_id: str, project_id: str, task: Task) -> bytes:
    return sealing.digest("gold-order", f"{worker_id}/{project_id}/{task.task_id}".encode())


def _window_actions(task: Task, remaining: list[Task], window: list[Task]) -> list:
    """The worker's record after `task` is served: the window's last task moves the cursor on."""
    if remaining[-1] is task:
        return [WorkerStats.gold_cursor.set(window[-1].open_order), WorkerStats.gold_window.remove()]
    return [WorkerStats.gold_window.add({task.task_id})]


def next_for(worker_id: str, project: Project, stats: WorkerStats, block: int | None) -> tuple[Task, str, int] | None:
    """The worker's next gold task in this project: (task, lease_id, expires_at), or None when
    it has had every gold task (within the few windows read)."""
    after, served = stats.gold_cursor, set(stats.gold_window or ())
    start = None
    for _ in range(GOLD_PAGES):
        page = Task.gold_tasks.query(project.project_id, limit=GOLD_PAGE, last_evaluated_key=start,
                                     range_key_condition=(Task.open_order > after) if after else None)
        window = list(page)
        remaining = sorted((t for t in window if t.task_id not in served),
                           key=lambda t: _order(worker_id, project.project_id, t))
        for task in remaining:
            actions = _window_actions(task, remaining, window)
            leased = try_lease(worker_id, project, task, actions + (
                [WorkerStats.gold_block.set(block)] if block is not None else []))
            if leased:
                return (task, *leased)
            _skip(worker_id, project.project_id, actions)  # held or had already (leased by its id)
        start = page.last_evaluated_key
        if not start:
            return None
        if not remaining and window:  # every task of the window was served: move past it
            _skip(worker_id, project.project_id, _window_actions(window[-1], window, window))
        after = window[-1].open_order
    return None


def _skip(worker_id: str, project_id: str, actions: list) -> None:
    """Record a task of the window as served without a lease, so it is not tried again."""
    try:
        WorkerStats(worker_id, project_id).update(actions=actions)
    except UpdateError:
        pass  # only a hint: the assignment's condition is what keeps gold once per worker
