from typing import Any, Literal

from pydantic import Field, model_validator

from chalicelib.kinds import AGGREGATION_METHODS
from chalicelib.schemas.answers import AnswerType
from chalicelib.schemas.common import Body, Cursor, Out
from chalicelib.schemas.profile import Audience
from chalicelib.schemas.quality import MAX_RULES, Rule
from chalicelib.schemas.views import PayloadSchema, View

ProjectStatus = Literal["active", "paused", "closed"]

# Review: the defaults Mechanical Turk users know (auto-approval after 3 days; a
# rejection can be overridden for 30 days).
DEFAULT_AUTO_APPROVE_SECONDS = 3 * 86_400
DEFAULT_REJECTION_REVERSAL_SECONDS = 30 * 86_400
MAX_BUDGET_CENTS = 10**11


# Adaptive overlap, qualification, lifecycle and gold mixing settings.
class AdaptiveOverlap(Body):
    min_overlap: int = Field(ge=1, le=100, description="Answers every task gets")
    max_overlap: int = Field(ge=1, le=100, description="Answers a task gets at most")
    target_confidence: float = Field(gt=0, le=1, description=(
        "A task stops collecting answers once the latest aggregation's confidence reaches this "
        "with at least min_overlap answers; below it, a task with all its answers gets one more "
        "slot (up to max_overlap)"))

    @model_validator(mode="after")
    def _ordered(self):
        if self.max_overlap < self.min_overlap:
            raise ValueError("max_overlap must be at least min_overlap")
        return self


class Qualification(Body):
    gold_tasks: int = Field(ge=1, le=100, description="Gold tasks a new worker answers before real tasks")
    min_accuracy: float = Field(ge=0, le=1, description=(
        "Accuracy on gold a worker needs to get real tasks, over its qualification's gold "
        "answers; once passed, settled (later gold counts for the rules)"))


# Aggregation settings (issue 15).
_METHODS_BY_KIND = "; ".join(f"{kind}: {', '.join(names)}" for kind, names in AGGREGATION_METHODS.items())


class AggregationSettings(Body):
    method: str | None = Field(None, max_length=40, description=(
        "The truth-inference method of this project's runs, one of its kind's (the default first): "
        f"{_METHODS_BY_KIND}. Null: the kind's default. Another name is a 400 unknown_method"))
    include_rejected: bool = Field(False, description=(
        "Keep rejected answers in the aggregation (by default a rejected answer is left out: a "
        "rejection says the answer is unacceptable; answers of excluded workers are always left out)"))


class AggregationOut(Out):
    method: str | None = Field(None, description="Null: the kind's default method")
    include_rejected: bool = False


class WorkSettings(Body):
    adaptive_overlap: AdaptiveOverlap | None = Field(None, description="Overlap per task from confidence")
    expires_at: int | None = Field(None, ge=0, description="Epoch ms; after it the project serves no work")
    max_lease_extension_seconds: int = Field(0, ge=0, le=86_400, description=(
        "How much a worker may extend a live lease, once (0: no extension)"))
    gold_rate: float = Field(0.1, ge=0, le=1, description=(
        "Share of a worker's stream that is gold when the project has gold tasks (0.1: one task "
        "in ten), at an unpredictable position in each block of 1/gold_rate tasks"))
    qualification: Qualification | None = None
    min_reliability: float | None = Field(None, ge=0, le=1, description=(
        "Workers whose reliability in this project is known and lower get no work here"))
    audience: Audience | None = Field(None, description=(
        "Only workers whose profile matches get work here (403 not_in_audience); null: everyone"))


class WorkSettingsUpdate(Body):
    overlap: int | None = Field(None, ge=1, le=100, description=(
        "Answers wanted per task; tasks re-open or complete within a few scheduler passes"))
    expires_at: int | None = Field(None, ge=0, description="Epoch ms; after it the project serves no work")
    gold_rate: float | None = Field(None, ge=0, le=1)
    min_reliability: float | None = Field(None, ge=0, le=1)
    max_lease_extension_seconds: int | None = Field(None, ge=0, le=86_400)
    audience: Audience | None = Field(None, description="Replaces the audience; null: everyone")


INSTRUCTIONS = Field("", max_length=20_000, description=(
    "Markdown (paragraphs, **bold**, *italic*, `code`, lists, headings, http(s) links); "
    "clients escape every HTML tag"))


class ProjectCreate(WorkSettings):
    title: str = Field(min_length=1, max_length=200)
    instructions: str = INSTRUCTIONS
    # How a task is shown
    view: View | None = None
    payload_schema: PayloadSchema | None = Field(None, description=(
        "Checked on every task upload: a task it refuses is reported by index, never stored"))
    answer_type: AnswerType
    overlap: int = Field(3, ge=1, le=100, description="Answers wanted per task")
    reward_cents: int = Field(0, ge=0, le=100_000, description="Paid per accepted answer, in cents")
    lease_seconds: int = Field(600, ge=10, le=86_400, description="How long a worker holds a task")
    priority: int = Field(0, ge=-1000, le=1000, description=(
        "Orders this requester's own live projects for workers: its highest-priority project is "
        "served up to 8 times as often as its lowest; no advantage over other requesters"))
    # Budget and review
    budget_cents: int | None = Field(
        None, ge=0, le=MAX_BUDGET_CENTS,
        description="Most the project may spend on rewards and bonuses; no lease is handed out that "
                    "the remaining budget could not pay. Null: unlimited (cannot be added later)")
    auto_approve_seconds: int = Field(
        DEFAULT_AUTO_APPROVE_SECONDS, ge=0, le=30 * 86_400,
        description="A submitted answer not reviewed by then is approved (and paid) automatically; "
                    "fixed when the answer is submitted")
    rejection_reversal_seconds: int = Field(
        DEFAULT_REJECTION_REVERSAL_SECONDS, ge=0, le=90 * 86_400,
        description="How long after a rejection the requester can still approve the answer")
    # Quality rules
    rules: list[Rule] = Field(default_factory=list, max_length=MAX_RULES,
                              description="Quality rules, evaluated per worker (see Rule)")
    # Aggregation
    aggregation: AggregationSettings | None = Field(None, description="Truth-inference settings")


class ProjectUpdate(WorkSettingsUpdate):
    status: ProjectStatus | None = Field(None, description="Pause, resume or close (final)")
    # How a task is shown: null removes; applies to leases and uploads from now on (tasks
    # already stored are not checked again)
    view: View | None = None
    payload_schema: PayloadSchema | None = None
    priority: int | None = Field(None, ge=-1000, le=1000)
    # Budget and review
    budget_cents: int | None = Field(
        None, ge=0, le=MAX_BUDGET_CENTS,
        description="A new budget for a project created with one; not below what is already "
                    "reserved or spent (409 budget_below_committed)")
    # Quality rules
    rules: list[Rule] | None = Field(None, max_length=MAX_RULES, description="Replaces the rules")
    # Aggregation
    aggregation: AggregationSettings | None = Field(None, description=(
        "Changes the fields given (method null: back to the kind's default); the next run uses them"))


class ProjectOut(Out):
    project_id: str
    title: str
    instructions: str = Field(description="Markdown")
    view: View | None = Field(None, description="Null: one text block per payload field")
    payload_schema: dict[str, Any] | None = Field(None, description="As declared (see PayloadSchema)")
    answer_type: AnswerType
    overlap: int
    reward_cents: int
    lease_seconds: int
    priority: int
    status: ProjectStatus
    created_at: int = Field(description="Epoch milliseconds")
    updated_at: int
    last_run_id: str | None = None
    # Budget and review
    budget_cents: int | None = Field(None, description="Null: unlimited")
    budget_remaining_cents: int | None = Field(
        None, description="Budget not yet reserved by leases, answers awaiting review or payments")
    auto_approve_seconds: int = DEFAULT_AUTO_APPROVE_SECONDS
    rejection_reversal_seconds: int = DEFAULT_REJECTION_REVERSAL_SECONDS
    # Quality rules
    rules: list[Rule] = Field(default_factory=list)
    # Lifecycle, overlap and gold mixing
    adaptive_overlap: AdaptiveOverlap | None = None
    expires_at: int | None = None
    max_lease_extension_seconds: int = 0
    gold_rate: float = 0.1
    qualification: Qualification | None = None
    min_reliability: float | None = None
    audience: Audience | None = None
    # Aggregation
    aggregation: AggregationOut = Field(default_factory=AggregationOut)


class ProjectPage(Out):
    items: list[ProjectOut]
    next_cursor: Cursor | None = None


class Progress(Out):
    project_id: str
    status: ProjectStatus
    tasks: int
    gold_tasks: int
    tasks_open: int = Field(description="Real tasks still collecting answers (gold tasks are not counted)")
    tasks_complete: int
    tasks_cancelled: int = 0
    answers: int
    leases_outstanding: int = Field(
        description="Leases of real tasks handed out and not yet answered, returned or expired "
                    "(gold leases hold no slot and are not counted)")
    rewards_cents: int
    last_run_id: str | None
    last_run_at: int | None
    answers_in_last_run: int
    last_run_ece: float | None = Field(None, description=(
        "Expected calibration error of the last run's confidence, cross-fitted on gold (single "
        "choice with enough gold tasks; null otherwise)"))
    # Budget and review
    approved: int = Field(0, description="Answers approved (by the requester or automatically)")
    rejected: int = Field(0, description="Answers rejected (and not reversed)")
    awaiting_review: int = Field(0, description="Answers submitted and not yet reviewed")
    paid_cents: int = Field(0, description="Paid to workers: approved rewards plus bonuses")
    bonus_cents: int = Field(0, description="The bonuses among paid_cents")
    budget_cents: int | None = Field(None, description="Null: unlimited")
    budget_reserved_cents: int | None = Field(
        None, description="Held for live leases and answers awaiting review (not yet paid)")
    budget_remaining_cents: int | None = Field(None, description="What new leases and bonuses can still use")


class AggregationQueued(Out):
    project_id: str
    status: Literal["queued"] = "queued"
    requested_at: int
