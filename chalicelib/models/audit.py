from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.models import Model

from chalicelib.models.base import meta


class AuditEntry(Model):
    """One action of a requester or an admin that moved money or access, written once.

    Append-only: the app only ever puts new items (in the transaction of the action itself,
    see services.audit), and its IAM policy grants no UpdateItem or DeleteItem on the table.
    A log is a partition: "project#<project_id>" for what concerns a project, "account#<id>"
    for an account's own keys. `entry_id` ("<microseconds, 16 digits>#<random>") sorts by time.
    `worker_id` is the project owner's pseudonym of the worker, never the raw id (services.audit).
    """

    Meta = meta("audit")
    log_id = UnicodeAttribute(hash_key=True)
    entry_id = UnicodeAttribute(range_key=True)
    at = NumberAttribute()
    action = UnicodeAttribute()
    actor_id = UnicodeAttribute()
    actor_role = UnicodeAttribute()
    project_id = UnicodeAttribute(null=True)
    worker_id = UnicodeAttribute(null=True)
    key_id = UnicodeAttribute(null=True)
    cents = NumberAttribute(null=True)
    reason = UnicodeAttribute(null=True)
    details = JSONAttribute(null=True)
