from pynamodb.attributes import JSONAttribute, MapAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.models.base import meta

# A slot holding an accepted answer never expires.
ANSWERED = 2**53


class OpenTasks(GlobalSecondaryIndex):
    """Sparse index of the tasks still collecting answers, in the order work is handed out.

    `open_project` is the project id while the task is open and is removed when the task has
    all its answers, so `next task` reads only tasks that may have a free slot.
    """

    class Meta:
        index_name = "open_tasks"
        projection = AllProjection()

    open_project = UnicodeAttribute(hash_key=True)
    open_order = UnicodeAttribute(range_key=True)


class GoldTasks(GlobalSecondaryIndex):
    """Sparse index of a project's gold tasks, in the order they are mixed into workers' streams.

    Gold tasks are never in `open_tasks`: they have no slot limit (any number of workers may
    answer one, each once), and `gold_project` is removed only when the task is cancelled.
    """

    class Meta:
        index_name = "gold_tasks"
        projection = AllProjection()

    gold_project = UnicodeAttribute(hash_key=True)
    open_order = UnicodeAttribute(range_key=True)


class Task(Model):
    """A task, and the slots that make over-assignment impossible.

    A task with overlap N (copied from its project when created, changed later by an overlap
    change or adaptive overlap, see services/lifecycle) has N slots, numbered "0".."N-1". A slot is free when
    `slot_expiry[k]` is absent or in the past; a lease takes it with a conditional write, an
    answer makes it permanent (ANSWERED). Live leases + answers can therefore never exceed N,
    whatever the concurrency, and an expired lease frees its slot without any scan.
    """

    Meta = meta("tasks")
    project_id = UnicodeAttribute(hash_key=True)
    task_id = UnicodeAttribute(range_key=True)
    payload = JSONAttribute()
    known_answer = JSONAttribute(null=True)  # set for gold tasks
    created_at = NumberAttribute()
    answer_count = NumberAttribute(default=0)
    slot_expiry = MapAttribute(default=dict)  # slot -> epoch ms when the lease ends, or ANSWERED
    slot_lease = MapAttribute(default=dict)  # slot -> lease id
    slot_worker = MapAttribute(default=dict)  # slot -> worker id
    overlap = NumberAttribute(null=True)  # slots; absent on tasks older than per-task overlap
    open_project = UnicodeAttribute(null=True)
    open_order = UnicodeAttribute(null=True)
    gold_project = UnicodeAttribute(null=True)  # set on gold tasks until they are cancelled
    cancelled_at = NumberAttribute(null=True)

    open_tasks = OpenTasks()
    gold_tasks = GoldTasks()
