from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.models.base import meta


class EntriesByWorker(GlobalSecondaryIndex):
    """A worker's history, newest first: one partition per worker, who writes at its own pace."""

    class Meta:
        index_name = "by_worker"
        projection = AllProjection()

    worker_id = UnicodeAttribute(hash_key=True)
    created_at = NumberAttribute(range_key=True)


class EntriesByProject(GlobalSecondaryIndex):
    """A project's spending. The partition is "<project>#<shard>" (a random shard), so the
    approvals of a popular project, which the auto-approval pass writes in bursts, are spread
    over several partitions instead of one."""

    class Meta:
        index_name = "by_project"
        projection = AllProjection()

    project_shard = UnicodeAttribute(hash_key=True)
    created_at = NumberAttribute(range_key=True)


class LedgerEntry(Model):
    """One payment to a worker: an approved reward or a bonus, in integer cents.

    The key is the payment's idempotency key (see services.ledger: derived from the assignment
    for a reward, from the requester's client token for a bonus) and the entry is written with
    a condition that it does not exist yet, in the transaction that moves the balances: a
    payment can happen only once, whatever retries or races.
    """

    Meta = meta("ledger")
    entry_id = UnicodeAttribute(hash_key=True)
    kind = UnicodeAttribute()  # reward | bonus
    worker_id = UnicodeAttribute()
    project_id = UnicodeAttribute()
    project_shard = UnicodeAttribute()
    cents = NumberAttribute()
    created_at = NumberAttribute()
    task_id = UnicodeAttribute(null=True)
    assignment_id = UnicodeAttribute(null=True)
    reason = UnicodeAttribute(null=True)  # a bonus's reason, shown to the worker

    by_worker = EntriesByWorker()
    by_project = EntriesByProject()
