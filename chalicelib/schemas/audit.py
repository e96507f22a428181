from pydantic import Field

from chalicelib.schemas.common import Body, Cursor, Identifier, Out


class AuditEntryOut(Out):
    entry_id: str
    at: int = Field(description="Epoch ms")
    action: str = Field(description="approve, reject, bonus, block, unblock, exclude, include, "
                                    "key_created, key_revoked, key_rotated, key_changed")
    actor_id: str = Field(description="The account that acted (a requester, or an admin)")
    actor_role: str
    project_id: str | None = None
    worker_id: str | None = Field(None, description="The worker acted upon, as you see it in your projects")
    key_id: str | None = None
    cents: int | None = None
    reason: str | None = None
    details: dict = Field(default_factory=dict)


class AuditPage(Out):
    items: list[AuditEntryOut]
    next_cursor: str | None = None


class AccountAuditQuery(Body):
    limit: int = Field(50, ge=1, le=1000)
    cursor: Cursor | None = None
    account_id: Identifier | None = Field(None, description="Admins: whose log (default: your own)")
