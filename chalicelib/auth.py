"""API keys: created by an admin, shown once, stored only as SHA-256 hashes.

The Chalice authorizer looks the key up and passes the caller's role and owner to the view.
An unknown or revoked key is let through as an anonymous caller so that the view answers with
Foule's JSON error (401) rather than API Gateway's; a missing header is refused by the gateway
itself (infra/template.yaml gives that response the same JSON shape in AWS).
"""
import hashlib
import secrets
from dataclasses import dataclass

from chalicelib.cache import TtlCache
from chalicelib.errors import Forbidden, NotFound, Unauthorized
from chalicelib.models import ApiKey
from chalicelib.models.base import now_ms

ANONYMOUS = "anonymous"
# Stored keys by hash, for settings.cache_seconds (chalicelib/cache.py): the authorizer runs on
# every request. Unknown keys are not kept; a revocation made here forgets the key at once.
_keys = TtlCache()


@dataclass(frozen=True)
class Caller:
    role: str  # admin | requester | worker | integrator | anonymous
    owner_id: str
    key_id: str = ""
    project_ids: tuple[str, ...] = ()  # an integrator key's scope


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def bearer_token(header: str | None) -> str:
    if not header:
        return ""
    scheme, _, token = header.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def lookup(authorization_header: str | None) -> Caller:
    """The caller a header stands for; anonymous if the key is unknown or revoked.

    The lookup is by hash, so no secret is ever compared. The read is consistent and kept for
    settings.cache_seconds: a revocation takes effect at once in the process that made it,
    and within that time in every other.
    """
    token = bearer_token(authorization_header)
    if not token or len(token) > 200:
        return Caller(ANONYMOUS, "")
    key_hash = hash_key(token)
    key = _keys.get(key_hash, lambda: _stored_key(key_hash))
    if key is None:
        return Caller(ANONYMOUS, "")
    if key.revoked_at:
        return Caller(ANONYMOUS, "")
    return Caller(key.role, key.owner_id, key.key_id, tuple(sorted(key.project_ids or ())))


def _stored_key(key_hash: str) -> ApiKey | None:
    try:
        return ApiKey.get(key_hash, consistent_read=True)
    except ApiKey.DoesNotExist:
        return None


def require(caller: Caller, roles: tuple[str, ...]) -> None:
    if caller.role == ANONYMOUS:
        raise Unauthorized("A valid API key is required: send 'Authorization: Bearer <key>'.",
                           code="invalid_api_key")
    if caller.role not in roles and caller.role != "admin":
        raise Forbidden(f"This operation is for {' or '.join(roles)} keys; yours is a {caller.role} key.",
                        code="wrong_role")


def create_key(role: str, owner_id: str | None = None, name: str = "",
               project_ids: list[str] | None = None) -> tuple[str, ApiKey]:
    """A new key; the secret is returned once and never stored. An integrator key reads the
    results of `project_ids` and nothing else."""
    prefix = {"admin": "adm", "requester": "req", "worker": "wrk", "integrator": "int"}[role]
    if (role == "integrator") != bool(project_ids):
        raise ValueError("project_ids is required for an integrator key and allowed for no other role")
    owner_id = owner_id or ("admin" if role == "admin" else f"{role[0]}-{secrets.token_hex(8)}")
    secret = f"fk_{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey(hash_key(secret), key_id=f"key-{secrets.token_hex(6)}", role=role,
                 owner_id=owner_id, name=name, created_at=now_ms(),
                 project_ids=set(project_ids) if project_ids else None)
    key.save()
    return secret, key


INTEGRATOR = "integrator"


def check_results_reader(caller: Caller, project_id: str, get_owned) -> None:
    """Whether the caller may read this project's results: its requester (get_owned), or an
    integrator key whose scope names the project. The scope comes from the authorizer, so a
    revocation counts as it does there (`lookup`); a project outside it is a 404, as for any
    project one cannot see."""
    if caller.role != INTEGRATOR:
        get_owned(caller, project_id)
    elif project_id not in caller.project_ids:
        raise NotFound(f"No project {project_id!r}.", code="project_not_found")


def revoke_key(secret: str) -> bool:
    """Revoke a key; it is refused from the next request on. False if there is no such key."""
    try:
        key = ApiKey.get(hash_key(secret), consistent_read=True)
    except ApiKey.DoesNotExist:
        return False
    key.update(actions=[ApiKey.revoked_at.set(now_ms())])
    _keys.forget(key.key_hash)
    return True
