"""Quality control bodies: the project's rules, the requester's view of its workers, blocks."""
import hashlib
import json
from typing import Literal

from pydantic import Field, model_validator

from chalicelib.schemas.common import Body, Cursor, Out

Measure = Literal["gold_accuracy", "agreement", "median_answer_seconds", "answer_seconds", "skipped_in_row"]
Comparison = Literal["<", "<=", ">", ">="]
Action = Literal["block", "exclude", "reject_pending"]
MAX_RULES = 20
# Measures evaluated when an answer (or a skip) arrives, from the worker's counters alone; the
# others are evaluated by the scheduled function, after each aggregation run. A measure derived
# from gold answers is never among these, however cheap: a rule acting right after an answer
# would tell the worker that this very answer was gold (and wrong).
CHEAP_MEASURES = ("answer_seconds", "skipped_in_row")
SHARES = ("gold_accuracy", "agreement")


class Rule(Body):
    """When <measure> <comparison> <value> after at least <min_answers> answers, then <action>
    [for <duration_seconds>].

    min_answers counts the answers the measure is computed from: gold answers for
    gold_accuracy, answers compared with the published result for agreement, answers with a
    reported time for median_answer_seconds, and all the worker's answers in the project for
    answer_seconds and skipped_in_row (0 lets a worker who only ever skips be caught).
    """

    measure: Measure = Field(description="gold_accuracy and agreement are shares in 0..1; "
                             "median_answer_seconds (over the worker's answers) and "
                             "answer_seconds (the answer just received) catch too-fast answers; "
                             "skipped_in_row counts leases given back or let expire since the "
                             "last answer")
    comparison: Comparison
    value: float = Field(ge=0, description="The threshold")
    min_answers: int = Field(0, ge=0, le=100_000, description="Evaluated only after this many answers")
    action: Action = Field(description="block the worker on this project, exclude its answers "
                           "from aggregation, or reject its pending (submitted) assignments")
    duration_seconds: int | None = Field(None, ge=60, le=365 * 86_400,
                                         description="For block: how long; absent = for good")
    message: str = Field("", max_length=500, description="Shown to a blocked worker")

    @model_validator(mode="after")
    def _consistent(self):
        if self.measure in SHARES and self.value > 1:
            raise ValueError(f"{self.measure} is a share: value must be between 0 and 1")
        if self.measure == "skipped_in_row" and self.value != int(self.value):
            raise ValueError("skipped_in_row counts leases: value must be a whole number")
        if self.duration_seconds is not None and self.action != "block":
            raise ValueError("duration_seconds applies to the block action only")
        return self

    @property
    def rule_id(self) -> str:
        """Stable id from the rule's content: a rule changed by PATCH is a new rule that may
        fire again; an unchanged one keeps its fired state."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return "r-" + hashlib.sha256(canonical.encode()).hexdigest()[:12]

    def holds(self, measured: float) -> bool:
        return {"<": measured < self.value, "<=": measured <= self.value,
                ">": measured > self.value, ">=": measured >= self.value}[self.comparison]


def parse_rules(stored: list | None) -> list[Rule]:
    """A project's stored rules (JSON, validated when they were set) as Rule objects."""
    return [Rule.model_validate(r) for r in stored or []]


class BlockIn(Body):
    duration_seconds: int | None = Field(None, ge=60, le=365 * 86_400,
                                         description="How long; absent = for good (until unblocked)")
    message: str = Field("", max_length=500, description="Why, shown to the worker")


class WorkerOut(Out):
    worker_id: str = Field(description="The worker's pseudonym for you (the same in all your projects)")
    project_id: str
    answers: int
    gold_answers: int
    gold_accuracy: float | None = Field(description="Correct gold answers / gold answers, once any")
    agreement: float | None = Field(description="Share of its answers equal to the published "
                                    "result (tasks with 2+ answers), from the latest run")
    model_reliability: float | None = Field(description="The aggregation method's estimate of "
                                            "P(answer correct), from the latest run")
    reliability: float = Field(description="Combined figure: gold accuracy smoothed towards the "
                               "aggregation's estimate (see chalicelib.services.quality)")
    median_answer_seconds: float | None
    skipped_in_row: int
    blocked: bool
    blocked_until: int | None = Field(description="Epoch ms; 9007199254740992 = for good")
    block_reason: str | None = Field(description='"requester" or "rule:<measure>"')
    block_message: str | None
    excluded: bool = Field(description="Its answers are left out of aggregation")
    exclude_reason: str | None


class WorkerDetail(WorkerOut):
    global_reliability: float = Field(description="The same formula over the worker's records in your own "
                                                  "projects only (other requesters' count for nothing)")


class WorkerPage(Out):
    items: list[WorkerOut]
    next_cursor: Cursor | None = None
