"""Bodies of the webhook routes: registering an endpoint, and reading or replaying deliveries."""
from pydantic import Field

from chalicelib.schemas.common import Body, Out


class WebhookIn(Body):
    url: str = Field(max_length=2048, description="An https URL whose host resolves to public addresses only",
                     examples=["https://hooks.example.com/foule"])


class WebhookOut(Out):
    project_id: str
    url: str
    created_at: int = Field(description="Epoch milliseconds")


class WebhookCreated(WebhookOut):
    secret: str = Field(description="The signing secret: shown once, here; registering again issues a new one")


class WebhookRemoved(Out):
    project_id: str
    removed: bool = Field(description="False when no webhook was registered")


class AttemptOut(Out):
    number: int = Field(description="1 for the first attempt; counting goes on across replays")
    started_at: int = Field(description="Epoch milliseconds")
    duration_ms: int
    status: int | None = Field(None, description="The receiver's HTTP status; none when there was no response")
    error: str | None = Field(None, description="Why the attempt failed (no response, or a non-2xx status)")


class DeliveryOut(Out):
    delivery_id: str
    event_type: str
    run_id: str
    status: str = Field(description="pending (an attempt is due at next_attempt_at), delivered, or failed "
                                    "(given up; replay it to try again)")
    attempts: int
    created_at: int = Field(description="Epoch milliseconds")
    next_attempt_at: int | None = None
    last_attempt_at: int | None = None
    last_status: int | None = Field(None, description="HTTP status of the last attempt's response")
    last_error: str | None = Field(None, description="Why the last attempt failed, when it got no response")
    delivered_at: int | None = None
    attempt_log: list[AttemptOut] = Field(default_factory=list,
                                          description="The latest attempts (up to 20), oldest first")
    event: dict = Field(description="The JSON body sent (the same bytes on every attempt)")


class DeliveryPage(Out):
    items: list[DeliveryOut]
    next_cursor: str | None = None
