"""Signed webhooks: a requester's endpoint per project, told of every publication.

On each publication the aggregator records a delivery (before the run is marked done, so a
crash cannot lose it) and, once the run is committed, makes a first attempt with a short
timeout. Nothing here ever fails a run: errors are logged and the delivery stays pending. A
pending delivery is retried by the scheduled pass (`deliver_due`) with exponential backoff and
jitter until it is delivered or has made `attempt_limit` attempts; the requester reads the
log newest first and can replay a delivery (the same event, same body and delivery id).

Every attempt POSTs the stored body with
    Foule-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
so a receiver can refuse a forged body (the HMAC) and a replayed old request (the timestamp);
`Foule-Delivery` carries the delivery id, for receivers to ignore a delivery seen before.

Concurrency: an attempt first claims the delivery with a conditional UpdateItem (pending, due,
no unexpired claim), so two senders (two scheduled passes, a pass and a replay) never send
the same attempt; a replay is a conditional UpdateItem too, refused within REPLAY_WINDOW_MS of
the previous replay, so a double click makes one attempt.
"""
import hashlib
import hmac
import json
import logging
import random
import secrets
import time
from concurrent.futures import ThreadPoolExecutor

from pynamodb.exceptions import DeleteError, UpdateError

from chalicelib.auth import Caller
from chalicelib.errors import NotFound
from chalicelib.models.base import now_ms
from chalicelib.models.webhooks import DUE, ENDPOINT, DeliveryAttempt, WebhookDelivery, WebhookEndpoint
from chalicelib.schemas.webhooks import (AttemptOut, DeliveryOut, DeliveryPage, WebhookCreated, WebhookIn,
                                         WebhookOut, WebhookRemoved)
from chalicelib.services import paging, projects, webhook_http
from chalicelib.settings import settings

log = logging.getLogger("foule.webhooks")

EVENT_TYPE = "results.published"
SIGNATURE_HEADER = "Foule-Signature"
BACKOFF_BASE_SECONDS = 60
BACKOFF_CAP_SECONDS = 6 * 3600
REPLAY_WINDOW_MS = 30_000
# A claim outlives the attempt it covers (connect + send + read, each bounded by the timeout).
CLAIM_MARGIN_MS = 30_000
MAX_PER_PASS = 200
SENDERS = 8
DELIVERY_ID_LENGTH = len("dlv_") + 13 + 8
# Enough to see a whole retry schedule and a few replays; bounds the item's size.
MAX_LOGGED_ATTEMPTS = 20
MAX_ERROR_CHARS = 500


def purge_time(at_ms: int) -> int:
    """When DynamoDB may delete a delivery's log (epoch seconds, its time to live)."""
    return at_ms // 1000 + settings.webhook_log_retention_days * 86400


# --- Registration (the API) ------------------------------------------------------------------

def register(caller: Caller, project_id: str, body: WebhookIn) -> WebhookCreated:
    """Register (or replace) the project's endpoint. A new secret every time: shown once."""
    projects.get_owned(caller, project_id)
    webhook_http.check_url(body.url)
    endpoint = WebhookEndpoint(project_id, ENDPOINT, url=body.url, secret=f"whsec_{secrets.token_urlsafe(32)}",
                               created_at=now_ms())
    endpoint.save()
    return WebhookCreated(**_endpoint_out(endpoint).model_dump(), secret=endpoint.secret)


def read(caller: Caller, project_id: str) -> WebhookOut:
    projects.get_owned(caller, project_id)
    return _endpoint_out(_endpoint(project_id))


def remove(caller: Caller, project_id: str) -> WebhookRemoved:
    """Remove the endpoint; pending deliveries then fail on their next attempt."""
    projects.get_owned(caller, project_id)
    try:
        WebhookEndpoint(project_id, ENDPOINT).delete(condition=WebhookEndpoint.project_id.exists())
    except DeleteError as error:
        if error.cause_response_code != "ConditionalCheckFailedException":
            raise
        return WebhookRemoved(project_id=project_id, removed=False)
    return WebhookRemoved(project_id=project_id, removed=True)


def _endpoint(project_id: str, consistent: bool = False) -> WebhookEndpoint:
    try:
        return WebhookEndpoint.get(project_id, ENDPOINT, consistent_read=consistent)
    except WebhookEndpoint.DoesNotExist:
        raise NotFound("No webhook is registered for this project.", code="webhook_not_found") from None


def _endpoint_out(endpoint: WebhookEndpoint) -> WebhookOut:
    return WebhookOut(project_id=endpoint.project_id, url=endpoint.url, created_at=int(endpoint.created_at))


# --- The delivery log (the API) --------------------------------------------------------------
def list_page(caller: Caller, project_id: str, limit: int, cursor: str | None) -> DeliveryPage:
    projects.get_owned(caller, project_id)
    start = paging.decode(cursor, {"project_id": "S", "item": "S"}, "project_id", project_id)
    results = WebhookDelivery.query(project_id, WebhookDelivery.item.startswith("dlv_"), limit=limit,
                                    last_evaluated_key=start, scan_index_forward=False)
    items = [delivery_out(d) for d in results]
    return DeliveryPage(items=items, next_cursor=paging.encode(results.last_evaluated_key))


def replay(caller: Caller, project_id: str, delivery_id: str) -> DeliveryOut:
    """A new attempt of the same event, now. A second replay within REPLAY_WINDOW_MS (a double
    click), or one while an attempt is in flight, answers the delivery as it stands."""
    projects.get_owned(caller, project_id)
    delivery = _delivery(project_id, delivery_id)
    _endpoint(project_id)  # 404 webhook_not_found: nowhere to send it
    now = now_ms()
    try:
        delivery.update(actions=[
            WebhookDelivery.status.set("pending"), WebhookDelivery.next_attempt_at.set(now),
            WebhookDelivery.due.set(DUE), WebhookDelivery.replayed_at.set(now),
            WebhookDelivery.purge_at.set(purge_time(now)),
            WebhookDelivery.attempt_limit.set(WebhookDelivery.attempts + settings.webhook_max_attempts)],
            condition=(WebhookDelivery.replayed_at.does_not_exist() |
                       (WebhookDelivery.replayed_at < now - REPLAY_WINDOW_MS)) &
            (WebhookDelivery.sending_until.does_not_exist() | (WebhookDelivery.sending_until < now)))
    except UpdateError as error:
        if error.cause_response_code != "ConditionalCheckFailedException":
            raise
        return delivery_out(_delivery(project_id, delivery_id, consistent=True))
    attempt(delivery, now)
    return delivery_out(_delivery(project_id, delivery_id, consistent=True))


def _delivery(project_id: str, delivery_id: str, consistent: bool = False) -> WebhookDelivery:
    if not (delivery_id.startswith("dlv_") and len(delivery_id) == DELIVERY_ID_LENGTH):
        raise NotFound(f"No delivery {delivery_id!r}.", code="delivery_not_found")
    try:
        return WebhookDelivery.get(project_id, delivery_id, consistent_read=consistent)
    except WebhookDelivery.DoesNotExist:
        raise NotFound(f"No delivery {delivery_id!r}.", code="delivery_not_found") from None


def delivery_out(delivery: WebhookDelivery) -> DeliveryOut:
    def number(value):
        return None if value is None else int(value)

    return DeliveryOut(delivery_id=delivery.item, event_type=delivery.event_type, run_id=delivery.run_id,
                       status=delivery.status, attempts=int(delivery.attempts or 0),
                       created_at=int(delivery.created_at),
                       next_attempt_at=number(delivery.next_attempt_at) if delivery.status == "pending" else None,
                       last_attempt_at=number(delivery.last_attempt_at), last_status=number(delivery.last_status),
                       last_error=delivery.last_error, delivered_at=number(delivery.delivered_at),
                       attempt_log=[AttemptOut(number=int(a.number), started_at=int(a.started_at),
                                               duration_ms=int(a.duration_ms), status=number(a.status),
                                               error=a.error) for a in delivery.attempt_log or []],
                       event=json.loads(delivery.body))


# --- Publication (the aggregator) ------------------------------------------------------------
def record_publication(manifest: dict, manifest_key: str) -> WebhookDelivery | None:
    """The delivery announcing a published run, if the project has a webhook. Never raises:
    a publication is never undone for its webhook."""
    project_id = manifest.get("project_id")
    try:
        try:
            WebhookEndpoint.get(project_id, ENDPOINT)
        except WebhookEndpoint.DoesNotExist:
            return None
        created = now_ms()
        delivery_id = f"dlv_{created:013d}{secrets.token_hex(4)}"
        event = {"delivery_id": delivery_id, "event": EVENT_TYPE, "project_id": project_id,
                 "run_id": manifest["run_id"], "manifest_key": manifest_key, "bucket": settings.results_bucket,
                 "created_at": manifest["created_at"], "created_at_iso": manifest["created_at_iso"],
                 "counts": {k: manifest[k] for k in ("answers", "tasks", "workers")}}
        delivery = WebhookDelivery(project_id, delivery_id, event_type=EVENT_TYPE, run_id=manifest["run_id"],
                                   body=json.dumps(event, separators=(",", ":")), created_at=created,
                                   status="pending", attempts=0, attempt_limit=settings.webhook_max_attempts,
                                   next_attempt_at=created, due=DUE, purge_at=purge_time(created))
        delivery.save(condition=WebhookDelivery.item.does_not_exist())
        return delivery
    except Exception:  # see the docstring
        log.exception("webhook delivery for %s run %s not recorded", project_id, manifest.get("run_id"))
        return None


def first_attempt(delivery: WebhookDelivery | None) -> str | None:
    """Try a just-recorded delivery once; its outcome (delivered/pending/failed), never raises."""
    if delivery is None:
        return None
    try:
        return attempt(delivery, now_ms())
    except Exception:  # the scheduled pass retries it
        log.exception("first attempt of webhook delivery %s failed", delivery.item)
        return "pending"


# --- Attempts ------------------------------------------------------------------------------
def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def backoff_ms(attempts: int) -> int:
    """Exponential in the attempts made, with jitter (half to all of it) so that deliveries
    that failed together do not come back together."""
    delay = min(BACKOFF_BASE_SECONDS * 2 ** max(attempts - 1, 0), BACKOFF_CAP_SECONDS)
    return int(delay * 1000 * random.uniform(0.5, 1.0))


def attempt(delivery: WebhookDelivery, now: int) -> str | None:
    """Claim the delivery, POST it, record the outcome: 'delivered', 'pending' (retried later)
    or 'failed' (given up); None if it was not due or another sender holds it."""
    claim_until = now + int(settings.webhook_timeout_seconds * 3 * 1000) + CLAIM_MARGIN_MS
    try:
        delivery.update(actions=[WebhookDelivery.sending_until.set(claim_until), WebhookDelivery.attempts.add(1),
                                 WebhookDelivery.last_attempt_at.set(now)],
                        condition=(WebhookDelivery.status == "pending") & (WebhookDelivery.next_attempt_at <= now) &
                        (WebhookDelivery.sending_until.does_not_exist() | (WebhookDelivery.sending_until < now)))
    except UpdateError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            return None
        raise
    attempts = int(delivery.attempts)  # pynamodb refreshed the item from the update's answer
    started = time.perf_counter()
    status, error = _send(delivery)
    duration_ms = int((time.perf_counter() - started) * 1000)
    done = max(now, now_ms())  # `now` may be ahead: a pass run as if later (tests)
    if status is None or not 200 <= status < 300:
        error = (error or f"the receiver answered HTTP {status}")[:MAX_ERROR_CHARS]
    # The claim makes this sender the only writer of the log until the update below.
    logged = DeliveryAttempt(number=attempts, started_at=now, duration_ms=duration_ms, status=status, error=error)
    actions = [WebhookDelivery.sending_until.remove(), WebhookDelivery.last_status.set(status)
               if status is not None else WebhookDelivery.last_status.remove(),
               WebhookDelivery.attempt_log.set([*(delivery.attempt_log or []), logged][-MAX_LOGGED_ATTEMPTS:])]
    if status is not None and 200 <= status < 300:
        outcome = "delivered"
        actions += [WebhookDelivery.status.set(outcome), WebhookDelivery.delivered_at.set(done),
                    WebhookDelivery.last_error.remove(), WebhookDelivery.due.remove(),
                    WebhookDelivery.next_attempt_at.remove()]
    else:
        actions.append(WebhookDelivery.last_error.set(error))
        if attempts >= int(delivery.attempt_limit):
            outcome = "failed"
            actions += [WebhookDelivery.status.set(outcome), WebhookDelivery.due.remove(),
                        WebhookDelivery.next_attempt_at.remove()]
        else:
            outcome = "pending"
            actions.append(WebhookDelivery.next_attempt_at.set(done + backoff_ms(attempts)))
    try:
        # Only if no later attempt took over (this one outlived its claim).
        delivery.update(actions=actions, condition=WebhookDelivery.attempts == attempts)
    except UpdateError as update_error:
        if update_error.cause_response_code != "ConditionalCheckFailedException":
            raise
        log.warning("webhook delivery %s: attempt %d outlived its claim", delivery.item, attempts)
    return outcome


def _send(delivery: WebhookDelivery) -> tuple[int | None, str | None]:
    """(HTTP status, None) or (None, why there was no response)."""
    try:
        endpoint = WebhookEndpoint.get(delivery.project_id, ENDPOINT, consistent_read=True)
    except WebhookEndpoint.DoesNotExist:
        return None, "no webhook is registered for the project any more"
    body = delivery.body.encode()
    headers = {"Content-Type": "application/json", "User-Agent": "Foule-Webhooks/1",
               "Foule-Event": delivery.event_type, "Foule-Delivery": delivery.item,
               SIGNATURE_HEADER: sign(endpoint.secret, int(time.time()), body)}
    try:
        target = webhook_http.check_url(endpoint.url)
        return webhook_http.post(target, body, headers, settings.webhook_timeout_seconds), None
    except Exception as error:  # refused URL, DNS, refused connection, timeout, TLS
        message = getattr(error, "message", None) or f"{type(error).__name__}: {error}"
        return None, message


# --- The scheduled pass ---------------------------------------------------------------------
def deliver_due(deadline: float, now: int | None = None, limit: int = MAX_PER_PASS) -> list[dict]:
    """Attempt up to `limit` due deliveries, soonest due first, several at a time; an attempt
    starts only if it can finish (timeout included) before `deadline` (time.monotonic()).
    What is left stays due for the next pass."""
    now = now if now is not None else now_ms()
    due = WebhookDelivery.due_deliveries.query(DUE, WebhookDelivery.next_attempt_at <= now, limit=limit)

    def one(delivery: WebhookDelivery) -> dict | None:
        if time.monotonic() + settings.webhook_timeout_seconds * 3 > deadline:
            return None
        outcome = attempt(delivery, now)
        return outcome and {"project_id": delivery.project_id, "delivery_id": delivery.item, "status": outcome}

    with ThreadPoolExecutor(max_workers=SENDERS) as pool:
        return [r for r in pool.map(one, list(due)) if r is not None]
