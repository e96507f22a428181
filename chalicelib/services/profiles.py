"""A worker's profile (display name, languages, country, acceptance of the terms) and what it
opens: the terms gate of the work routes and the projects' audiences.

The profile lives on the worker's overall record (WorkerStats(worker, "*")), which the work
path already reads with the worker's per-project records in one BatchGet (services.gates), so
the gates below cost no extra store call; erasure (services.erasure) drops it.

Terms: a worker signed in with the user pool gets no lease (403 terms_not_accepted) until it has
accepted the terms of work (PUT /me/profile {"accepted_terms": true}). A worker with an API key
is treated as having accepted them: its key was issued by the operator, under the operator's
agreement (and the existing integrations with worker keys keep working).
"""
from chalicelib.auth import Caller
from chalicelib.errors import Forbidden
from chalicelib.models import Project, WorkerStats
from chalicelib.models.base import now_ms
from chalicelib.models.workers import ALL_PROJECTS
from chalicelib.schemas.profile import ProfileIn, ProfileOut


def _overall(worker_id: str) -> WorkerStats:
    try:
        return WorkerStats.get(worker_id, ALL_PROJECTS, consistent_read=True)
    except WorkerStats.DoesNotExist:
        return WorkerStats(worker_id, ALL_PROJECTS)


def to_out(overall: WorkerStats) -> ProfileOut:
    accepted = overall.terms_accepted_at
    return ProfileOut(worker_id=overall.worker_id, display_name=overall.display_name,
                      languages=list(overall.languages or []), country=overall.country,
                      accepted_terms=accepted is not None,
                      terms_accepted_at=int(accepted) if accepted is not None else None)


def read(caller: Caller) -> ProfileOut:
    return to_out(_overall(caller.owner_id))


def put(caller: Caller, body: ProfileIn) -> ProfileOut:
    """Change the fields given (one update of the overall record, created if absent)."""
    given, actions = body.model_fields_set, []
    for name in ("display_name", "languages", "country"):
        if name in given:
            attribute, value = getattr(WorkerStats, name), getattr(body, name)
            actions.append(attribute.set(value) if value else attribute.remove())
    if "accepted_terms" in given and body.accepted_terms is not None:
        at = WorkerStats.terms_accepted_at
        actions.append(at.set(at | now_ms()) if body.accepted_terms else at.remove())  # the first acceptance
    if not actions:
        return read(caller)
    overall = WorkerStats(caller.owner_id, ALL_PROJECTS)
    overall.update(actions=actions)
    return to_out(overall)


def check_terms(caller: Caller, overall: WorkerStats | None) -> None:
    """403 terms_not_accepted for a signed-in worker that has not accepted the terms."""
    if caller.signed_in and (overall is None or overall.terms_accepted_at is None):
        raise Forbidden("Accept the terms of work first (PUT /me/profile with accepted_terms: true).",
                        code="terms_not_accepted")


def check_audience(project: Project, overall: WorkerStats | None) -> None:
    """403 not_in_audience if the project's audience leaves out this worker's profile (a
    worker without the language or country the audience asks for is left out)."""
    audience = project.audience
    if not audience:
        return
    languages, countries = audience.get("languages") or [], audience.get("countries") or []
    mine = set((overall.languages or []) if overall else [])
    country = overall.country if overall else None
    if (languages and not mine & set(languages)) or (countries and country not in countries):
        raise Forbidden("This project is for workers of another language or country (see your profile).",
                        code="not_in_audience", details={"languages": languages, "countries": countries})
