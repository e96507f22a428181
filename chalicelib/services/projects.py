"""Projects: a requester's container of tasks, with the rules every task of it follows."""
import functools
import secrets
import time
from dataclasses import dataclass

from pynamodb.exceptions import UpdateError

from chalicelib.auth import INTEGRATOR, Caller
from chalicelib.errors import BadRequest, Conflict, NotFound
from chalicelib.models import Project
from chalicelib.models.base import now_ms
from chalicelib.kinds import AGGREGATION_METHODS, Kind
from chalicelib.schemas.answers import parse_answer_type
from chalicelib.schemas.projects import (DEFAULT_AUTO_APPROVE_SECONDS,
                                         DEFAULT_REJECTION_REVERSAL_SECONDS, AggregationOut,
                                         AggregationQueued, AggregationSettings,
                                         Progress, ProjectCreate, ProjectOut, ProjectPage,
                                         ProjectUpdate, ReportSettings)
from chalicelib.schemas.views import PayloadSchema
from chalicelib.schemas.quality import Rule, parse_rules
from chalicelib.services import counters, ledger, live, paging, views


def to_out(project: Project) -> ProjectOut:
    return ProjectOut(project_id=project.project_id, title=project.title,
                      instructions=project.instructions, view=project.view,
                      payload_schema=project.payload_schema, answer_type=project.answer_type,
                      overlap=int(project.overlap), reward_cents=int(project.reward_cents),
                      lease_seconds=int(project.lease_seconds), priority=int(project.priority),
                      status=project.status, created_at=int(project.created_at),
                      updated_at=int(project.updated_at), last_run_id=project.last_run_id,
                      rules=project.rules or [], aggregation=aggregation_out(project),
                      report=ReportSettings(**(project.report or {})),
                      **_money_out(project), **work_settings_out(project))


# Aggregation settings: the method (validated against the kind's) and whether rejected answers count.
def aggregation_out(project: Project) -> AggregationOut:
    return AggregationOut(method=project.aggregation_method,
                          include_rejected=bool(project.aggregation_include_rejected))


def checked_method(kind: str, method: str | None) -> str | None:
    valid = AGGREGATION_METHODS[kind]
    if method is not None and method not in valid:
        raise BadRequest(f"No aggregation method {method!r} for {kind} projects; choose one of "
                         f"{', '.join(valid)}.", code="unknown_method",
                         details={"kind": kind, "methods": list(valid)})
    return method


def aggregation_in(kind: str, body: AggregationSettings | None) -> dict:
    if body is None:
        return {}
    return {"aggregation_method": checked_method(kind, body.method),
            "aggregation_include_rejected": body.include_rejected}


def aggregation_update(project: Project, body: AggregationSettings | None) -> list:
    """Update actions for the aggregation fields a PATCH gives."""
    if body is None:
        return []
    given, actions = body.model_fields_set, []
    if "method" in given:
        method = checked_method(parse_answer_type(project.answer_type).kind, body.method)
        actions.append(Project.aggregation_method.set(method) if method is not None
                       else Project.aggregation_method.remove())
    if "include_rejected" in given:
        actions.append(Project.aggregation_include_rejected.set(body.include_rejected))
    return actions


# How a task is shown (services/views): stored as given, without the nulls of absent options.
def view_fields(view: list | None, schema: PayloadSchema | None) -> dict:
    views.check_declaration(view, schema)
    return {"view": [block.model_dump(mode="json") for block in view] if view else None,
            "payload_schema": schema.model_dump(mode="json", exclude_none=True) if schema else None}


def view_update(project: Project, body: ProjectUpdate) -> list:
    """Update actions for the view and payload_schema a PATCH gives (null removes one); the
    pair is checked as it will be stored, whichever of the two changes."""
    given = body.model_fields_set & {"view", "payload_schema"}
    if not given:
        return []
    view = body.view if "view" in given else to_out(project).view
    schema = body.payload_schema if "payload_schema" in given else \
        (PayloadSchema.model_validate(project.payload_schema) if project.payload_schema else None)
    fields = view_fields(view, schema)
    return [getattr(Project, name).set(fields[name]) if fields[name] is not None
            else getattr(Project, name).remove() for name in sorted(given)]


def _money_out(project: Project) -> dict:
    """The budget and review settings of a project."""
    def number(value):
        return None if value is None else int(value)
    return dict(budget_cents=number(project.budget_cents),
                budget_remaining_cents=number(project.budget_remaining_cents),
                auto_approve_seconds=int(project.auto_approve_seconds if project.auto_approve_seconds
                                         is not None else DEFAULT_AUTO_APPROVE_SECONDS),
                rejection_reversal_seconds=int(
                    project.rejection_reversal_seconds if project.rejection_reversal_seconds
                    is not None else DEFAULT_REJECTION_REVERSAL_SECONDS))


# Lifecycle, overlap and gold-mixing settings.
def work_settings_out(project: Project) -> dict:
    return {"adaptive_overlap": project.adaptive_overlap, "expires_at": project.expires_at,
            "max_lease_extension_seconds": int(project.max_lease_extension_seconds or 0),
            "gold_rate": float(project.gold_rate or 0), "qualification": project.qualification,
            "min_reliability": project.min_reliability, "audience": project.audience}


def _audience_in(audience) -> dict | None:
    """As stored: null when it admits everyone."""
    return audience.model_dump() if audience and (audience.languages or audience.countries) else None


def work_settings_in(body: ProjectCreate) -> dict:
    adaptive = body.adaptive_overlap.model_dump() if body.adaptive_overlap else None
    return {"adaptive_overlap": adaptive, "expires_at": body.expires_at,
            "max_lease_extension_seconds": body.max_lease_extension_seconds, "gold_rate": body.gold_rate,
            "qualification": body.qualification.model_dump() if body.qualification else None,
            "min_reliability": body.min_reliability, "audience": _audience_in(body.audience),
            # An adaptive project's tasks start at min_overlap (see services/lifecycle).
            "overlap": adaptive["min_overlap"] if adaptive else body.overlap}


def work_settings_update(project: Project, body: ProjectUpdate) -> list:
    """Update actions for the work settings a PATCH changes. An overlap change is recorded on
    the project and carried to its tasks by the housekeeping pass (lifecycle.sync_overlap)."""
    given = body.model_fields_set
    actions = []
    if "overlap" in given and body.overlap is not None and body.overlap != int(project.overlap):
        if project.adaptive_overlap:
            raise Conflict("This project's overlap is adaptive: each task's overlap follows its confidence.",
                           code="overlap_is_adaptive")
        actions += [Project.overlap.set(body.overlap), Project.overlap_sync.set({"cursor": None})]
    if "expires_at" in given:
        actions.append(Project.expires_at.set(body.expires_at) if body.expires_at is not None
                       else Project.expires_at.remove())
    for name in ("gold_rate", "max_lease_extension_seconds"):
        if name in given and getattr(body, name) is not None:
            actions.append(getattr(Project, name).set(getattr(body, name)))
    if "min_reliability" in given:
        actions.append(Project.min_reliability.set(body.min_reliability) if body.min_reliability is not None
                       else Project.min_reliability.remove())
    if "audience" in given:
        audience = _audience_in(body.audience)
        actions.append(Project.audience.set(audience) if audience else Project.audience.remove())
    return actions


def create(caller: Caller, body: ProjectCreate) -> ProjectOut:
    now = now_ms()
    project_id = f"p-{secrets.token_hex(8)}"
    project = Project(project_id, owner_id=caller.owner_id, title=body.title,
                      instructions=body.instructions,
                      answer_type=body.answer_type.model_dump(mode="json"),
                      reward_cents=body.reward_cents, lease_seconds=body.lease_seconds,
                      priority=body.priority, status="active", created_at=now, updated_at=now,
                      **live.keys(project_id), **view_fields(body.view, body.payload_schema),
                      budget_cents=body.budget_cents, budget_remaining_cents=body.budget_cents,
                      auto_approve_seconds=body.auto_approve_seconds,
                      rejection_reversal_seconds=body.rejection_reversal_seconds,
                      rules=[r.model_dump(mode="json") for r in body.rules],
                      **aggregation_in(body.answer_type.kind, body.aggregation),
                      report=body.report.model_dump() if body.report else None,
                      **work_settings_in(body))
    project.save(condition=Project.project_id.does_not_exist())
    return to_out(project)


def get(project_id: str) -> Project:
    try:
        return Project.get(project_id)
    except Project.DoesNotExist:
        raise NotFound(f"No project {project_id!r}.", code="project_not_found") from None


@dataclass(frozen=True)
class Terms:
    """What a project promises its workers; fixed when the project is created."""

    answer_type: Kind
    reward_cents: int
    # Whether a budget exists is fixed at creation (its amount is not: it is
    # never read from here), and so is the auto-approval delay.
    project_id: str = ""
    budgeted: bool = False
    auto_approve_seconds: int = DEFAULT_AUTO_APPROVE_SECONDS


@functools.lru_cache(maxsize=4096)
def terms(project_id: str) -> Terms:
    """A project's fixed terms, read once per process: the answer path needs no project read."""
    project = get(project_id)
    return Terms(parse_answer_type(project.answer_type), int(project.reward_cents),
                 project_id=project.project_id, budgeted=project.budgeted,
                 auto_approve_seconds=_money_out(project)["auto_approve_seconds"])


# The answer path reads a project's rules at most this often per process (one read per
# project per container every 5 minutes, instead of one per answer): a PATCH of the rules
# takes effect on answers within this delay (at once in this process, and in the scheduled
# evaluation, which reads the project).
RULES_CACHE_SECONDS = 300
_rules_cache: dict[str, tuple[float, list[Rule]]] = {}


def project_rules(project: Project) -> list[Rule]:
    rules = parse_rules(project.rules)
    _rules_cache[project.project_id] = (time.monotonic() + RULES_CACHE_SECONDS, rules)
    return rules


def cached_rules(project_id: str) -> list[Rule]:
    hit = _rules_cache.get(project_id)
    if hit and hit[0] > time.monotonic():
        return hit[1]
    try:
        project = Project.get(project_id, attributes_to_get=["project_id", "rules"])
    except Project.DoesNotExist:
        return []
    return project_rules(project)


def get_owned(caller: Caller, project_id: str, consistent: bool = False) -> Project:
    """The project if the caller owns it (or is an admin). Others' projects are 404, not 403,
    so that ids cannot be probed."""
    try:
        project = Project.get(project_id, consistent_read=consistent)
    except Project.DoesNotExist:
        project = None
    if project is None or (caller.role != "admin" and project.owner_id != caller.owner_id):
        raise NotFound(f"No project {project_id!r}.", code="project_not_found")
    return project


def check_results_reader(caller: Caller, project_id: str) -> None:
    """Whether the caller may read this project's results: its requester (get_owned), or an
    integrator key whose scope names the project. The scope comes from the authorizer, so a
    revocation counts as it does there (`auth.lookup`); a project outside it is a 404, as for
    any project one cannot see."""
    if caller.role != INTEGRATOR:
        get_owned(caller, project_id)
    elif project_id not in caller.project_ids:
        raise NotFound(f"No project {project_id!r}.", code="project_not_found")


def read(caller: Caller, project_id: str) -> ProjectOut:
    return to_out(get_owned(caller, project_id))


def list_page(caller: Caller, limit: int, cursor: str | None) -> ProjectPage:
    start = paging.decode(cursor, {"project_id": "S", "owner_id": "S", "created_at": "N"},
                          "owner_id", caller.owner_id)
    results = Project.by_owner.query(caller.owner_id, limit=limit, last_evaluated_key=start,
                                     scan_index_forward=False)
    items = [to_out(p) for p in results]
    return ProjectPage(items=items, next_cursor=paging.encode(results.last_evaluated_key))


ALLOWED_MOVES = {"active": {"active", "paused", "closed"}, "paused": {"active", "paused", "closed"},
                 "closed": {"closed"}}


def update(caller: Caller, project_id: str, body: ProjectUpdate) -> ProjectOut:
    project = get_owned(caller, project_id, consistent=True)
    aggregation_actions = aggregation_update(project, body.aggregation)  # validated before any write
    view_actions = view_update(project, body)
    if body.budget_cents is not None:  # its own conditional write
        project = ledger.change_budget(project, body.budget_cents)
    status = body.status or project.status
    if status not in ALLOWED_MOVES[project.status]:
        raise Conflict("A closed project cannot be reopened.", code="project_closed")
    priority = project.priority if body.priority is None else body.priority
    actions = [Project.status.set(status), Project.priority.set(priority),
               Project.updated_at.set(now_ms())] + work_settings_update(project, body) \
        + aggregation_actions + view_actions
    if body.report is not None:
        actions.append(Project.report.set(body.report.model_dump()))
    if body.rules is not None:
        actions.append(Project.rules.set([r.model_dump(mode="json") for r in body.rules]))
        _rules_cache.pop(project_id, None)  # this process applies the new rules at once
    # A closed project stays in the live index until the aggregator has published its last
    # answers; the aggregator then removes it.
    actions.append(Project.live_order.set(live.order_key(project_id)))  # re-keys pre-sharding items
    try:
        # Conditional on the status read, so that two updates racing cannot reopen a closed project.
        project.update(actions=actions, condition=Project.status == project.status)
    except UpdateError:
        raise Conflict("The project changed meanwhile; read it and try again.",
                       code="concurrent_update") from None
    return to_out(project)


def progress(caller: Caller, project_id: str) -> Progress:
    project = get_owned(caller, project_id)
    sums = counters.totals(project_id)
    real_answers = sums["answers"] - sums["gold_answers"]
    outstanding = sums["leases_granted"] - real_answers - sums["leases_released"] - sums["leases_expired"]
    # Gold tasks are never open work nor complete: every worker may answer one (services/gold).
    tasks_open = sums["tasks"] - sums["gold_tasks"] - sums["tasks_complete"] - sums["tasks_cancelled"]
    return Progress(project_id=project_id, status=project.status, tasks=sums["tasks"],
                    gold_tasks=sums["gold_tasks"], tasks_open=max(tasks_open, 0),
                    tasks_complete=sums["tasks_complete"], tasks_cancelled=sums["tasks_cancelled"],
                    answers=sums["answers"],
                    leases_outstanding=max(outstanding, 0), rewards_cents=sums["rewards_cents"],
                    last_run_id=project.last_run_id, last_run_at=project.last_run_at,
                    answers_in_last_run=int(project.last_run_answers or 0),
                    last_run_ece=None if project.last_run_ece is None else float(project.last_run_ece),
                    **money_progress(project, sums))


def money_progress(project: Project, sums: dict) -> dict:
    """Reviews and spending from the counters, the budget from the project (GET /progress; the
    run report shows the same figures)."""
    budget, remaining = project.budget_cents, project.budget_remaining_cents
    reserved = None if budget is None else int(budget) - int(remaining) - sums["paid_cents"]
    return dict(approved=sums["approved"], rejected=sums["rejected"],
                awaiting_review=max(sums["answers"] - sums["approved"] - sums["rejected"], 0),
                paid_cents=sums["paid_cents"], bonus_cents=sums["bonus_cents"],
                budget_cents=None if budget is None else int(budget),
                budget_reserved_cents=None if reserved is None else max(reserved, 0),
                budget_remaining_cents=None if remaining is None else int(remaining))


def request_aggregation(caller: Caller, project_id: str) -> AggregationQueued:
    """Ask the scheduled aggregator to run this project on its next pass, changed or not."""
    project = get_owned(caller, project_id)
    now = now_ms()
    keys = live.keys(project_id)
    project.update(actions=[Project.aggregation_requested_at.set(now), Project.live.set(keys["live"]),
                            Project.live_order.set(keys["live_order"])])
    return AggregationQueued(project_id=project_id, requested_at=now)
