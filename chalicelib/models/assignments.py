import zlib

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.models.base import meta, shard_partition
from chalicelib.settings import settings


class AnswersByProject(GlobalSecondaryIndex):
    """Sparse index of submitted answers, for the aggregator.

    The partition key is "<project>#<shard>" (shard from the task id), so a popular project's
    answers are written to several partitions instead of one.
    """

    class Meta:
        index_name = "answers_by_project"
        projection = AllProjection()

    answer_shard = UnicodeAttribute(hash_key=True)
    submitted_at = NumberAttribute(range_key=True)


# The key attributes of an answers_by_project item (the table's and the index's), for cursors.
ANSWERS_INDEX_KEY = {"task_key": "S", "worker_id": "S", "answer_shard": "S", "submitted_at": "N"}


def answer_shard(project_id: str, task_id: str) -> str:
    """The answers-index partition of a task's answers (stable, spread over the shards)."""
    return shard_partition(project_id, zlib.crc32(task_id.encode()) % settings.counter_shards)


class AssignmentsByWorker(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_worker"
        projection = AllProjection()

    worker_id = UnicodeAttribute(hash_key=True)
    leased_at = NumberAttribute(range_key=True)


class ReviewDue(GlobalSecondaryIndex):
    """Sparse index of the submitted assignments awaiting review, by the time they are approved
    automatically. `review_shard` ("0".."N-1", random) and `review_due_at` are set with the
    answer and removed by the review, so the auto-approval pass reads only what is due, across
    all projects (closed ones too), without a scan or a list of projects. Spread over
    FOULE_REVIEW_SHARDS partitions ("0".."N-1")."""

    class Meta:
        index_name = "review_due"
        projection = AllProjection()

    review_shard = UnicodeAttribute(hash_key=True)
    review_due_at = NumberAttribute(range_key=True)


class LiveGold(GlobalSecondaryIndex):
    """Sparse index of a project's live gold leases by expiry. Gold leases hold no task slot,
    so this is how the cleanup pass finds the lapsed ones: `live_gold` (the project id) is set
    with a gold lease and removed by its answer, return or expiry."""

    class Meta:
        index_name = "live_gold"
        projection = AllProjection()

    live_gold = UnicodeAttribute(hash_key=True)
    expires_at = NumberAttribute(range_key=True)


class Assignment(Model):
    """One worker on one task: at most one per (task, worker), which makes answers unique."""

    Meta = meta("assignments")
    task_key = UnicodeAttribute(hash_key=True)  # "<project_id>/<task_id>"
    worker_id = UnicodeAttribute(range_key=True)
    project_id = UnicodeAttribute()
    task_id = UnicodeAttribute()
    lease_id = UnicodeAttribute()
    slot = UnicodeAttribute()
    gold_slot = UnicodeAttribute(null=True)  # a gold lease: its entry in the task's slot maps (services/gold)
    # leased | submitted | returned | expired (work path); approved | rejected (review). Items from
    # before the rename say "released" for returned. "expired" is written by the cleanup pass;
    # until then a leased assignment past expires_at reads as expired (see lifecycle.state_of).
    state = UnicodeAttribute()
    leased_at = NumberAttribute()
    expires_at = NumberAttribute()
    extended_at = NumberAttribute(null=True)  # a lease is extended at most once
    live_gold = UnicodeAttribute(null=True)  # see LiveGold
    known_answer = JSONAttribute(null=True)  # copied from a gold task, so scoring needs no read
    answer = JSONAttribute(null=True)
    submitted_at = NumberAttribute(null=True)
    time_spent_ms = NumberAttribute(null=True)
    reward_cents = NumberAttribute(default=0)
    answer_shard = UnicodeAttribute(null=True)
    # Review (services.review): set with the answer, removed when reviewed.
    review_shard = UnicodeAttribute(null=True)
    review_due_at = NumberAttribute(null=True)
    # Review outcome, shown to the worker: when, and why (a rejection's reason is required).
    reviewed_at = NumberAttribute(null=True)
    review_reason = UnicodeAttribute(null=True)
    reviewed_by = UnicodeAttribute(null=True)  # "auto", or the requester's id
    # Time to live (epoch seconds), set when a lease expires unanswered: DynamoDB deletes the
    # item then (see services.lifecycle). A new lease replaces the whole item, so never a live one.
    purge_at = NumberAttribute(null=True)

    answers_by_project = AnswersByProject()
    by_worker = AssignmentsByWorker()
    review_due = ReviewDue()
    live_gold_leases = LiveGold()


def task_key(project_id: str, task_id: str) -> str:
    return f"{project_id}/{task_id}"


def replaceable(now: int):
    """The condition on an assignment that a new lease of the same task, by the same worker, may
    replace: given back, or run out (the same for real and gold tasks)."""
    return Assignment.state.is_in("released", "returned", "expired") \
        | ((Assignment.state == "leased") & (Assignment.expires_at < now))
