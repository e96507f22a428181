"""A project's open-task index: the real tasks still collecting answers, spread over shards.

Every `/work/next` reads this index and every lease and answer rewrites an item of it, so one
partition per project would cap a popular project (bench/capacity_model.py: at 1,000 answers a
second the index of one project takes ~3x the writes a partition can, and every worker read
the same first page and raced for its slots). So:

- partition key `open_project`: the project id for shard 0 (the only value before sharding,
  which stored tasks keep), "<project id>#k" for shard k = hash(task id) mod the project's
  `open_shards` when the task was added. `open_shards` (absent: 1) grows with the project's
  tasks, one shard per TASKS_PER_SHARD up to `settings.open_task_shards`, and never shrinks:
  readers look in shards 0..open_shards-1, which hold every task however it was sharded;
- sort key `open_order`: for tasks added since, a hash of the task id first, so that a page
  read from a random position is a random sample of the shard's open tasks, and workers asking
  at once spread over all of them instead of racing for the first page.
"""
import hashlib
import random

from pynamodb.exceptions import UpdateError

from chalicelib.models import Project, Task
from chalicelib.services import counters
from chalicelib.settings import settings

PAGE = 10  # open tasks read per query when looking for work
# When a page holds nothing the worker may take (it answered them all, or their slots are
# taken), the shard is read on in pages this large, at most this many more queries a request.
CONTINUE_PAGE = 50
MORE_QUERIES = 3
TASKS_PER_SHARD = 200  # a small project keeps one shard: a sample then needs one query


def shards(project: Project) -> int:
    return int(project.open_shards or 1)


def partition_key(project_id: str, shard: int) -> str:
    return project_id if shard == 0 else f"{project_id}#{shard}"


def _hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def grow(project: Project, adding: int) -> None:
    """Before `adding` tasks: raise the project's shard count if its tasks call for more
    (one read of its counters, and one conditional write when the count changes)."""
    if shards(project) >= settings.open_task_shards:
        return
    total = counters.totals(project.project_id)["tasks"] + adding
    wanted = min(settings.open_task_shards, 1 + total // TASKS_PER_SHARD)
    if wanted <= shards(project):
        return
    try:
        project.update(actions=[Project.open_shards.set(wanted)],
                       condition=Project.open_shards.does_not_exist() | (Project.open_shards < wanted))
    except UpdateError:  # raised further meanwhile: use that
        project.open_shards = Project.get(project.project_id, consistent_read=True).open_shards


def key_of(project: Project, task_id: str) -> str:
    """The `open_project` value of an open task of this project."""
    return partition_key(project.project_id, _hash(task_id) % shards(project))


def order_key(task_id: str, created_at: int, index: int) -> str:
    """`open_order` of a real task: a fixed random position, then the order it was added in."""
    return f"{_hash('order#' + task_id) & 0xFFFFFFFF:08x}#{created_at:013d}#{index:04d}"


def sample(project: Project, rng: random.Random, usable=lambda task: True, page: int = PAGE) -> list[Task]:
    """Up to `page` open tasks from a random position of a random shard, the `usable` ones of
    them. One query when the first page has a usable task (a gold lease also reads one page:
    services/gold); else the shard is read on, through its end and then from its start, in
    larger pages (CONTINUE_PAGE, at most MORE_QUERIES), then the other shards the same way."""
    count = shards(project)
    first = rng.randrange(count)
    start = f"{rng.getrandbits(32):08x}"
    budget = [MORE_QUERIES]
    for step in range(count):
        key = partition_key(project.project_id, (first + step) % count)
        found = _usable_from(key, start, page, usable, budget) if step == 0 else \
            _usable_from(key, "", page, usable, budget)
        if found or budget[0] <= 0:
            return found
    return []


def _usable_from(key: str, start: str, page: int, usable, budget: list[int]) -> list[Task]:
    """The first usable tasks of one shard from `start` on, wrapping to the shard's start."""
    first_page = True
    for condition in ((Task.open_order >= start), (Task.open_order < start)) if start else (None,):
        last = None
        while first_page or budget[0] > 0:
            if not first_page:
                budget[0] -= 1
            result = Task.open_tasks.query(key, condition, limit=page if first_page else CONTINUE_PAGE,
                                           last_evaluated_key=last)
            first_page = False
            found = [task for task in result if usable(task)]
            if found:
                return found
            last = result.last_evaluated_key
            if not last:
                break
    return []


def walk_pages(project: Project, page_size: int, start: dict | None):
    """The query of one page for a cursor walk over all shards (services.lifecycle's sweep):
    `start` is {"shard": k, "key": last evaluated key or None}; the page's last_evaluated_key
    is the next such cursor, or None at the end of the last shard."""
    if start and "shard" not in start:
        start = {"shard": 0, "key": start}  # a cursor saved before sharding: shard 0's key
    shard = int((start or {}).get("shard", 0))
    result = Task.open_tasks.query(partition_key(project.project_id, shard), limit=page_size,
                                   last_evaluated_key=(start or {}).get("key"))
    return _ShardPage(result, shard, shards(project))


class _ShardPage:
    def __init__(self, result, shard: int, count: int):
        self.items = list(result)
        key = result.last_evaluated_key
        if key:
            self.last_evaluated_key = {"shard": shard, "key": key}
        elif shard + 1 < count:
            self.last_evaluated_key = {"shard": shard + 1, "key": None}
        else:
            self.last_evaluated_key = None

    def __iter__(self):
        return iter(self.items)
