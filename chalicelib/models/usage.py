from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.models import Model

from chalicelib.models.base import meta


class UsageCounter(Model):
    """Requests of one API key in one window: "<key_id>#t#<window>" for the throttle,
    "<key_id>#q#<period>" for the quota (services.rate_limits). Incremented with a condition,
    never read on the request path; deleted by DynamoDB's time to live after `purge_at`."""

    Meta = meta("usage")
    counter_id = UnicodeAttribute(hash_key=True)
    hits = NumberAttribute(default=0)
    purge_at = NumberAttribute(null=True)  # epoch seconds
