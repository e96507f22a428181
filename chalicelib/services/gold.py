"""Gold tasks in a worker's stream: leased without a slot, at most once per worker, ever.

A gold task has no slot limit: any number of workers answer it. What keeps a worker from
seeing it twice is the one assignment per (task, worker): a gold lease puts it only if it does
not exist, so a worker asking twice at once still gets each gold task once, and a gold task
given back or left to expire is not served to that worker again.

Gold is served in the index order (`open_order`) after the worker's cursor, so a worker that
has had many gold tasks does not re-try them one by one.
"""
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib import observability
from chalicelib.models import Assignment, Project, Task, WorkerStats
from chalicelib.models.assignments import task_key
from chalicelib.models.base import connection, conflicted, failed_conditions, now_ms
from chalicelib.services import leases, ledger

GOLD_SLOT = "g"  # the slot named in a gold lease id: gold leases hold no slot of the task
GOLD_PAGE = 20
GOLD_PAGES = 3


def try_lease(worker_id: str, project: Project, task: Task, stream_actions: list) -> tuple[str, int] | None:
    """Lease a gold task: (lease_id, expires_at), or None if this worker has had it already
    (or holds it now) or it was cancelled. `stream_actions` update the worker's mixing state."""
    now = now_ms()
    lease_id = leases.new_lease_id(project.project_id, task.task_id, worker_id, GOLD_SLOT)
    expires_at = now + int(project.lease_seconds) * 1000
    assignment = Assignment(task_key(project.project_id, task.task_id), worker_id,
                            project_id=project.project_id, task_id=task.task_id, lease_id=lease_id,
                            slot=GOLD_SLOT, state="leased", leased_at=now, expires_at=expires_at,
                            live_gold=project.project_id,
                            known_answer=task.known_answer)
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.condition_check(Task, project.project_id, task.task_id, condition=Task.gold_project.exists())
            tx.save(assignment, condition=Assignment.worker_id.does_not_exist())
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


def next_for(worker_id: str, project: Project, stats: WorkerStats, block: int | None) -> tuple[Task, str, int] | None:
    """The worker's next gold task in this project: (task, lease_id, expires_at), or None when
    it has had every gold task (within the few pages read)."""
    after = stats.gold_cursor
    start = None
    for _ in range(GOLD_PAGES):
        page = Task.gold_tasks.query(project.project_id, limit=GOLD_PAGE, last_evaluated_key=start,
                                     range_key_condition=(Task.open_order > after) if after else None)
        for task in page:
            actions = [WorkerStats.gold_cursor.set(task.open_order)]
            if block is not None:
                actions.append(WorkerStats.gold_block.set(block))
            leased = try_lease(worker_id, project, task, actions)
            if leased:
                return (task, *leased)
        start = page.last_evaluated_key
        if not start:
            return None
    return None
