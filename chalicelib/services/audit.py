"""The audit log: every requester or admin action that moves money or access, once.

Actions logged: approve, reject (per assignment), bonus, block, unblock, exclude, include
(by the requester or an admin; automatic approvals and rules' actions are the system's, not
logged here), and key_created, key_revoked, key_rotated, key_changed.

An entry is put in the same DynamoDB transaction as the action (`put_in`), so it exists iff
the action happened: a retried request that changes nothing (an approval already made, a
bonus already paid) writes no second entry. Entries are never updated or deleted by the app
(infra/aws.yaml grants neither). Logs: "project#<id>" (read by the project's owner and
admins), "account#<id>" (an account's own keys: read by that requester and admins).

An entry names a worker by the project owner's pseudonym (services.pseudonyms) and a task by
its id, never by the raw worker id nor a lease id (which carries it, sealed): the log is
append-only, so it must hold nothing that a worker's erasure (services.erasure) would have to
take out of it.
"""
import secrets
import time

from chalicelib.auth import Caller
from chalicelib.errors import Forbidden
from chalicelib.models import AuditEntry
from chalicelib.models.base import put_new
from chalicelib.schemas.audit import AuditEntryOut, AuditPage
from chalicelib.services import paging

ADMIN = "admin"


def project_log(project_id: str) -> str:
    return f"project#{project_id}"


def account_log(account_id: str) -> str:
    return f"account#{account_id}"


def entry(log_id: str, action: str, actor: Caller, *, project_id: str | None = None,
          worker_id: str | None = None, key_id: str | None = None,
          cents: int | None = None, reason: str | None = None, details: dict | None = None) -> AuditEntry:
    micros = time.time_ns() // 1000  # the sort key: finer than `at`, so that entries keep their order
    return AuditEntry(log_id, f"{micros:016d}#{secrets.token_hex(6)}", at=micros // 1000, action=action,
                      actor_id=actor.owner_id, actor_role=actor.role, project_id=project_id,
                      worker_id=worker_id, key_id=key_id, cents=cents,
                      reason=reason or None, details=details or None)


def put_in(tx, item: AuditEntry) -> None:
    """Write the entry inside the action's TransactWrite (a new item, never an update)."""
    put_new(tx, item)


def _out(item: AuditEntry) -> AuditEntryOut:
    return AuditEntryOut(
        entry_id=item.entry_id, at=int(item.at), action=item.action, actor_id=item.actor_id,
        actor_role=item.actor_role, project_id=item.project_id,
        worker_id=item.worker_id, key_id=item.key_id, cents=None if item.cents is None else int(item.cents),
        reason=item.reason, details=item.details or {})


def _page(log_id: str, limit: int, cursor: str | None) -> AuditPage:
    start = paging.decode(cursor, {"log_id": "S", "entry_id": "S"}, "log_id", log_id)
    page = AuditEntry.query(log_id, limit=limit, last_evaluated_key=start, scan_index_forward=False)
    items = [_out(item) for item in page]
    return AuditPage(items=items, next_cursor=paging.encode(page.last_evaluated_key))


def project_page(caller: Caller, project, limit: int, cursor: str | None) -> AuditPage:
    """A project's log (of a project the caller may read), newest first: its owner's and
    admins' actions on it."""
    return _page(project_log(project.project_id), limit, cursor)


def account_page(caller: Caller, account_id: str | None, limit: int, cursor: str | None) -> AuditPage:
    """An account's own log (its keys), newest first; admins read any account's."""
    if account_id not in (None, caller.owner_id) and caller.role != ADMIN:
        raise Forbidden("Only an admin reads another account's log.", code="admin_only")
    account_id = account_id or caller.owner_id
    return _page(account_log(account_id), limit, cursor)
