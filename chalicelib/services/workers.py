"""A worker's own record: answers, earnings, gold score and reliability per project."""
from chalicelib.auth import Caller
from chalicelib.models import WorkerStats
from chalicelib.models.workers import ALL_PROJECTS
from chalicelib.schemas.work import WorkerProfile, WorkerProjectStats


def profile(caller: Caller) -> WorkerProfile:
    overall, per_project = None, []
    for stats in WorkerStats.query(caller.owner_id):
        if stats.scope == ALL_PROJECTS:
            overall = stats
        else:
            per_project.append(WorkerProjectStats(
                project_id=stats.scope, answers=int(stats.answers or 0),
                gold_answers=int(stats.gold_answers or 0), gold_correct=int(stats.gold_correct or 0),
                reliability=stats.reliability))
    known = [p.reliability for p in per_project if p.reliability is not None]
    return WorkerProfile(
        worker_id=caller.owner_id, answers=int(overall.answers or 0) if overall else 0,
        earned_cents=int(overall.earned_cents or 0) if overall else 0,
        gold_answers=int(overall.gold_answers or 0) if overall else 0,
        gold_correct=int(overall.gold_correct or 0) if overall else 0,
        reliability=sum(known) / len(known) if known else None, projects=per_project)
