"""Key management through the API: who may create, list, read, change, rotate and revoke.

- An admin manages every key.
- A requester manages the keys of its account: its own requester keys, and the integrator
  keys it creates for projects it owns (without an admin). It cannot create any other role,
  scope a key to a project it does not own, or set limits; another account's keys are 404.
Every change is logged (services.audit) in the key's transaction: in the log of each project
an integrator key reads, else in the account's log. The store side is chalicelib.auth.
"""
from chalicelib import auth
from chalicelib.auth import Caller, KeyLimits
from chalicelib.errors import BadRequest, Forbidden, NotFound
from chalicelib.models import ApiKey, Project
from chalicelib.models.base import now_ms
from chalicelib.schemas.keys import (KeyCreate, KeyCreated, KeyLimitsIn, KeyLimitsOut, KeyOut, KeyPage,
                                     KeyRotate, KeyUpdate)
from chalicelib.services import audit, paging, projects

ADMIN = "admin"


def _admin_only(field: str) -> Forbidden:
    return Forbidden(f"Only an admin may set {field}.", code="admin_only", details={"field": field})


def _limits(body: KeyLimitsIn | None) -> KeyLimits | None:
    if body is None:
        return None
    return KeyLimits(body.rate_limit, body.burst_limit, body.quota_limit,
                     body.quota_period if body.quota_limit is not None else None)


def _check_expiry(expires_at: int | None) -> None:
    if expires_at is not None and expires_at <= now_ms():
        raise BadRequest("expires_at must be in the future.", code="expires_in_past")


def to_out(record: ApiKey, now: int | None = None) -> KeyOut:
    now = now_ms() if now is None else now
    refusal = auth.refusal_of(record, now)
    limits = auth.limits_of(record)
    in_grace = record.previous_hash and (record.previous_until or 0) > now
    return KeyOut(key_id=record.key_id, role=record.role, owner_id=record.owner_id,
                  account_id=record.account_id, name=record.name or "",
                  project_ids=sorted(record.project_ids) if record.project_ids else None,
                  state={"key_revoked": "revoked", "key_expired": "expired"}.get(refusal, "active"),
                  created_at=int(record.created_at), created_by=record.created_by,
                  expires_at=None if record.expires_at is None else int(record.expires_at),
                  revoked_at=None if record.revoked_at is None else int(record.revoked_at),
                  rotated_at=None if record.rotated_at is None else int(record.rotated_at),
                  previous_secret_valid_until=int(record.previous_until) if in_grace else None,
                  limits=KeyLimitsOut(**vars(limits)) if limits else None)


def audit_entries(caller: Caller, record: ApiKey, action: str, details: dict | None = None) -> list:
    """key_* entries: one in each project log an integrator key reads, else the account's."""
    common = dict(key_id=record.key_id, details={"role": record.role, "name": record.name or "", **(details or {})})
    if record.project_ids:
        return [audit.entry(audit.project_log(p), action, caller, project_id=p, **common)
                for p in sorted(record.project_ids)]
    return [audit.entry(audit.account_log(record.account_id), action, caller, **common)]


def _account_of_projects(caller: Caller, project_ids: list[str]) -> str:
    """Who manages an integrator key: the requester owning its projects. A requester may only
    scope its own projects (others' are 404); an admin's key over several owners' (or
    unknown) projects is managed by admins."""
    if caller.role != ADMIN:
        for project_id in project_ids:
            projects.get_owned(caller, project_id, consistent=True)
        return caller.owner_id
    owners = set()
    for project_id in project_ids:
        try:
            owners.add(Project.get(project_id, consistent_read=True).owner_id)
        except Project.DoesNotExist:
            owners.add(None)
    return owners.pop() if len(owners) == 1 and None not in owners else ADMIN


def create(caller: Caller, body: KeyCreate) -> KeyCreated:
    _check_expiry(body.expires_at)
    if caller.role != ADMIN:
        if body.role != auth.INTEGRATOR:
            raise Forbidden("A requester creates integrator keys for its own projects; other keys "
                            "are made by an admin.", code="role_not_allowed", details={"role": body.role})
        if body.owner_id is not None:
            raise _admin_only("owner_id")
        if body.limits is not None:
            raise _admin_only("limits")
    account_id = _account_of_projects(caller, body.project_ids) if body.project_ids else None
    key_id, owner_id = auth.new_key_id(), body.owner_id or auth.new_owner_id(body.role)
    scope = set(body.project_ids) if body.project_ids else None
    # The record-to-be, to address its audit entries; auth.create_key writes the real one.
    planned = ApiKey(key_id=key_id, role=body.role, name=body.name, project_ids=scope,
                     account_id=account_id or auth.default_account(body.role, owner_id))
    secret, record = auth.create_key(body.role, owner_id, body.name, body.project_ids, key_id=key_id,
                                     expires_at=body.expires_at, limits=_limits(body.limits),
                                     account_id=account_id, created_by=caller.owner_id,
                                     extra_puts=audit_entries(caller, planned, "key_created"))
    return KeyCreated(key=secret, **to_out(record).model_dump())


def managed(caller: Caller, key_id: str) -> ApiKey:
    """The key's record if the caller manages it; 404 otherwise (ids cannot be probed)."""
    record = auth.get_record(key_id)
    if record is None or (caller.role != ADMIN and record.account_id != caller.owner_id):
        raise NotFound(f"No key {key_id!r}.", code="key_not_found")
    return record


def read(caller: Caller, key_id: str) -> KeyOut:
    return to_out(managed(caller, key_id))


def list_page(caller: Caller, account_id: str | None, limit: int, cursor: str | None) -> KeyPage:
    """The keys an account manages, newest first (a requester: its own; an admin: any)."""
    if caller.role != ADMIN:
        if account_id not in (None, caller.owner_id):
            raise _admin_only("account_id")
        account_id = caller.owner_id
    account_id = account_id or ADMIN
    start = paging.decode(cursor, {"key_hash": "S", "account_id": "S", "created_at": "N"}, "account_id", account_id)
    page = ApiKey.by_account.query(account_id, limit=limit, last_evaluated_key=start, scan_index_forward=False)
    now = now_ms()
    return KeyPage(items=[to_out(record, now) for record in page], next_cursor=paging.encode(page.last_evaluated_key))


def revoke(caller: Caller, key_id: str) -> KeyOut:
    record = managed(caller, key_id)
    return to_out(auth.revoke(record, extra_puts=audit_entries(caller, record, "key_revoked")))


def rotate(caller: Caller, key_id: str, body: KeyRotate) -> KeyCreated:
    record = managed(caller, key_id)
    entries = audit_entries(caller, record, "key_rotated", {"grace_seconds": body.grace_seconds})
    secret, record = auth.rotate(record, body.grace_seconds, extra_puts=entries)
    return KeyCreated(key=secret, **to_out(record).model_dump())


def update(caller: Caller, key_id: str, body: KeyUpdate) -> KeyOut:
    record = managed(caller, key_id)
    sent = body.model_fields_set
    if "limits" in sent and caller.role != ADMIN:
        raise _admin_only("limits")
    if "expires_at" in sent:
        _check_expiry(body.expires_at)
    changes = {"expires_at": body.expires_at} if "expires_at" in sent else {}
    if "limits" in sent:
        changes["limits"] = _limits(body.limits)
    if not changes:
        return to_out(record)
    details = {"expires_at": body.expires_at} if "expires_at" in sent else {}
    if "limits" in sent:
        details["limits"] = body.limits.model_dump() if body.limits else None
    entries = audit_entries(caller, record, "key_changed", details)
    return to_out(auth.change(record, **changes, extra_puts=entries))
