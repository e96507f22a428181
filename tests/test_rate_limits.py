"""Per-key rate limits and quotas: exactly the limit gets through, even racing; a refused
request is a 429 with Retry-After and Foule's error shape, and did nothing."""
import json
import math
from concurrent.futures import ThreadPoolExecutor

import pytest

NOW = 1_800_000_000_000  # a fixed instant, mid-window for the limits below


@pytest.fixture
def at(monkeypatch):
    """at(ms): the time the rate limiter sees."""
    from chalicelib.services import rate_limits

    def set_to(ms):
        monkeypatch.setattr(rate_limits, "now_ms", lambda: ms)

    set_to(NOW)
    return set_to


def limited_key(api, admin, role="requester", **limits):
    status, created = api.post("/keys", admin, {"role": role})
    assert status == 201
    status, changed = api.patch(f"/keys/{created['key_id']}", admin, {"limits": limits})
    assert status == 200, changed
    return created


def raw(api, method, path, key, body=None):
    response = api.client.http.request(method, path, headers={"Authorization": f"Bearer {key}",
                                                              "Content-Type": "application/json"},
                                       body=json.dumps(body).encode() if body is not None else b"")
    return response.status_code, response.headers, json.loads(response.body)


def project_body(i):
    return {"title": f"p{i}", "answer_type": {"kind": "single_choice", "labels": ["a", "b"]}}


def test_a_key_over_its_throttle_gets_a_429_and_nothing_is_done(api, admin, at):
    # 3 requests per window of 3 / 0.01 = 300 s.
    key = limited_key(api, admin, rate_limit=0.01, burst_limit=3)
    for i in range(3):
        assert api.post("/projects", key["key"], project_body(i))[0] == 201
    status, headers, body = raw(api, "POST", "/projects", key["key"], project_body(3))
    window_end = (NOW // 300_000 + 1) * 300_000
    assert status == 429 and body["error"]["code"] == "rate_limited"
    assert set(body["error"]) == {"code", "message", "details"}
    assert headers["Retry-After"] == str(math.ceil((window_end - NOW) / 1000))
    assert body["error"]["details"]["retry_after_seconds"] == int(headers["Retry-After"])
    # Nothing was done: another key of the same requester sees three projects.
    other = api.post("/keys", admin, {"role": "requester", "owner_id": key["owner_id"]})[1]["key"]
    assert [p["title"] for p in api.get("/projects", other)[1]["items"]] == ["p2", "p1", "p0"]
    # Once the window is over, the same request goes through.
    at(window_end)
    assert api.post("/projects", key["key"], project_body(3))[0] == 201


def test_a_keys_quota_is_counted_per_day_and_refused_requests_count_nowhere(api, admin, at):
    key = limited_key(api, admin, rate_limit=100, burst_limit=200, quota_limit=2, quota_period="DAY")
    assert api.get("/projects", key["key"])[0] == 200
    assert api.get("/projects", key["key"])[0] == 200
    status, headers, body = raw(api, "GET", "/projects", key["key"])
    midnight = (NOW // 86_400_000 + 1) * 86_400_000
    assert status == 429 and body["error"]["code"] == "quota_exceeded"
    assert headers["Retry-After"] == str(math.ceil((midnight - NOW) / 1000))
    at(midnight)
    assert api.get("/projects", key["key"])[0] == 200


def test_keys_without_their_own_limits_have_the_deployments(api, admin):
    from chalicelib.services import rate_limits
    from chalicelib.settings import settings

    default = rate_limits.effective(None)
    assert (default.rate_limit, default.burst_limit, default.quota_limit) == \
        (settings.default_rate_limit, settings.default_burst_limit, settings.default_quota_limit)
    # High enough for the suite and the replay: hundreds of requests per second per key.
    assert default.rate_limit >= 100 and default.burst_limit >= 200
    status, created = api.post("/keys", admin, {"role": "worker"})
    assert created["limits"] is None and api.get(f"/keys/{created['key_id']}", admin)[1]["limits"] is None


def test_racing_clients_get_exactly_the_limit_through(moto_endpoint):
    """20 threads, each with its own connection to moto server, at one instant of one window."""
    import secrets

    from chalicelib.auth import Caller, KeyLimits
    from chalicelib.errors import TooManyRequests
    from chalicelib.services import rate_limits

    caller = Caller("worker", "w-x", f"key-{secrets.token_hex(6)}", limits=KeyLimits(0.01, 7))
    quota_caller = Caller("worker", "w-y", f"key-{secrets.token_hex(6)}", limits=KeyLimits(1000, 2000, 5, "MONTH"))

    def attempt(who):
        try:
            rate_limits.admit(who, now=NOW)
            return "ok"
        except TooManyRequests as refused:
            return refused.code

    with ThreadPoolExecutor(20) as pool:
        outcomes = list(pool.map(attempt, [caller] * 20))
        quota_outcomes = list(pool.map(attempt, [quota_caller] * 20))
    assert outcomes.count("ok") == 7 and outcomes.count("rate_limited") == 13
    assert quota_outcomes.count("ok") == 5 and quota_outcomes.count("quota_exceeded") == 15


def test_counters_expire_after_their_window(moto_endpoint):
    import secrets

    from chalicelib.auth import Caller, KeyLimits
    from chalicelib.models import UsageCounter
    from chalicelib.services import rate_limits

    key_id = f"key-{secrets.token_hex(6)}"
    rate_limits.admit(Caller("worker", "w", key_id, limits=KeyLimits(1, 10, 100, "DAY")), now=NOW)
    window = UsageCounter.get(f"{key_id}#t#{NOW // 10_000}", consistent_read=True)
    assert window.hits == 1 and window.purge_at == (NOW // 10_000 + 1) * 10 + 86400
    day = UsageCounter.get(f"{key_id}#q#20270115", consistent_read=True)
    assert day.hits == 1 and day.purge_at == (NOW // 86_400_000 + 1) * 86_400 + 86400


def test_in_aws_only_signed_in_workers_are_counted_by_the_api(moto_endpoint, monkeypatch):
    """FOULE_RATE_LIMITER=signed-in (infra/aws.yaml): API Gateway's usage plans limit every Foule
    key, and the workers signed in with the user pool share one API key, so the API keeps
    counting each of them. The authorizer names that shared key for them."""
    import dataclasses
    import secrets

    from chalicelib.auth import Caller, KeyLimits
    from chalicelib.errors import TooManyRequests
    from chalicelib.services import rate_limits, usage_plans

    monkeypatch.setattr(rate_limits, "settings", dataclasses.replace(rate_limits.settings, rate_limiter="signed-in"))
    monkeypatch.setattr(usage_plans, "settings", dataclasses.replace(usage_plans.settings, usage_plans="foule-prod"))
    limits = KeyLimits(0.01, 2)
    keyed = Caller("worker", "w-k", f"key-{secrets.token_hex(6)}", limits=limits)
    signed_in = Caller("worker", "w-s", f"w-{secrets.token_hex(6)}", limits=limits, signed_in=True)
    for _ in range(4):
        rate_limits.admit(keyed, now=NOW)  # left to API Gateway
    rate_limits.admit(signed_in, now=NOW)
    rate_limits.admit(signed_in, now=NOW)
    with pytest.raises(TooManyRequests) as refused:
        rate_limits.admit(signed_in, now=NOW)
    assert refused.value.code == "rate_limited"
    assert usage_plans.identifier_of(signed_in) == "foule-prod-signed-in"
    assert usage_plans.identifier_of(keyed) == f"foule-prod-{keyed.key_id}"
    assert usage_plans.identifier_of(Caller("anonymous", "")) == "foule-prod-anonymous"
