"""GET /work/projects: the projects open to a worker, for the worker app's list.

Read from the live-projects index (services/live), shard after shard in `live_order` order. A
page reads at most SCAN projects of the index, then makes one BatchGet of the worker's records
in them (gates and profile, as /work/next does) and one keys-only Query (Limit 1) per listed
project to tell whether it has open tasks. A project is listed when it serves work now
(active, not expired, budget left: work.has_work) and the worker passes its gates and audience,
as /work/next would judge them; so a page may hold fewer than `limit` items, even none, and
only a null cursor ends the list. The cursor (sealed: services/paging) holds the shard and the
position last read.
"""
import json

from chalicelib import sealing
from chalicelib.auth import Caller
from chalicelib.errors import BadRequest, Forbidden
from chalicelib.models import Project, Task
from chalicelib.models.base import now_ms
from chalicelib.models.workers import ALL_PROJECTS
from chalicelib.schemas.answers import parse_answer_type
from chalicelib.schemas.profile import OpenProject, OpenProjectPage
from chalicelib.services import gates, live, open_tasks, paging, work
from chalicelib.settings import settings

SCAN = 100  # live projects read per page at most


def _start(cursor: str | None) -> tuple[int, str]:
    if not cursor:
        return 0, ""
    try:
        opened = paging.opened(cursor)
        shard, after = opened["shard"], opened["after"]
        ok = isinstance(shard, int) and 0 <= shard < settings.live_shards and isinstance(after, str)
    except (ValueError, TypeError, KeyError):
        ok = False
    if not ok:
        raise BadRequest("The cursor is not one this listing issued.", code="invalid_cursor")
    return shard, after


def _live_from(shard: int, after: str):
    """(shard, project) of every live project from the position (shard, after) on."""
    for current in range(shard, settings.live_shards):
        condition = Project.live_order > after if after and current == shard else None
        for project in Project.live_projects.query(live.shard_key(current), condition, page_size=SCAN):
            yield current, project


def _tasks_available(project: Project) -> bool:
    return any(next(iter(Task.open_tasks.query(open_tasks.partition_key(project.project_id, shard), limit=1)),
                    None) is not None
               for shard in range(open_tasks.shards(project)))


def page(caller: Caller, limit: int, cursor: str | None) -> OpenProjectPage:
    position, candidates, scanned, now = None, [], 0, now_ms()
    for shard, project in _live_from(*_start(cursor)):
        scanned += 1
        position = {"shard": shard, "after": project.live_order}
        if work.has_work(project, now):
            candidates.append(project)
        if len(candidates) == limit or scanned == SCAN:
            break
    else:
        position = None  # the index was read to its end
    records = gates.stats_of(caller.owner_id, [p.project_id for p in candidates])
    items = []
    for project in candidates:
        try:
            gates.check(project, records[project.project_id], now, records[ALL_PROJECTS])
        except Forbidden:
            continue
        items.append(OpenProject(
            project_id=project.project_id, title=project.title, reward_cents=int(project.reward_cents),
            lease_seconds=int(project.lease_seconds), instructions=project.instructions or "",
            kind=parse_answer_type(project.answer_type).kind, tasks_available=_tasks_available(project)))
    next_cursor = sealing.seal(paging.PURPOSE, json.dumps(position).encode()) if position else None
    return OpenProjectPage(items=items, cursor=next_cursor)
