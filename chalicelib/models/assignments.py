from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.models.base import meta


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


class AssignmentsByWorker(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_worker"
        projection = AllProjection()

    worker_id = UnicodeAttribute(hash_key=True)
    leased_at = NumberAttribute(range_key=True)


class Assignment(Model):
    """One worker on one task: at most one per (task, worker), which makes answers unique."""

    Meta = meta("assignments")
    task_key = UnicodeAttribute(hash_key=True)  # "<project_id>/<task_id>"
    worker_id = UnicodeAttribute(range_key=True)
    project_id = UnicodeAttribute()
    task_id = UnicodeAttribute()
    lease_id = UnicodeAttribute()
    slot = UnicodeAttribute()
    state = UnicodeAttribute()  # leased | submitted | released
    leased_at = NumberAttribute()
    expires_at = NumberAttribute()
    known_answer = JSONAttribute(null=True)  # copied from a gold task, so scoring needs no read
    answer = JSONAttribute(null=True)
    submitted_at = NumberAttribute(null=True)
    time_spent_ms = NumberAttribute(null=True)
    reward_cents = NumberAttribute(default=0)
    answer_shard = UnicodeAttribute(null=True)

    answers_by_project = AnswersByProject()
    by_worker = AssignmentsByWorker()


def task_key(project_id: str, task_id: str) -> str:
    return f"{project_id}/{task_id}"
