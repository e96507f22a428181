from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.models import Model

from chalicelib.models.base import meta

COUNTER_FIELDS = ("tasks", "gold_tasks", "tasks_complete", "answers", "leases_granted",
                  "leases_released", "leases_expired", "rewards_cents",
                  "approved", "rejected", "paid_cents", "bonus_cents", "tasks_cancelled", "gold_answers",
                  "gold_leases_granted", "gold_leases_returned")


class ProjectCounter(Model):
    """One shard of a project's counters; a project's figure is the sum over its shards.

    Every answer adds to a counter; spreading the additions over shards keeps a popular
    project from funnelling all its writes into one item.
    """

    Meta = meta("counters")
    project_id = UnicodeAttribute(hash_key=True)
    shard = NumberAttribute(range_key=True)
    tasks = NumberAttribute(default=0)
    gold_tasks = NumberAttribute(default=0)
    tasks_complete = NumberAttribute(default=0)
    answers = NumberAttribute(default=0)
    leases_granted = NumberAttribute(default=0)
    leases_released = NumberAttribute(default=0)
    leases_expired = NumberAttribute(default=0)
    rewards_cents = NumberAttribute(default=0)
    # Money (services.review and services.ledger): reviews, and what was paid (rewards + bonuses).
    approved = NumberAttribute(default=0)
    rejected = NumberAttribute(default=0)
    paid_cents = NumberAttribute(default=0)
    bonus_cents = NumberAttribute(default=0)
    tasks_cancelled = NumberAttribute(default=0)  # real tasks only: gold tasks are never open work
    # Gold leases hold no slot and are not counted in leases_*; their answers are counted here
    # too, so that leases outstanding (real tasks only) is answers of real tasks away.
    gold_answers = NumberAttribute(default=0)
    # Gold leases granted and given back: written by the gold paths' transactions, so that a gold
    # lease or release touches the same items as a real one (no latency tells gold).
    gold_leases_granted = NumberAttribute(default=0)
    gold_leases_returned = NumberAttribute(default=0)
