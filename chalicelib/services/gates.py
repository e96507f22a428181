"""Who may get work from a project, and whether the next task should be gold.

Read from the worker's per-project record (WorkerStats(worker, project)), fetched once per
request (one BatchGet for all candidate projects of `next`). The quality service writes the block fields
and reliability; the work path writes the counts (answers, gold answers, leases served).
"""
from dataclasses import dataclass

from chalicelib import sealing
from chalicelib.errors import Forbidden
from chalicelib.models import Project, WorkerStats
from chalicelib.models.workers import ALL_PROJECTS
from chalicelib.services import profiles

ONLY_GOLD, GOLD_DUE, NO_GOLD = "only", "due", "no"


def stats_of(worker_id: str, project_ids: list[str]) -> dict[str, WorkerStats]:
    """The worker's record in each project (a fresh, empty one where it has none yet), and under
    ALL_PROJECTS its overall record (its profile: services.profiles), in one BatchGet."""
    wanted = [*project_ids, ALL_PROJECTS]
    found = {s.scope: s for s in WorkerStats.batch_get([(worker_id, p) for p in wanted], consistent_read=True)}
    return {p: found.get(p) or WorkerStats(worker_id, p) for p in wanted}


def check(project: Project, stats: WorkerStats, now: int, overall: WorkerStats | None = None) -> None:
    """Raise the 403 that keeps this worker from this project's work, if any (`overall`: the
    worker's overall record, whose profile the project's audience is matched against)."""
    profiles.check_audience(project, overall)
    if stats.blocked_until is not None and int(stats.blocked_until) > now:
        raise Forbidden("You are blocked from this project.", code="worker_blocked",
                        details={"reason": stats.block_reason, "until": int(stats.blocked_until)})
    if project.min_reliability is not None and stats.reliability is not None \
            and float(stats.reliability) < float(project.min_reliability):
        raise Forbidden("Your reliability in this project is below what it requires.",
                        code="reliability_too_low",
                        details={"reliability": float(stats.reliability),
                                 "min_reliability": float(project.min_reliability)})
    qualification = project.qualification
    if qualification and not stats.qualified and int(stats.gold_answers or 0) >= int(qualification["gold_tasks"]):
        accuracy = int(stats.gold_correct or 0) / int(stats.gold_answers)
        if accuracy < float(qualification["min_accuracy"]):
            raise Forbidden("You did not reach the accuracy this project requires on its test tasks.",
                            code="qualification_failed",
                            details={"accuracy": round(accuracy, 4),
                                     "min_accuracy": float(qualification["min_accuracy"])})
        settle_qualification(stats)


def settle_qualification(stats: WorkerStats) -> None:
    """Passed, once and for all (before any gold is mixed into real work). Judged again after
    each later gold answer, a 403 right after an answer would tell that it was gold, and wrong:
    accuracy on gold mixed into real work is for the project's rules, evaluated with the
    aggregator's runs (services/rules)."""
    WorkerStats(stats.worker_id, stats.scope).update(actions=[WorkerStats.qualified.set(True)])
    stats.qualified = True


def in_qualification(project: Project, stats: WorkerStats) -> bool:
    qualification = project.qualification
    return bool(qualification) and int(stats.gold_answers or 0) < int(qualification["gold_tasks"])


@dataclass(frozen=True)
class GoldPlan:
    mode: str  # ONLY_GOLD, GOLD_DUE or NO_GOLD
    block: int | None = None  # the mixing block this gold lease fills


def block_size(gold_rate: float) -> int:
    return max(1, round(1 / gold_rate))


def gold_position(worker_id: str, project_id: str, block: int, size: int) -> int:
    """Where in its block of `size` leases this worker's gold task goes: fixed per (worker,
    project, block), so the share of gold is exact, but not guessable from the lease count: the
    hash is keyed by the deployment's secret, since a worker knows its own id and the project's."""
    digest = sealing.digest("gold-position", f"{worker_id}/{project_id}/{block}".encode())
    return int.from_bytes(digest[:8], "big") % size


def plan(project: Project, stats: WorkerStats) -> GoldPlan:
    """Gold or not for this worker's next lease in this project.

    The stream is cut into blocks of 1/gold_rate leases (10 for 0.1); each block has one gold
    task at a position derived from a hash of (worker, project, block). A block whose gold
    position has passed without gold (none was available) gets it at the next lease of the
    block, never later: no burst of gold to catch up.
    """
    rate = float(project.gold_rate or 0)
    size = block_size(rate) if rate > 0 else None
    block, position = divmod(int(stats.served or 0), size) if size else (None, 0)
    if in_qualification(project, stats):
        return GoldPlan(ONLY_GOLD, block)  # qualification gold counts as its block's gold
    if size is None or not project.has_gold:
        return GoldPlan(NO_GOLD)
    last_block = stats.gold_block
    if (last_block is None or int(last_block) < block) and \
            position >= gold_position(stats.worker_id, project.project_id, block, size):
        return GoldPlan(GOLD_DUE, block)
    return GoldPlan(NO_GOLD)
