"""The live-projects index: which projects the work queue and the scheduled passes look at.

A project is live from its creation until the aggregator has published the last answers of it
closed. The index (`Project.live_projects`) is sharded, so that no partition takes every
`/work/next` read and every live project's writes:

- partition key `live`: "live" for shard 0 (the only value before sharding: stored items keep
  working), "live#k" for shard k, k = hash(project id) mod `settings.live_shards`;
- sort key `live_order`: a hash of the project id, i.e. a fixed random position.

`/work/next` without a project reads one window of WINDOW projects starting at a random
position of a random shard (two queries at most, more only while walking over empty shards),
then chooses among the window's projects by `weights`: every tenant in the window weighs the
same, and a tenant's weight is split among its own projects by their priority, normalised to
the tenant's own range. Priority thus orders one requester's projects and nothing else:
a requester with 50 projects at priority 1000 gets the same share of a window as one with a
single project at -1000. A project's chance per request is about 1 / live projects whatever
the others' priorities: none is starved, and the cost per request does not grow with their number.
"""
import hashlib
import random
from collections import defaultdict

from chalicelib.models import Project
from chalicelib.settings import settings

PREFIX = "live"
WINDOW = 16  # projects read per /work/next without a project
MAX_BOOST = 8  # a tenant's highest-priority project weighs this many times its lowest


def _hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def shard_key(shard: int) -> str:
    return PREFIX if shard == 0 else f"{PREFIX}#{shard}"


def shard_of(project_id: str) -> str:
    """The `live` value of a live project."""
    return shard_key(_hash(project_id) % settings.live_shards)


def order_key(project_id: str) -> str:
    """The project's `live_order`: a fixed pseudo-random position in its shard."""
    return f"{_hash('order#' + project_id) & 0xFFFFFFFF:08x}"


def keys(project_id: str) -> dict:
    """The attributes that put a project in the index (to set on create and on re-opening)."""
    return {"live": shard_of(project_id), "live_order": order_key(project_id)}


def all_projects():
    """Every live project, shard after shard (the scheduled passes walk them all)."""
    for shard in range(settings.live_shards):
        yield from Project.live_projects.query(shard_key(shard))


def window(rng: random.Random) -> list[Project]:
    """Up to WINDOW live projects from a random position of a random shard, wrapping to the
    shard's start, and on to the next shards while the window is not full (few live projects):
    at most live_shards + 1 queries, two when projects are many."""
    shards = settings.live_shards
    first = rng.randrange(shards)
    start = f"{rng.getrandbits(32):08x}"
    found: list[Project] = list(Project.live_projects.query(
        shard_key(first), Project.live_order >= start, limit=WINDOW))
    if len(found) < WINDOW:
        found += Project.live_projects.query(shard_key(first), Project.live_order < start,
                                             limit=WINDOW - len(found))
    for step in range(1, shards):
        if len(found) >= WINDOW:
            break
        found += Project.live_projects.query(shard_key((first + step) % shards), limit=WINDOW - len(found))
    return found


def weights(projects: list[Project]) -> dict[str, float]:
    """Each tenant (owner) in `projects` weighs 1; its weight is split among its projects in
    proportion to 1 + (MAX_BOOST - 1) * (priority - its lowest) / (its highest - its lowest)."""
    by_owner = defaultdict(list)
    for project in projects:
        by_owner[project.owner_id].append(project)
    result = {}
    for own in by_owner.values():
        priorities = [int(p.priority or 0) for p in own]
        low, span = min(priorities), (max(priorities) - min(priorities)) or 1
        raw = [1 + (MAX_BOOST - 1) * (priority - low) / span for priority in priorities]
        for project, weight in zip(own, raw):
            result[project.project_id] = weight / sum(raw)
    return result


def weighted_order(projects: list[Project], rng: random.Random) -> list[Project]:
    """The projects in a random order drawn by weight, without replacement (Efraimidis and
    Spirakis, "Weighted random sampling with a reservoir", IPL 2006: sort by u ** (1 / w))."""
    weight = weights(projects)
    return sorted(projects, key=lambda p: rng.random() ** (1 / weight[p.project_id]), reverse=True)
