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
    """WORK: lapsed leases marked expired and their slots freed (open tasks of live projects)."""
    from chalicelib.services import lifecycle

    expired = 0
    for project in _live_projects():
        if time.monotonic() >= deadline:
            break
        expired += lifecycle.sweep_project(project, deadline)
    return {"leases_expired": expired}


def _sync_overlap(deadline: float) -> dict:
    """WORK: a project's changed overlap carried to its tasks (re-opened or completed)."""
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


def run(time_budget_seconds: float) -> dict:
    deadline = time.monotonic() + time_budget_seconds
    summaries, failures = {}, []
    for name, run_pass in passes():
        try:
            summaries[name] = run_pass(deadline)
        except Exception as error:  # noqa: BLE001 - one pass must not stop the others
            log.exception("scheduled pass %s failed", name)
            failures.append(f"{name}: {error!r}")
    if failures:
        raise HousekeepingFailed("; ".join(failures))
    return summaries
