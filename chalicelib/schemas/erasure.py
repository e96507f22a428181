"""Bodies of erasure: what was done when a worker was forgotten (services.erasure)."""
from pydantic import Field

from chalicelib.schemas.common import Out


class ErasureOut(Out):
    erased: bool = Field(description="The worker's id and profile are gone; its answers stay, "
                                     "under a pseudonym that names no one")
    keys_revoked: int = Field(description="API keys of the worker, revoked")
    assignments: int = Field(description="Assignments moved off the worker's id")
    payments: int = Field(description="Payments moved off the worker's id (the money stays accounted)")
    records: int = Field(description="Per-project and overall records moved off the worker's id")
    account_deleted: bool = Field(False, description=(
        "The worker's user pool account (its email address) was deleted: it can no longer sign in"))
