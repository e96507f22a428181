"""Webhooks: a project's registered endpoint and the log of its deliveries, in one table.

Items of a project share its partition: the endpoint under the sort key "endpoint", each
delivery under its id ("dlv_" + creation time in ms + random hex), so a project's delivery
log reads newest first with one Query, and a delivery is found by its id with one GetItem.
"""
from pynamodb.attributes import ListAttribute, MapAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.models.base import meta

ENDPOINT = "endpoint"
DUE = "due"


class DueDeliveries(GlobalSecondaryIndex):
    """Sparse index of the deliveries waiting for an attempt, soonest first: `due` is set
    ("due") only while a delivery is pending, so the scheduled pass reads nothing else.

    One partition: a delivery is written at most once per publication of a project (a project
    publishes at most once a minute) and a few times while it is retried, far below what one
    index partition takes.
    """

    class Meta:
        index_name = "due"
        projection = AllProjection()

    due = UnicodeAttribute(hash_key=True)
    next_attempt_at = NumberAttribute(range_key=True)


class WebhookEndpoint(Model):
    """The https URL a requester registered for a project, and the secret deliveries are
    signed with (kept in clear: signing needs it; the table is encrypted at rest)."""

    Meta = meta("webhooks")
    project_id = UnicodeAttribute(hash_key=True)
    item = UnicodeAttribute(range_key=True, default=ENDPOINT)
    url = UnicodeAttribute()
    secret = UnicodeAttribute()
    created_at = NumberAttribute()

    due_deliveries = DueDeliveries()  # the table's index; an endpoint never appears in it


class DeliveryAttempt(MapAttribute):
    """One attempt to deliver: when it started, how long it took, and what came back."""

    number = NumberAttribute()
    started_at = NumberAttribute()
    duration_ms = NumberAttribute()
    status = NumberAttribute(null=True)  # the receiver's HTTP status; none without a response
    error = UnicodeAttribute(null=True)


class WebhookDelivery(Model):
    """One event for a project's endpoint: the exact body sent on every attempt, and where it
    stands. status: pending (an attempt is due at next_attempt_at) | delivered | failed (gave
    up after attempt_limit attempts; a replay raises the limit). `sending_until` is the claim of
    an attempt in flight, so that two senders never send the same delivery at once."""

    Meta = meta("webhooks")
    project_id = UnicodeAttribute(hash_key=True)
    item = UnicodeAttribute(range_key=True)  # the delivery id
    event_type = UnicodeAttribute()
    run_id = UnicodeAttribute()
    body = UnicodeAttribute()
    created_at = NumberAttribute()
    status = UnicodeAttribute()
    attempts = NumberAttribute(default=0)
    attempt_limit = NumberAttribute()
    next_attempt_at = NumberAttribute(null=True)
    due = UnicodeAttribute(null=True)
    sending_until = NumberAttribute(null=True)
    last_attempt_at = NumberAttribute(null=True)
    last_status = NumberAttribute(null=True)
    last_error = UnicodeAttribute(null=True)
    last_url = UnicodeAttribute(null=True)
    delivered_at = NumberAttribute(null=True)
    replayed_at = NumberAttribute(null=True)
    # The latest attempts, oldest first (at most MAX_LOGGED_ATTEMPTS in services/webhooks).
    attempt_log = ListAttribute(of=DeliveryAttempt, null=True)
    # Time to live (epoch seconds): FOULE_WEBHOOK_LOG_RETENTION_DAYS after creation or the
    # latest replay (see services.webhooks.purge_time).
    purge_at = NumberAttribute(null=True)

    due_deliveries = DueDeliveries()
