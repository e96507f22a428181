"""Sharded project counters: each addition goes to one random shard; a read sums them."""
import random

from chalicelib.models import ProjectCounter
from chalicelib.models.counters import COUNTER_FIELDS
from chalicelib.settings import settings


def random_shard() -> int:
    return random.randrange(settings.counter_shards)


def add_in(transaction, project_id: str, **amounts: int) -> None:
    """Add to the counters inside a pynamodb TransactWrite."""
    counter = ProjectCounter(project_id, random_shard())
    transaction.update(counter, actions=[getattr(ProjectCounter, name).add(amount)
                                         for name, amount in amounts.items() if amount])


def add(project_id: str, **amounts: int) -> None:
    actions = [getattr(ProjectCounter, name).add(amount) for name, amount in amounts.items() if amount]
    if actions:
        ProjectCounter(project_id, random_shard()).update(actions=actions)


def totals(project_id: str) -> dict[str, int]:
    """The project's counters: one query over its shards."""
    sums = dict.fromkeys(COUNTER_FIELDS, 0)
    for shard in ProjectCounter.query(project_id, consistent_read=True):
        for name in COUNTER_FIELDS:
            sums[name] += int(getattr(shard, name) or 0)
    return sums
