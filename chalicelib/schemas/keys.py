from typing import Literal

from pydantic import Field, model_validator

from chalicelib.schemas.common import Body, Cursor, Identifier, Out

Role = Literal["admin", "requester", "worker", "integrator"]
MAX_SCOPE = 50  # an integrator key's projects; each gets an audit entry in the key's transaction
MAX_GRACE_SECONDS = 7 * 86400
MAX_TIME_MS = 2**53  # a JSON-safe integer, far beyond any real expiry


class KeyLimitsIn(Body):
    """Like an API Gateway usage plan: throttle (rate, burst) and an optional quota."""

    rate_limit: float = Field(ge=0.0001, le=10_000, description="Requests per second, sustained")
    burst_limit: int = Field(ge=1, le=20_000, description="Requests at once")
    quota_limit: int | None = Field(None, ge=1, le=10**12, description="Requests per quota_period (none: no quota)")
    quota_period: Literal["DAY", "MONTH"] = "DAY"


class KeyLimitsOut(Out):
    rate_limit: float | None = None
    burst_limit: int | None = None
    quota_limit: int | None = None
    quota_period: str | None = None


class KeyCreate(Body):
    role: Role
    owner_id: Identifier | None = Field(None, description="Admins: add a key to an existing owner; new owner if absent")
    name: str = Field("", max_length=200)
    project_ids: list[Identifier] | None = Field(
        None, min_length=1, max_length=MAX_SCOPE,
        description="integrator keys only (and required for them): the projects whose results it may read")
    expires_at: int | None = Field(None, ge=0, le=MAX_TIME_MS, description="Epoch ms; the key is refused from then on")
    limits: KeyLimitsIn | None = Field(None, description="Admins: this key's own limits (default: the deployment's)")

    @model_validator(mode="after")
    def scope_only_for_integrators(self):
        if (self.role == "integrator") != (self.project_ids is not None):
            raise ValueError("project_ids is required for an integrator key and allowed for no other role")
        return self


class KeyOut(Out):
    key_id: str
    role: Role
    owner_id: str
    account_id: str = Field(description="Who manages the key: its owner, or the requester whose projects it reads")
    name: str
    project_ids: list[str] | None = None
    state: Literal["active", "revoked", "expired"]
    created_at: int
    created_by: str | None = None
    expires_at: int | None = None
    revoked_at: int | None = None
    rotated_at: int | None = None
    previous_secret_valid_until: int | None = Field(None, description="After a rotation: the old secret works until then")
    limits: KeyLimitsOut | None = Field(None, description="The key's own limits (none: the deployment's defaults)")


class KeyCreated(KeyOut):
    key: str = Field(description="The secret: shown once, stored only as a hash")


class KeyPage(Out):
    items: list[KeyOut]
    next_cursor: str | None = None


class KeyQuery(Body):
    limit: int = Field(50, ge=1, le=1000)
    cursor: Cursor | None = None
    account_id: Identifier | None = Field(None, description="Admins: whose keys (default: keys no requester manages)")


class KeyRotate(Body):
    grace_seconds: int = Field(3600, ge=0, le=MAX_GRACE_SECONDS,
                               description="How long the current secret keeps working")


class KeyUpdate(Body):
    expires_at: int | None = Field(None, ge=0, le=MAX_TIME_MS, description="Epoch ms; null: never")
    limits: KeyLimitsIn | None = Field(None, description="Admins only; null: the deployment's defaults")
