"""A worker's own record: answers, earnings and reliability per project.

Gold counts are kept in the store but never shown to the worker: a counter that moves right
after an answer would tell which tasks were gold. The reliability, which the aggregator
recomputes from many answers at once, reveals no single task: so the worker sees the figure
stored by the latest run (chalicelib.services.quality.reliability), not one recomputed now.
"""
from chalicelib.auth import Caller
from chalicelib.models import WorkerStats
from chalicelib.models.workers import ALL_PROJECTS
from chalicelib.schemas.work import WorkerProfile, WorkerProjectStats
from chalicelib.services.quality import active_block


def profile(caller: Caller) -> WorkerProfile:
    overall, per_project = None, []
    for stats in WorkerStats.query(caller.owner_id):
        if stats.scope == ALL_PROJECTS:
            overall = stats
        else:
            block = active_block(stats) or {}
            per_project.append(WorkerProjectStats(
                project_id=stats.scope, answers=int(stats.answers or 0), reliability=stats.reliability,
                blocked_until=block.get("until"), block_reason=block.get("reason"),
                block_message=block.get("message")))
    known = [(p.reliability, max(p.answers, 1)) for p in per_project if p.reliability is not None]
    return WorkerProfile(
        worker_id=caller.owner_id, answers=int(overall.answers or 0) if overall else 0,
        earned_cents=int(overall.earned_cents or 0) if overall else 0,
        pending_cents=int(overall.pending_cents or 0) if overall else 0,
        reliability=sum(r * n for r, n in known) / sum(n for _, n in known) if known else None,
        projects=per_project)
