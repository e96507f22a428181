from pynamodb.attributes import BooleanAttribute, JSONAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.models.base import meta


class ProjectsByOwner(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_owner"
        projection = AllProjection()

    owner_id = UnicodeAttribute(hash_key=True)
    created_at = NumberAttribute(range_key=True)


class LiveProjects(GlobalSecondaryIndex):
    """Sparse, sharded index of the projects the scheduler and the work queue look at.

    `live` (the shard: "live", "live#1", ...) is set while a project is not closed and removed
    once the aggregator has published a closed project's last answers, so neither the
    aggregator nor `next task` touches closed projects. `live_order` is a fixed pseudo-random
    position, so that a window read from a random position is a random sample of live projects
    (services/live.py says how a window is read and chosen from).
    """

    class Meta:
        index_name = "live"
        projection = AllProjection()

    live = UnicodeAttribute(hash_key=True)
    live_order = UnicodeAttribute(range_key=True)


class Project(Model):
    Meta = meta("projects")
    project_id = UnicodeAttribute(hash_key=True)
    owner_id = UnicodeAttribute()
    title = UnicodeAttribute()
    instructions = UnicodeAttribute(default="")  # Markdown
    # How a task is shown (schemas/views.py): the blocks, and the payload_schema checked on upload.
    view = JSONAttribute(null=True)
    payload_schema = JSONAttribute(null=True)
    answer_type = JSONAttribute()  # the pydantic AnswerType, dumped
    overlap = NumberAttribute()
    reward_cents = NumberAttribute()
    lease_seconds = NumberAttribute()
    priority = NumberAttribute(default=0)
    status = UnicodeAttribute()  # active | paused | closed
    created_at = NumberAttribute()
    updated_at = NumberAttribute()
    live = UnicodeAttribute(null=True)
    live_order = UnicodeAttribute(null=True)
    open_shards = NumberAttribute(null=True)  # shards of its open-task index (null: 1, older projects)
    # Money (services.ledger, services.review). No budget (null) means unlimited, for good: a
    # project created without one never counts reservations. With one, every lease of a
    # never-used slot and every bonus takes its cents from `budget_remaining_cents` with a
    # condition that enough remains; returned leases and rejected answers give them back.
    budget_cents = NumberAttribute(null=True)
    budget_remaining_cents = NumberAttribute(null=True)
    auto_approve_seconds = NumberAttribute(null=True)  # null: old projects, the default applies
    rejection_reversal_seconds = NumberAttribute(null=True)
    # Aggregation settings (the project's `aggregation`, set at creation or by PATCH):
    # the method (null: the kind's default) and whether rejected answers are kept (null: no).
    aggregation_method = UnicodeAttribute(null=True)
    aggregation_include_rejected = BooleanAttribute(null=True)
    # Aggregation bookkeeping, written by the aggregator.
    aggregation_requested_at = NumberAttribute(null=True)
    last_run_id = UnicodeAttribute(null=True)
    last_run_at = NumberAttribute(null=True)
    last_run_answers = NumberAttribute(default=0)
    last_run_ece = NumberAttribute(null=True)  # cross-fitted ECE of the last run's confidence
    # The quality rules (pydantic Rule objects, dumped), validated when set.
    rules = JSONAttribute(null=True)
    # Lifecycle, overlap changes, gold mixing and the lease gates.
    adaptive_overlap = JSONAttribute(null=True)  # {min_overlap, max_overlap, target_confidence}
    expires_at = NumberAttribute(null=True)  # epoch ms: no work served after it
    max_lease_extension_seconds = NumberAttribute(default=0)
    gold_rate = NumberAttribute(default=0.1)
    has_gold = NumberAttribute(null=True)  # 1 once a gold task was added: only then is gold looked for
    qualification = JSONAttribute(null=True)  # {gold_tasks, min_accuracy}
    min_reliability = NumberAttribute(null=True)
    audience = JSONAttribute(null=True)  # {languages, countries} of the workers served; null: all
    overlap_sync = JSONAttribute(null=True)  # {"cursor": last task key walked} while tasks catch up
    lease_sweep = JSONAttribute(null=True)  # {"cursor": ...} of the expired-lease cleanup pass

    by_owner = ProjectsByOwner()
    live_projects = LiveProjects()

    @property
    def budgeted(self) -> bool:
        return self.budget_cents is not None
