"""Sharded project counters: each addition goes to one random item; a read sums them.

The items (`settings.counter_items`, 256 by default) are more than the shards of the indexes
partitioned by `random_shard` (`settings.counter_shards`): an index is read shard by shard,
the counters in one query, and the many lease and answer transactions of a popular project
must seldom meet on one counter item (bench/capacity_model.py)."""
import random

from chalicelib.models import ProjectCounter
from chalicelib.models.counters import COUNTER_FIELDS
from chalicelib.settings import settings


def random_shard() -> int:
    """A random partition of an index sharded like the counters (ledger, answers)."""
    return random.randrange(settings.counter_shards)


def _random_item() -> int:
    return random.randrange(settings.counter_items)


def add_in(transaction, project_id: str, **amounts: int) -> None:
    """Add to the counters inside a pynamodb TransactWrite."""
    counter = ProjectCounter(project_id, _random_item())
    transaction.update(counter, actions=[getattr(ProjectCounter, name).add(amount)
                                         for name, amount in amounts.items() if amount])


def add(project_id: str, **amounts: int) -> None:
    actions = [getattr(ProjectCounter, name).add(amount) for name, amount in amounts.items() if amount]
    if actions:
        ProjectCounter(project_id, _random_item()).update(actions=actions)


def totals(project_id: str) -> dict[str, int]:
    """The project's counters: one query over its shards."""
    sums = dict.fromkeys(COUNTER_FIELDS, 0)
    for shard in ProjectCounter.query(project_id, consistent_read=True):
        for name in COUNTER_FIELDS:
            sums[name] += int(getattr(shard, name) or 0)
    return sums
