"""API keys: authentication (the authorizer's lookup) and the key store's transactions.

A key has a public id (`key-...`) and a secret, shown once and stored only as its SHA-256
(see chalicelib.models.api_keys: one secret item per live secret, and the key's record). The
Chalice authorizer reads the secret item with one consistent GetItem and passes the caller's
role, owner, scope and limits to the view. An unknown, revoked, expired or retired secret is
let through as an anonymous caller carrying the reason, so that the view answers with Foule's
JSON error (401) rather than API Gateway's; a missing header is refused by the gateway itself
(infra/aws.yaml gives that response the same JSON shape in AWS).

Who may manage which key is services.keys' business; this module only writes the store, each
change in one transaction over the record, every live secret item and the audit entries the
caller passes (`extra_puts`), so a revocation reaches every secret at once and is logged iff
it happened. Each key is mirrored in API Gateway's usage plans (services.usage_plans): before
its record is written (a key is never handed out without its plan), and after a revocation or
a change of its limits (re-sending either completes a mirror left half-done).
"""
import hashlib
import secrets
from dataclasses import dataclass

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.cache import TtlCache
from chalicelib.errors import Conflict, Forbidden, Unauthorized
from chalicelib.models import ApiKey
from chalicelib.models.api_keys import record_key
from chalicelib.models.base import conflicted, connection, failed_conditions, now_ms, put_new
from chalicelib.services import usage_plans

ANONYMOUS = "anonymous"
INTEGRATOR = "integrator"
ROLE_PREFIXES = {"admin": "adm", "requester": "req", "worker": "wrk", "integrator": "int"}
# DynamoDB deletes a rotated-out secret item this long after it stopped working.
RETIRED_SECRET_PURGE_SECONDS = 30 * 86400

# Why a presented key was refused: the 401's code and message.
REFUSALS = {
    "invalid_api_key": "A valid API key is required: send 'Authorization: Bearer <key>'.",
    "key_revoked": "This API key was revoked.",
    "key_expired": "This API key has expired.",
    "key_rotated": "This secret was replaced by a rotation and its grace period is over; use the new secret.",
    # Workers signed in with the user pool (chalicelib/identity.py).
    "invalid_token": "This token is not a valid ID token of Foule's user pool: sign in again.",
    "token_expired": "This token has expired: refresh it or sign in again.",
    "account_disabled": "This account was deleted or disabled.",
}


@dataclass(frozen=True)
class KeyLimits:
    """A key's own limits (None fields: the deployment's defaults, see services.rate_limits)."""

    rate_limit: float | None = None  # requests per second, sustained
    burst_limit: int | None = None  # requests at once
    quota_limit: int | None = None  # requests per quota period
    quota_period: str | None = None  # DAY | MONTH

    def encode(self) -> str:
        """As a plain string, for the authorizer's context (API Gateway passes strings only)."""
        return ":".join("" if v is None else str(v) for v in
                        (self.rate_limit, self.burst_limit, self.quota_limit, self.quota_period))

    @classmethod
    def decode(cls, text: str) -> "KeyLimits | None":
        if not text:
            return None
        rate, burst, quota, period = (text.split(":") + ["", "", "", ""])[:4]
        return cls(float(rate) if rate else None, int(burst) if burst else None,
                   int(quota) if quota else None, period or None)


# Stored keys by hash, for settings.cache_seconds (chalicelib/cache.py): the authorizer runs on
# every request. Unknown keys are not kept; a revocation made here forgets the key at once.
_keys = TtlCache()


@dataclass(frozen=True)
class Caller:
    role: str  # admin | requester | worker | integrator | anonymous
    owner_id: str
    key_id: str = ""
    project_ids: tuple[str, ...] = ()  # an integrator key's scope
    limits: KeyLimits | None = None  # None: the defaults
    refusal: str = ""  # anonymous callers: why the key presented was refused
    # A worker signed in with the user pool (an ID token, not a key): key_id is then its
    # worker id, under which its requests are counted (services.rate_limits).
    signed_in: bool = False


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def bearer_token(header: str | None) -> str:
    if not header:
        return ""
    scheme, _, token = header.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def lookup(authorization_header: str | None) -> Caller:
    """The caller a header stands for; anonymous (with the reason) if the key is refused.

    The lookup is by hash, so no secret is ever compared. The read is consistent and kept for
    settings.cache_seconds: a revocation takes effect at once in the process that made it,
    and within that time in every other.
    A cache hit goes through caller_of(item, now) like a read, so expiry and a rotation's grace
    stay exact.
    """
    token = bearer_token(authorization_header)
    if token.startswith("eyJ"):  # a JWT ('{"' in base64url); keys start with "fk_"
        return token_caller(token)
    if not token or len(token) > 200:
        return Caller(ANONYMOUS, "")
    key_hash = hash_key(token)
    key = _keys.get(key_hash, lambda: _stored_key(key_hash))
    if key is None:
        return Caller(ANONYMOUS, "", refusal="invalid_api_key")
    return caller_of(key, now_ms())


def token_caller(token: str) -> Caller:
    """The worker a user pool ID token stands for, or anonymous with the reason."""
    from chalicelib import identity  # here: PyJWT is imported only when a token arrives

    try:
        worker_id = identity.worker_id(token)
    except identity.Refused as refused:
        return Caller(ANONYMOUS, "", refusal=refused.code)
    return Caller("worker", worker_id, key_id=worker_id, signed_in=True)


def refusal_of(key: ApiKey, now: int) -> str:
    """Why this key (record or secret item) cannot be used at `now`; "" if it can."""
    if key.revoked_at:
        return "key_revoked"
    if key.expires_at is not None and now >= key.expires_at:
        return "key_expired"
    if key.retired_at is not None and now >= key.retired_at:
        return "key_rotated"
    return ""


def limits_of(key: ApiKey) -> KeyLimits | None:
    limits = KeyLimits(key.rate_limit, None if key.burst_limit is None else int(key.burst_limit),
                       None if key.quota_limit is None else int(key.quota_limit), key.quota_period)
    return None if limits == KeyLimits() else limits


def caller_of(key: ApiKey, now: int) -> Caller:
    refusal = refusal_of(key, now)
    if refusal:
        return Caller(ANONYMOUS, "", refusal=refusal)
    return Caller(key.role, key.owner_id, key.key_id, tuple(sorted(key.project_ids or ())), limits_of(key))


def _stored_key(key_hash: str) -> ApiKey | None:
    try:
        return ApiKey.get(key_hash, consistent_read=True)
    except ApiKey.DoesNotExist:
        return None


def require(caller: Caller, roles: tuple[str, ...]) -> None:
    if caller.role == ANONYMOUS:
        code = caller.refusal or "invalid_api_key"
        raise Unauthorized(REFUSALS[code], code=code)
    if caller.role not in roles and caller.role != "admin":
        raise Forbidden(f"This operation is for {' or '.join(roles)} keys; yours is a {caller.role} key.",
                        code="wrong_role")


# --- The key store ------------------------------------------------------------------------
def new_secret(role: str) -> str:
    return f"fk_{ROLE_PREFIXES[role]}_{secrets.token_urlsafe(32)}"


def new_key_id() -> str:
    return f"key-{secrets.token_hex(6)}"


def new_owner_id(role: str) -> str:
    return "admin" if role == "admin" else f"{role[0]}-{secrets.token_hex(8)}"


def default_account(role: str, owner_id: str | None) -> str:
    """Who manages a key by default: its owner; admins for admin and integrator keys (a
    requester's integrator keys are its own: services.keys passes that account)."""
    return "admin" if role in ("admin", INTEGRATOR) or not owner_id else owner_id


def _limit_fields(limits: KeyLimits | None) -> dict:
    limits = limits or KeyLimits()
    return {"rate_limit": limits.rate_limit, "burst_limit": limits.burst_limit,
            "quota_limit": limits.quota_limit, "quota_period": limits.quota_period}


def _authorizer_fields(key: ApiKey) -> dict:
    """What a secret item carries: everything the authorizer needs, copied from the record."""
    return {"key_id": key.key_id, "role": key.role, "owner_id": key.owner_id, "name": key.name,
            "project_ids": key.project_ids, "expires_at": key.expires_at, "revoked_at": key.revoked_at,
            **_limit_fields(limits_of(key))}


def create_key(role: str, owner_id: str | None = None, name: str = "",
               project_ids: list[str] | None = None, *, expires_at: int | None = None,
               limits: KeyLimits | None = None, account_id: str | None = None, created_by: str = "admin",
               key_id: str | None = None, extra_puts=()) -> tuple[str, ApiKey]:
    """A new key (its record); the secret is returned once and never stored. An integrator
    key reads the results of `project_ids` and nothing else. `account_id` is who manages it
    (default: its owner; "admin" for admin and integrator keys)."""
    if role not in ROLE_PREFIXES:
        raise ValueError(f"unknown role {role!r}")
    if (role == INTEGRATOR) != bool(project_ids):
        raise ValueError("project_ids is required for an integrator key and allowed for no other role")
    owner_id = owner_id or new_owner_id(role)
    account_id = account_id or default_account(role, owner_id)
    secret = new_secret(role)
    fields = dict(key_id=key_id or new_key_id(), role=role, owner_id=owner_id, name=name,
                  created_at=now_ms(), project_ids=set(project_ids) if project_ids else None,
                  expires_at=expires_at, **_limit_fields(limits))
    record = ApiKey(record_key(fields["key_id"]), **fields, account_id=account_id, created_by=created_by,
                    current_hash=hash_key(secret))
    usage_plans.sync(record.key_id, role, limits if limits != KeyLimits() else None, new=True)
    with TransactWrite(connection=connection()) as tx:
        put_new(tx, record)
        put_new(tx, ApiKey(hash_key(secret), **fields))
        for item in extra_puts:
            put_new(tx, item)
    return secret, record


def get_record(key_id: str) -> ApiKey | None:
    try:
        return ApiKey.get(record_key(key_id), consistent_read=True)
    except ApiKey.DoesNotExist:
        return None


def live_secret_hashes(record: ApiKey, now: int) -> list[str]:
    hashes = [record.current_hash]
    if record.previous_hash and (record.previous_until or 0) > now:
        hashes.append(record.previous_hash)
    return hashes


def _update_everywhere(record: ApiKey, actions_for, extra_puts=()) -> ApiKey:
    """Apply the same change to the record and each live secret item in one transaction,
    conditional on the record's secrets being those read (a rotation racing makes it retry)."""
    for _ in range(3):
        now = now_ms()
        try:
            with TransactWrite(connection=connection()) as tx:
                for item in extra_puts:
                    put_new(tx, item)
                tx.update(record, actions=actions_for(now),
                          condition=(ApiKey.current_hash == record.current_hash) & ApiKey.revoked_at.does_not_exist())
                for secret_hash in live_secret_hashes(record, now):
                    tx.update(ApiKey(secret_hash), actions=actions_for(now), condition=ApiKey.key_hash.exists())
            for secret_hash in live_secret_hashes(record, now):  # counts at once in this process
                _keys.forget(secret_hash)
            return ApiKey.get(record.key_hash, consistent_read=True)
        except TransactWriteError as error:
            if not any(failed_conditions(error)) and not conflicted(error):
                raise
            record = ApiKey.get(record.key_hash, consistent_read=True)
            if record.revoked_at:
                raise Conflict("This key was revoked.", code="key_revoked") from None
    raise Conflict("The key keeps changing; try again.", code="concurrent_update")


def revoke(record: ApiKey, extra_puts=()) -> ApiKey:
    """Revoke a key: every secret of it is refused from the next request on, and its API key
    leaves its usage plan. Revoking a revoked key changes nothing (and logs nothing) but
    completes that removal if an earlier attempt was interrupted."""
    if not record.revoked_at:
        try:
            record = _update_everywhere(record, lambda now: [ApiKey.revoked_at.set(now)], extra_puts)
        except Conflict as error:
            if error.code != "key_revoked":
                raise
            record = get_record(record.key_id)  # revoked concurrently: the same outcome
    usage_plans.sync(record.key_id, record.role, revoked=True)
    return record


def change(record: ApiKey, *, expires_at=..., limits=..., extra_puts=()) -> ApiKey:
    """Set (or clear, with None) a key's expiry and limits; `...` leaves one as it is."""
    def actions(now):
        chosen = []
        if expires_at is not ...:
            chosen.append(ApiKey.expires_at.set(expires_at) if expires_at is not None else ApiKey.expires_at.remove())
        if limits is not ...:
            for name, value in _limit_fields(limits).items():
                attribute = getattr(ApiKey, name)
                chosen.append(attribute.set(value) if value is not None else attribute.remove())
        return chosen

    if record.revoked_at:
        raise Conflict("This key was revoked.", code="key_revoked")
    record = _update_everywhere(record, actions, extra_puts)
    if limits is not ...:  # re-sending the same change re-syncs (retry-safe)
        usage_plans.sync(record.key_id, record.role, limits_of(record))
    return record


def rotate(record: ApiKey, grace_seconds: int, extra_puts=()) -> tuple[str, ApiKey]:
    """A new secret for the same key (id, role, owner, scope, expiry, limits); the current
    secret keeps working for `grace_seconds`, then is refused. A previous secret still in its
    grace is refused at once: a key has at most two working secrets."""
    now = now_ms()
    refusal = refusal_of(record, now)
    if refusal in ("key_revoked", "key_expired"):
        raise Conflict(REFUSALS[refusal], code=refusal)
    secret = new_secret(record.role)
    new_hash, old_hash = hash_key(secret), record.current_hash
    until = now + grace_seconds * 1000

    def retire(at: int) -> list:
        return [ApiKey.retired_at.set(at), ApiKey.purge_at.set(at // 1000 + RETIRED_SECRET_PURGE_SECONDS)]

    try:
        with TransactWrite(connection=connection()) as tx:
            put_new(tx, ApiKey(new_hash, **{**_authorizer_fields(record), "created_at": now}))
            for item in extra_puts:
                put_new(tx, item)
            tx.update(record, actions=[ApiKey.current_hash.set(new_hash), ApiKey.previous_hash.set(old_hash),
                                       ApiKey.previous_until.set(until), ApiKey.rotated_at.set(now)],
                      condition=(ApiKey.current_hash == old_hash) & ApiKey.revoked_at.does_not_exist())
            tx.update(ApiKey(old_hash), actions=retire(until), condition=ApiKey.key_hash.exists())
            if record.previous_hash in live_secret_hashes(record, now):
                tx.update(ApiKey(record.previous_hash), actions=retire(now), condition=ApiKey.key_hash.exists())
    except TransactWriteError as error:
        if not any(failed_conditions(error)) and not conflicted(error):
            raise
        raise Conflict("The key was rotated or revoked meanwhile; read it and try again.",
                       code="concurrent_update") from None
    for retired in {old_hash, record.previous_hash} - {None}:  # counts at once in this process
        _keys.forget(retired)
    return secret, ApiKey.get(record.key_hash, consistent_read=True)


def sync_usage_plans(key_ids: list[str] | None = None) -> int:
    """Mirror these keys' records (default: every key, a whole-table read) in the usage plans,
    for tools.admin: keys made before keys were mirrored, or mirrors changed by hand."""
    if key_ids is None:
        records = ApiKey.scan(ApiKey.key_hash.startswith(record_key("")))
    else:
        records = [record for record in map(get_record, key_ids) if record is not None]
    synced = 0
    for record in records:
        usage_plans.sync(record.key_id, record.role, limits_of(record), revoked=bool(record.revoked_at))
        synced += 1
    return synced


def revoke_key(secret: str) -> bool:
    """Revoke the key a secret belongs to (tools.admin); False if there is no such key."""
    try:
        item = ApiKey.get(hash_key(secret), consistent_read=True)
    except ApiKey.DoesNotExist:
        return False
    record = get_record(item.key_id)
    if record is None:  # a key made before key records existed: only its secret item
        item.update(actions=[ApiKey.revoked_at.set(now_ms())])
    else:
        revoke(record)
    _keys.forget(item.key_hash)
    return True
