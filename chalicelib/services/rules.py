"""A project's rules: "when <measure> <comparison> <value> after at least <n> answers then
<action> [for <duration>]" (chalicelib.schemas.quality.Rule), evaluated per worker.

When: the cheap measures (one answer's time, leases skipped in a row) right after an answer or
a skip (`after_answer`, from the work path); every measure but a single answer's time after
each aggregation run, on the run's figures (chalicelib.services.quality.after_run). Gold
accuracy is evaluated only there: a block, exclusion or rejection following an answer at once
would tell the worker that this answer was gold and wrong; acting at a scheduled run, on all
the answers since the last one, it is not tied to one answer.

Once per crossing: a rule fires when its condition starts to hold, records its id in the
worker's `rules_fired` with a conditional write (so two answers racing fire it once), and
fires again only after the condition has stopped holding (which takes the id out again) and
holds anew. A block that expires, or that the requester lifts, does not re-arm the rule: a
worker is not blocked again for the same crossing.
"""
import logging
from dataclasses import dataclass

from pynamodb.exceptions import UpdateError

from chalicelib.models import Project, WorkerStats
from chalicelib.models.base import now_ms
from chalicelib.models.workers import FOREVER
from chalicelib.schemas.quality import CHEAP_MEASURES, Rule
from chalicelib.services import projects, review

log = logging.getLogger("foule.rules")

@dataclass
class Measures:
    """A worker's figures on one project, with the number of answers each is measured on."""

    answers: int
    gold_answers: int
    gold_correct: int
    skipped_in_row: int
    agreement: float | None
    compared: int
    median_seconds: float | None
    timed: int
    answer_seconds: float | None = None  # the answer just received, when evaluated for it

    @classmethod
    def of(cls, stats: WorkerStats, timed: int = 0) -> "Measures":
        return cls(int(stats.answers or 0), int(stats.gold_answers or 0), int(stats.gold_correct or 0),
                   int(getattr(stats, "skipped_in_row", None) or 0), stats.agreement,
                   int(stats.agreement_answers or 0), stats.median_answer_seconds, timed)

    def measure(self, name: str) -> tuple[float | None, int]:
        """(value, answers it is measured on); value None when not measurable yet."""
        if name == "gold_accuracy":
            return (self.gold_correct / self.gold_answers if self.gold_answers else None), self.gold_answers
        if name == "skipped_in_row":
            return float(self.skipped_in_row), self.answers
        if name == "agreement":
            return self.agreement, self.compared
        if name == "answer_seconds":
            return self.answer_seconds, self.answers
        return self.median_seconds, self.timed


def evaluate(project_id: str, worker_id: str, rules: list[Rule], measures: Measures,
             fired: set[str], cheap_only: bool = False, catch_up: bool = False) -> list[str]:
    """Fire the rules whose condition now holds and had not fired; re-arm those whose
    condition no longer holds. Returns the ids of the rules this call fired.

    catch_up (the scheduled evaluation, whose counters may be older than the last answer):
    the cheap rules may fire but are not re-armed, which only their fresh figures may do; the
    other rules (gold accuracy among them) are evaluated only here, so fire and re-arm here."""
    newly = []
    for rule in rules:
        if cheap_only and rule.measure not in CHEAP_MEASURES:
            continue
        value, samples = measures.measure(rule.measure)
        if value is None or samples < rule.min_answers:
            continue
        if rule.holds(value):
            if rule.rule_id not in fired and fire(project_id, worker_id, rule, value):
                newly.append(rule.rule_id)
        elif rule.rule_id in fired and not (catch_up and rule.measure in CHEAP_MEASURES):
            rearm(project_id, worker_id, rule)
    return newly


def _conditional(stats: WorkerStats, actions: list, condition) -> bool:
    try:
        stats.update(actions=actions, condition=condition)
        return True
    except UpdateError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise


def fire(project_id: str, worker_id: str, rule: Rule, value: float) -> bool:
    """Apply the rule's action once: False if it had already fired (a concurrent evaluation)."""
    stats = WorkerStats(worker_id, project_id)
    not_fired = WorkerStats.worker_id.exists() & ~WorkerStats.rules_fired.contains(rule.rule_id)
    mark = [WorkerStats.rules_fired.add({rule.rule_id})]
    reason = f"rule:{rule.measure}"
    if rule.action == "block":
        until = now_ms() + rule.duration_seconds * 1000 if rule.duration_seconds else FOREVER
        message = rule.message or (f"Blocked by a rule of this project: {rule.measure} "
                                   f"{rule.comparison} {rule.value:g}.")
        # Never shorten a longer block already in force (the requester's, or another rule's).
        longer = WorkerStats.blocked_until.does_not_exist() | (WorkerStats.blocked_until < until)
        if _conditional(stats, mark + [WorkerStats.blocked_until.set(until),
                                       WorkerStats.block_reason.set(reason),
                                       WorkerStats.block_message.set(message)], not_fired & longer):
            fired = True
        else:
            fired = _conditional(stats, mark, not_fired)
    elif rule.action == "exclude":
        fired = _conditional(stats, mark + [WorkerStats.excluded.set(True),
                                            WorkerStats.exclude_reason.set(reason)], not_fired)
    else:  # reject_pending: marked first, so that the rejections happen once per crossing
        fired = _conditional(stats, mark, not_fired)
        if fired:
            review.reject_pending_of_worker(project_id, worker_id, rule.message or (
                f"Rejected by a rule of this project: {rule.measure} {rule.comparison} {rule.value:g}."))
    if fired:
        log.info("rule %s fired for %s on %s: %s=%s -> %s", rule.rule_id, worker_id, project_id,
                 rule.measure, value, rule.action)
    return fired


def rearm(project_id: str, worker_id: str, rule: Rule) -> None:
    _conditional(WorkerStats(worker_id, project_id), [WorkerStats.rules_fired.delete({rule.rule_id})],
                 WorkerStats.rules_fired.contains(rule.rule_id))


def after_answer(project: Project | str, worker_id: str, stats: WorkerStats | None = None,
                 answer_seconds: float | None = None) -> list[str]:
    """The cheap rules (never a gold-based one: see the module's docstring), right after an
    answer (taking `answer_seconds`, its reported time) or a skip was recorded. Never raises:
    the answer is already acknowledged, and the scheduled evaluation catches up on skips."""
    project_id = project if isinstance(project, str) else project.project_id
    try:
        rules = projects.cached_rules(project_id) if isinstance(project, str) else projects.project_rules(project)
        rules = [r for r in rules if r.measure in CHEAP_MEASURES]
        if not rules:
            return []
        if stats is None:
            stats = WorkerStats.get(worker_id, project_id, consistent_read=True)
        measures = Measures.of(stats)
        measures.answer_seconds = answer_seconds
        return evaluate(project_id, worker_id, rules, measures, set(stats.rules_fired or ()), cheap_only=True)
    except Exception:  # see the docstring
        log.exception("rules after an answer of %s on %s failed", worker_id, project_id)
        return []
