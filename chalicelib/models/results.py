from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.models import Model

from chalicelib.models.base import meta


class TaskResult(Model):
    """The aggregated label of a task from the latest aggregation run."""

    Meta = meta("results")
    project_id = UnicodeAttribute(hash_key=True)
    task_id = UnicodeAttribute(range_key=True)
    label = JSONAttribute()
    confidence = NumberAttribute()
    answer_count = NumberAttribute()
    gold = NumberAttribute(default=0)  # 1 when the label is the task's known answer
    run_id = UnicodeAttribute()
