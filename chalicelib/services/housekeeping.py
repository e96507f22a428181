"""The scheduled function: its passes, run one after the other within one time budget.

Each pass is a function `(deadline) -> summary` that does bounded work and stops when
`time.monotonic()` passes the deadline; what it leaves is picked up by the next scheduled
run. A pass that fails does not stop the others: the failures are raised together at the end,
so that the Lambda reports an error (and its alarm fires) after the whole run.

Passes are imported inside `run` because the aggregator brings numpy, which the API function
must never load.
"""
import logging
import time

from chalicelib import observability

log = logging.getLogger("foule.housekeeping")


class HousekeepingFailed(Exception):
    pass


def _aggregate(deadline: float) -> list[dict]:
    from chalicelib.services import aggregator

    return aggregator.run_due_projects(time_budget_seconds=max(0.0, deadline - time.monotonic()))


def _deliver_webhooks(deadline: float) -> list[dict]:
    from chalicelib.services import webhooks

    return webhooks.deliver_due(deadline)


def _auto_approve(deadline: float) -> dict:
    from chalicelib.services import review

    return review.auto_approve_due(deadline)


def _live_projects():
    from chalicelib.services import live

    return live.all_projects()


def _expire_leases(deadline: float) -> dict:
    """Lapsed leases marked expired and their slots freed (open tasks of live projects)."""
    from chalicelib.services import lifecycle

    expired = 0
    for project in _live_projects():
        if time.monotonic() >= deadline:
            break
        expired += lifecycle.sweep_project(project, deadline)
    return {"leases_expired": expired}


def _sync_overlap(deadline: float) -> dict:
    """A project's changed overlap carried to its tasks (re-opened or completed)."""
    from chalicelib.services import overlap

    synced = pending = 0
    for project in _live_projects():
        if project.overlap_sync is None:
            continue
        if time.monotonic() < deadline and overlap.sync_project(project, deadline):
            synced += 1
        else:
            pending += 1
    return {"projects_synced": synced, "projects_pending": pending}


def passes() -> list:
    """The passes in the order they run: aggregation first, as results are what users wait for."""
    return [("aggregation", _aggregate), ("webhooks", _deliver_webhooks), ("auto_approval", _auto_approve),
            ("overlap_sync", _sync_overlap), ("lease_expiry", _expire_leases)]


def did_something(summary) -> bool:
    """True if a pass summary counts anything done (a number above zero anywhere in it)."""
    if isinstance(summary, dict):
        return any(did_something(v) for v in summary.values())
    if isinstance(summary, list):
        return bool(summary)
    return not isinstance(summary, bool) and isinstance(summary, (int, float)) and summary > 0


def run(time_budget_seconds: float, request_id: str | None = None) -> dict:
    """Every pass, one log line and one duration metric each (chalicelib.observability)."""
    deadline = time.monotonic() + time_budget_seconds
    summaries, failures = {}, []
    for name, run_pass in passes():
        with observability.scope("scheduler", request_id=request_id, scheduled_pass=name):
            started = time.perf_counter()
            try:
                summaries[name] = run_pass(deadline)
            except Exception as error:  # one pass must not stop the others
                log.exception("scheduled pass %s failed", name)
                failures.append(f"{name}: {error!r}")
            elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
            observability.metric(observability.SCHEDULED_PASS_MS, elapsed_ms, "Milliseconds",
                                 scheduled_pass=name)
            summary = summaries.get(name)
            failed = name not in summaries
            # A pass with nothing to do is a DEBUG line: the local stack runs them every few seconds.
            observability.log_event("scheduled pass", logging.INFO if failed or did_something(summary)
                                    else logging.DEBUG, duration_ms=elapsed_ms, failed=failed,
                                    **({"summary": summary} if isinstance(summary, dict) else {}))
    if failures:
        raise HousekeepingFailed("; ".join(failures))
    return summaries
