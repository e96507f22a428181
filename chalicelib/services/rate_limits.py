"""Per-key rate limits and quotas, enforced by the route layer with DynamoDB counters.

The local enforcement of per-key limits, which API Gateway's usage plans enforce in AWS
(infra/aws.yaml, services.usage_plans), where this limiter is off (FOULE_RATE_LIMITER): a throttle
(`rate_limit` requests per second sustained, `burst_limit` at once) and an optional quota
(`quota_limit` requests per DAY or MONTH, UTC). Each key may carry its own limits (an admin
sets them); the others get the deployment's defaults (settings).

The throttle is a fixed window: a window of burst/rate seconds (at least one) admits
`burst_limit` requests, so no more than the burst pass at once and no more than the rate on
average. Each request adds 1 to the window's counter item with the condition that it is below
the limit: concurrent requests never read-then-write, so exactly the limit gets through.
With a quota, the window's and the period's counters move in one transaction, so a refused
request counts nowhere. A refused request is refused before the view runs: nothing was done,
and the same request may be sent again after `Retry-After` seconds.

Counter items carry a time to live (`purge_at`): DynamoDB deletes them once their window or
period is over (with a day's margin), so the table holds only current windows.
"""
import math
from datetime import datetime, timezone

from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from chalicelib.auth import Caller, KeyLimits
from chalicelib.errors import TooManyRequests
from chalicelib.models import UsageCounter
from chalicelib.models.base import connection, failed_conditions, now_ms
from chalicelib.settings import settings

PURGE_MARGIN_SECONDS = 86400


def effective(limits: KeyLimits | None) -> KeyLimits:
    """The key's own limits, with the deployment's defaults for what it does not set."""
    own = limits or KeyLimits()
    has_own_quota = own.quota_limit is not None
    return KeyLimits(
        rate_limit=own.rate_limit if own.rate_limit is not None else settings.default_rate_limit,
        burst_limit=own.burst_limit if own.burst_limit is not None else settings.default_burst_limit,
        quota_limit=own.quota_limit if has_own_quota else settings.default_quota_limit,
        quota_period=(own.quota_period if has_own_quota else None) or settings.default_quota_period)


def window_ms(limits: KeyLimits) -> int:
    return max(1000, round(limits.burst_limit / limits.rate_limit * 1000))


def throttle_window(limits: KeyLimits, now: int) -> tuple[int, int]:
    """(window number, window end in ms) of the throttle at `now`."""
    number = now // window_ms(limits)
    return number, (number + 1) * window_ms(limits)


def quota_period(limits: KeyLimits, now: int) -> tuple[str, int]:
    """(period label, period end in ms): a UTC day or month."""
    moment = datetime.fromtimestamp(now / 1000, tz=timezone.utc)
    if limits.quota_period == "MONTH":
        start = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        end = start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)
        label = start.strftime("%Y%m")
    else:
        start = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        end = datetime.fromtimestamp(start.timestamp() + 86400, tz=timezone.utc)
        label = start.strftime("%Y%m%d")
    return label, int(end.timestamp() * 1000)


def _count(counter_id: str, limit: int, ends_at: int):
    return (UsageCounter(counter_id),
            [UsageCounter.hits.add(1), UsageCounter.purge_at.set(ends_at // 1000 + PURGE_MARGIN_SECONDS)],
            UsageCounter.hits.does_not_exist() | (UsageCounter.hits < limit))


def _refused(code: str, message: str, now: int, until: int, limits: KeyLimits) -> TooManyRequests:
    retry_after = max(1, math.ceil((until - now) / 1000))
    return TooManyRequests(message, code=code, headers={"Retry-After": str(retry_after)},
                           details={"retry_after_seconds": retry_after, "rate_limit": limits.rate_limit,
                                    "burst_limit": limits.burst_limit, "quota_limit": limits.quota_limit,
                                    "quota_period": limits.quota_period if limits.quota_limit else None})


def admit(caller: Caller, now: int | None = None) -> None:
    """Count one request of the caller's key; 429 if its throttle or quota is used up. With
    FOULE_RATE_LIMITER=signed-in (AWS) only workers signed in with the user pool are counted:
    API Gateway's usage plans limit every Foule key, and the signed-in workers share one API key."""
    if not caller.key_id or settings.rate_limiter == "off" or \
            (settings.rate_limiter == "signed-in" and not caller.signed_in):
        return
    now = now_ms() if now is None else now
    limits = effective(caller.limits)
    window, window_end = throttle_window(limits, now)
    throttle = _count(f"{caller.key_id}#t#{window}", limits.burst_limit, window_end)
    throttled = _refused("rate_limited", f"This key may make {limits.burst_limit} requests every "
                         f"{window_ms(limits) / 1000:g} s; retry after the Retry-After delay.",
                         now, window_end, limits)
    if limits.quota_limit is None:
        item, actions, condition = throttle
        try:
            item.update(actions=actions, condition=condition)
        except UpdateError as error:
            if error.cause_response_code != "ConditionalCheckFailedException":
                raise
            raise throttled from None
        return
    label, period_end = quota_period(limits, now)
    quota = _count(f"{caller.key_id}#q#{label}", limits.quota_limit, period_end)
    try:
        with TransactWrite(connection=connection()) as tx:
            for item, actions, condition in (throttle, quota):
                tx.update(item, actions=actions, condition=condition)
    except TransactWriteError as error:
        window_full, quota_used = (failed_conditions(error) + [False, False])[:2]
        if quota_used:
            raise _refused("quota_exceeded", f"This key's quota of {limits.quota_limit} requests per "
                           f"{limits.quota_period.lower()} is used up.", now, period_end, limits) from None
        if window_full:
            raise throttled from None
        raise
