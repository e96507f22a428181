"""Worker quality: reliability, the requester's view of its workers, blocks and exclusions,
and the aggregator's hooks (excluded workers' answers left out; per-worker figures written and
the scheduled rules evaluated on each run's data).

Reliability is one formula (`reliability`), used for the requester's listing, the worker's
own record and the aggregator's stored figure. Gold counts are shown to the requester only:
the worker sees the figure stored by the last aggregation run, which reveals no single task
(see chalicelib.services.workers).
"""
from dataclasses import dataclass

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.auth import Caller
from chalicelib.models import Project, WorkerStats
from chalicelib.models.base import connection, failed_conditions, now_ms
from chalicelib.models.workers import ALL_PROJECTS, FOREVER
from chalicelib.schemas.quality import BlockIn, WorkerDetail, WorkerOut, WorkerPage
from chalicelib.services import audit, paging, projects, pseudonyms, rules

# The aggregation's estimate weighs as much as this many gold answers (see `reliability`).
# Chosen on bench/RESULTS.md "Worker reliability" among 4, 8, 16, 32: 16 has a mean error
# near the lowest (32's) and a worst case near the lowest (8's).
ESTIMATE_WEIGHT = 16
BATCH_GET = 100  # DynamoDB's BatchGetItem limit


def reliability(gold_answers: int, gold_correct: int, estimate: float | None) -> float:
    """P(the worker's next answer is correct): the mean of a Beta posterior over its accuracy.

    Gold answers are the only ground truth, so they are the observations; the prior is
    centred on the aggregation's estimate (the method's P(correct), else the worker's
    agreement with the published results) with the weight of ESTIMATE_WEIGHT gold answers,
    because that estimate comes from all the worker's answers but through a model that can be
    wrong (a colluding majority, a hard project). So a worker without gold answers is rated by
    the aggregation alone, and gold takes over as its gold answers outnumber the weight. With
    no estimate yet, the prior is Jeffreys' Beta(1/2, 1/2): (correct + 0.5) / (total + 1).

    Measured on the shared datasets with 10 % control tasks (bench/adaptive_overlap.py), the
    combination predicts a worker's true accuracy better on average than either part alone
    (mean absolute error 4.5 points, against 7.7 for gold alone and 5.5 for the method alone)
    and never badly: where the method misjudges workers (face: 15.5 points) the combination
    stays under 7.
    """
    if estimate is None:
        prior, weight = 0.5, 1.0
    else:
        prior, weight = min(max(float(estimate), 0.0), 1.0), float(ESTIMATE_WEIGHT)
    return (int(gold_correct) + weight * prior) / (int(gold_answers) + weight)


def estimate_of(stats: WorkerStats) -> float | None:
    """The aggregation's estimate of a worker: the method's when known, else its agreement."""
    return stats.model_reliability if stats.model_reliability is not None else stats.agreement


def reliability_of(stats: WorkerStats) -> float:
    return reliability(stats.gold_answers or 0, stats.gold_correct or 0, estimate_of(stats))


def active_block(stats: WorkerStats | None, now: int | None = None) -> dict | None:
    """{reason, until, message} while the worker is blocked, else None: what the lease path
    returns in a 403 worker_blocked."""
    now = now_ms() if now is None else now
    if stats is None or stats.blocked_until is None or int(stats.blocked_until) <= now:
        return None
    return {"reason": stats.block_reason, "until": int(stats.blocked_until),
            "message": stats.block_message or ""}


# --- The requester's view --------------------------------------------------------------------
def skipped_in_row(stats: WorkerStats) -> int:
    # Written by the work path (release and lease expiry); absent on records it never touched.
    return int(getattr(stats, "skipped_in_row", None) or 0)


def to_out(stats: WorkerStats, owner_id: str, now: int | None = None) -> WorkerOut:
    """The requester's row of a worker: named by the requester's pseudonym, never its id."""
    gold = int(stats.gold_answers or 0)
    block = active_block(stats, now)
    return WorkerOut(
        worker_id=pseudonyms.for_requester(owner_id, stats.worker_id), project_id=stats.scope, answers=int(stats.answers or 0),
        gold_answers=gold, gold_accuracy=round(int(stats.gold_correct or 0) / gold, 6) if gold else None,
        agreement=stats.agreement, model_reliability=stats.model_reliability,
        reliability=round(reliability_of(stats), 6), median_answer_seconds=stats.median_answer_seconds,
        skipped_in_row=skipped_in_row(stats), blocked=block is not None,
        blocked_until=block["until"] if block else None, block_reason=block["reason"] if block else None,
        block_message=block["message"] if block else None, excluded=bool(stats.excluded),
        exclude_reason=stats.exclude_reason if stats.excluded else None)


def batch_get(keys: list[tuple[str, str]]) -> dict[tuple[str, str], WorkerStats]:
    found = {}
    for start in range(0, len(keys), BATCH_GET):
        for stats in WorkerStats.batch_get(keys[start:start + BATCH_GET]):
            found[(stats.worker_id, stats.scope)] = stats
    return found


def list_page(caller: Caller, project_id: str, limit: int, cursor: str | None) -> WorkerPage:
    owner_id = projects.get_owned(caller, project_id).owner_id
    start = paging.decode(cursor, {"scope": "S", "worker_id": "S"}, "scope", project_id)
    page = WorkerStats.by_scope.query(project_id, limit=limit, last_evaluated_key=start)
    keys = [(s.worker_id, project_id) for s in page]
    found = batch_get(keys)
    now = now_ms()
    return WorkerPage(items=[to_out(found[k], owner_id, now) for k in keys if k in found],
                      next_cursor=paging.encode(page.last_evaluated_key))


def _record(project_id: str, worker_id: str, consistent: bool = True) -> WorkerStats:
    try:
        return WorkerStats.get(worker_id, project_id, consistent_read=consistent)
    except WorkerStats.DoesNotExist:
        raise pseudonyms.not_found() from None


def owner_reliability(worker_id: str, owner_id: str) -> float:
    """The formula over the worker's projects owned by `owner_id` only: their gold counts
    pooled, and as estimate the mean of their per-project estimates weighted by each
    project's answers. Other requesters' projects count for nothing: one requester learns
    nothing from another's data, not even how the worker did there."""
    records = [s for s in WorkerStats.query(worker_id) if s.scope != ALL_PROJECTS]
    owners = {p.project_id: p.owner_id for start in range(0, len(records), BATCH_GET)
              for p in Project.batch_get([s.scope for s in records[start:start + BATCH_GET]],
                                         attributes_to_get=["project_id", "owner_id"])}
    gold_answers = gold_correct = weight = 0
    weighted = 0.0
    for stats in records:
        if owners.get(stats.scope) != owner_id:
            continue
        gold_answers += int(stats.gold_answers or 0)
        gold_correct += int(stats.gold_correct or 0)
        if estimate_of(stats) is not None:
            weighted += estimate_of(stats) * int(stats.answers or 0)
            weight += int(stats.answers or 0)
    return reliability(gold_answers, gold_correct, weighted / weight if weight else None)


def _project_and_worker(caller: Caller, project_id: str, pseudonym: str) -> tuple[Project, str]:
    project = projects.get_owned(caller, project_id)
    return project, pseudonyms.resolve_or_404(project.owner_id, pseudonym)


def read(caller: Caller, project_id: str, pseudonym: str) -> WorkerDetail:
    project, worker_id = _project_and_worker(caller, project_id, pseudonym)
    out = to_out(_record(project_id, worker_id), project.owner_id)
    return WorkerDetail(**out.model_dump(),
                        global_reliability=round(owner_reliability(worker_id, project.owner_id), 6))


def _update_existing(caller: Caller, action: str, project: Project, worker_id: str, actions: list,
                     details: dict | None = None) -> WorkerOut:
    """Apply actions to a worker's existing record for the project (never create one), with
    the audit entry of the requester's action in the same transaction."""
    pseudonym = pseudonyms.for_requester(project.owner_id, worker_id)
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.update(WorkerStats(worker_id, project.project_id), actions=actions,
                      condition=WorkerStats.worker_id.exists())
            audit.put_in(tx, audit.entry(audit.project_log(project.project_id), action, caller,
                                         project_id=project.project_id, worker_id=pseudonym, details=details))
    except TransactWriteError as error:
        if any(failed_conditions(error)):
            raise pseudonyms.not_found() from None
        raise
    return to_out(_record(project.project_id, worker_id), project.owner_id)


def block(caller: Caller, project_id: str, pseudonym: str, body: BlockIn) -> WorkerOut:
    """Block by hand, for a duration or for good: replaces any block in force (the requester's
    decision wins over a rule's)."""
    project, worker_id = _project_and_worker(caller, project_id, pseudonym)
    until = now_ms() + body.duration_seconds * 1000 if body.duration_seconds else FOREVER
    return _update_existing(caller, "block", project, worker_id, [
        WorkerStats.blocked_until.set(until), WorkerStats.block_reason.set("requester"),
        WorkerStats.block_message.set(body.message or "Blocked by the requester.")],
        {"duration_seconds": body.duration_seconds, "message": body.message})


def unblock(caller: Caller, project_id: str, pseudonym: str) -> WorkerOut:
    """Lift a block. A rule that blocked the worker stays fired until its measure recovers, so
    it does not block again on the next answer (see chalicelib.services.rules)."""
    project, worker_id = _project_and_worker(caller, project_id, pseudonym)
    return _update_existing(caller, "unblock", project, worker_id, [
        WorkerStats.blocked_until.remove(), WorkerStats.block_reason.remove(),
        WorkerStats.block_message.remove()])


def exclude(caller: Caller, project_id: str, pseudonym: str, excluded: bool) -> WorkerOut:
    """Leave the worker's answers out of (or back in) the next aggregation runs."""
    project, worker_id = _project_and_worker(caller, project_id, pseudonym)
    actions = [WorkerStats.excluded.set(True), WorkerStats.exclude_reason.set("requester")] if excluded \
        else [WorkerStats.excluded.remove(), WorkerStats.exclude_reason.remove()]
    return _update_existing(caller, "exclude" if excluded else "include", project, worker_id, actions)


# --- Hooks of the aggregator -------------------------------------------------------------------
def without_excluded(project: Project, answers) -> tuple[object, dict[str, WorkerStats]]:
    """The run's answers (aggregator.AnswerColumns) minus those of excluded workers, and the
    records of the workers kept (read once, in batches, for `after_run`)."""
    found = batch_get([(w, project.project_id) for w in answers.worker_ids])
    records = {w: s for (w, _), s in found.items()}
    excluded = {w for w, s in records.items() if s.excluded}
    if excluded:
        answers = answers.without_workers(excluded)
    return answers, {w: s for w, s in records.items() if w not in excluded}


@dataclass
class RunFigures:
    agreement: float | None
    compared: int  # answers on tasks with 2+ answers, compared with the published label
    median_seconds: float | None
    timed: int  # answers with a reported time


def run_figures(answers, published_labels, agrees=None) -> dict[str, RunFigures]:
    """Per worker: agreement with the published labels (index per task, as the aggregation
    returns them; for the other kinds `agrees` says per answer whether it matches its task's
    published answer) and the median time per answer. numpy is imported here: this runs in the
    aggregator only, and the API function imports this module too."""
    import numpy as np

    n_workers = len(answers.worker_ids)
    multi = np.bincount(answers.task, minlength=len(answers.task_ids))[answers.task] >= 2
    compared = np.bincount(answers.worker[multi], minlength=n_workers)
    if agrees is None:
        agrees = answers.label == np.asarray(published_labels)[answers.task]
    agree = np.bincount(answers.worker[multi & agrees], minlength=n_workers)
    timed = answers.time_spent_ms >= 0
    by_worker = np.lexsort((answers.time_spent_ms[timed], answers.worker[timed]))
    seconds = answers.time_spent_ms[timed][by_worker] / 1000
    counts = np.bincount(answers.worker[timed], minlength=n_workers)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    figures = {}
    for i, worker_id in enumerate(answers.worker_ids):
        k, start = int(counts[i]), int(starts[i])
        median = float(seconds[start + (k - 1) // 2] + seconds[start + k // 2]) / 2 if k else None
        figures[worker_id] = RunFigures(float(agree[i] / compared[i]) if compared[i] else None,
                                        int(compared[i]), median, k)
    return figures


def after_run(project: Project, run_id: str, answers, records: dict[str, WorkerStats],
              published_labels, model_reliability: dict[str, float], agrees=None) -> dict:
    """Write each worker's run figures and reliability, then evaluate the project's rules on
    them (all rules: the cheap ones too, as a catch-up for an answer whose check failed)."""
    project_rules = projects.project_rules(project)
    figures = run_figures(answers, published_labels, agrees)
    fired = 0
    for worker_id, fig in figures.items():
        stats = records.get(worker_id) or WorkerStats(worker_id, project.project_id)
        stats.model_reliability = round(float(model_reliability[worker_id]), 6) \
            if worker_id in model_reliability else None
        stats.agreement = None if fig.agreement is None else round(fig.agreement, 6)
        stats.agreement_answers, stats.median_answer_seconds = fig.compared, fig.median_seconds
        stats.update(actions=[
            WorkerStats.reliability.set(round(reliability_of(stats), 6)),
            WorkerStats.reliability_run_id.set(run_id), WorkerStats.agreement_answers.set(fig.compared),
            *[attribute.set(value) if value is not None else attribute.remove() for attribute, value in (
                (WorkerStats.model_reliability, stats.model_reliability),
                (WorkerStats.agreement, stats.agreement),
                (WorkerStats.median_answer_seconds, fig.median_seconds))]])
        if project_rules:
            fired += len(rules.evaluate(project.project_id, worker_id, project_rules,
                                        rules.Measures.of(stats, timed=fig.timed), set(stats.rules_fired or ()),
                                        catch_up=True))
    return {"workers": len(figures), "rules_fired": fired}
