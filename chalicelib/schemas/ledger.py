"""Bodies of money: bonuses, a worker's balance and its ledger."""
from typing import Literal

from pydantic import Field, model_validator

from chalicelib.schemas.common import Body, Cursor, Identifier, Out


class BonusIn(Body):
    worker_id: str | None = Field(None, max_length=512,
                                  description="The worker's pseudonym (as your listings show it; "
                                              "it answered in this project)")
    assignment_id: str | None = Field(None, max_length=1024,
                                      description="Or the assignment the bonus rewards (its lease id)")
    cents: int = Field(ge=1, le=1_000_000, description="Integer cents, taken from the budget")
    reason: str = Field(min_length=1, max_length=1000, description="Shown to the worker")
    client_token: Identifier = Field(
        description="Your idempotency key for this bonus (up to 128 characters): a request sent again "
                    "with the same token pays nothing more and gets the first bonus back")

    @model_validator(mode="after")
    def _names_a_worker(self):
        if self.worker_id is None and self.assignment_id is None:
            raise ValueError("give worker_id or assignment_id")
        return self


class BonusOut(Out):
    bonus_id: str
    project_id: str
    worker_id: str = Field(description="The worker's pseudonym for you")
    assignment_id: str | None
    cents: int
    reason: str
    client_token: str
    created_at: int = Field(description="Epoch milliseconds")


class Balance(Out):
    pending_cents: int = Field(description="Rewards of submitted answers awaiting review")
    earned_cents: int = Field(description="Approved rewards and bonuses: yours")


class LedgerEntryOut(Out):
    entry_id: str
    kind: Literal["reward", "bonus"]
    project_id: str
    task_id: str | None
    assignment_id: str | None
    cents: int
    reason: str | None = Field(description="A bonus's reason")
    created_at: int = Field(description="Epoch milliseconds")


class PaymentOut(LedgerEntryOut):
    worker_id: str = Field(description="The worker's pseudonym for you (a reward's entry_id ends with it too)")


class PaymentPage(Out):
    items: list[PaymentOut] = Field(description="The project's payments, newest first within each shard")
    next_cursor: Cursor | None = None


class LedgerPage(Out):
    balance: Balance
    items: list[LedgerEntryOut] = Field(description="Payments, newest first")
    next_cursor: Cursor | None = None
