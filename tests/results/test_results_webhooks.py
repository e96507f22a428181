"""Signed webhooks, against a real HTTP receiver on 127.0.0.1: registration and its URL rules,
the signature, retries with backoff, giving up, the delivery log and replay."""
import hashlib
import hmac
import json
import threading
import time

import pytest

from conftest import WEBHOOK_MAX_ATTEMPTS as MAX_ATTEMPTS  # tests/results/conftest.py


def verify(secret: str, signature_header: str, body: bytes, tolerance_seconds: int = 300,
           now: float | None = None) -> bool:
    """The receiver's check, as README shows it (plus `now`, to test staleness)."""
    try:
        fields = dict(part.split("=", 1) for part in signature_header.split(","))
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs((now or time.time()) - timestamp) > tolerance_seconds:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, fields.get("v1", ""))


@pytest.fixture
def hooked(api, requester, answered_project, local_webhooks, receiver):
    """(project_id, receiver, secret): a project with answers and a webhook to the receiver."""

    def make(**receiver_kwargs):
        project_id, _ = answered_project(answers={"w0": {"t0": "cat", "t1": "dog"}, "w1": {"t1": "dog"}})
        target = receiver(**receiver_kwargs)
        status, created = api.request("PUT", f"/projects/{project_id}/webhook", requester, {"url": target.url})
        assert status == 200, created
        return project_id, target, created["secret"]

    return make


def publish(project_id):
    from chalicelib.models import Project
    from chalicelib.services import aggregator

    return aggregator.aggregate_project(Project.get(project_id, consistent_read=True))


def deliveries(api, requester, project_id, **query):
    path = f"/projects/{project_id}/webhook/deliveries" + ("?" + "&".join(f"{k}={v}" for k, v in query.items())
                                                           if query else "")
    status, page = api.get(path, requester)
    assert status == 200, page
    return page


def retry_pass(minutes_later: float):
    """The scheduled pass, as if it ran that much later (past every backoff so far)."""
    from chalicelib.services import webhooks

    later = int(time.time() * 1000 + minutes_later * 60_000)
    return webhooks.deliver_due(time.monotonic() + 60, now=later)


def test_register_read_replace_and_remove(api, requester, make_project, local_webhooks, receiver):
    project_id = make_project()
    path = f"/projects/{project_id}/webhook"
    status, body = api.get(path, requester)
    assert status == 404 and body["error"]["code"] == "webhook_not_found"
    url = receiver().url
    status, first = api.request("PUT", path, requester, {"url": url})
    assert status == 200 and first["url"] == url and first["secret"].startswith("whsec_"), first
    status, shown = api.get(path, requester)
    assert status == 200 and shown == {"project_id": project_id, "url": url, "created_at": first["created_at"]}
    assert first["secret"] not in json.dumps(shown)
    status, second = api.request("PUT", path, requester, {"url": url})
    assert status == 200 and second["secret"] != first["secret"]  # registering again rotates the secret
    assert api.request("DELETE", path, requester)[1] == {"project_id": project_id, "removed": True}
    assert api.get(path, requester)[0] == 404
    assert api.request("DELETE", path, requester)[1] == {"project_id": project_id, "removed": False}


@pytest.mark.parametrize("url,code", [
    ("ftp://127.0.0.1/hook", "webhook_url_invalid"),
    ("/relative/path", "webhook_url_invalid"),
    ("https://user:password@127.0.0.1/hook", "webhook_url_invalid"),
    ("https://127.0.0.1:99999/hook", "webhook_url_invalid"),
    ("https://127.0.0.1/hook#part", "webhook_url_invalid"),
    ("https://127.0.0.1/a b", "webhook_url_invalid"),
    ("http://hooks.example.org/hook", "webhook_url_not_https"),
    ("https://no-such-host.invalid/hook", "webhook_host_unresolvable"),
])
def test_bad_urls_are_refused_with_a_code(api, requester, make_project, local_webhooks, url, code):
    project_id = make_project()
    status, body = api.request("PUT", f"/projects/{project_id}/webhook", requester, {"url": url})
    assert status == 400 and body["error"]["code"] == code, body
    assert api.get(f"/projects/{project_id}/webhook", requester)[0] == 404


@pytest.mark.parametrize("url,code", [
    ("http://127.0.0.1:8080/hook", "webhook_url_not_https"),
    ("https://127.0.0.1/hook", "webhook_host_not_public"),
    ("https://localhost/hook", "webhook_host_not_public"),
    ("https://10.1.2.3/hook", "webhook_host_not_public"),
    ("https://192.168.0.10/hook", "webhook_host_not_public"),
    ("https://169.254.169.254/latest/meta-data", "webhook_host_not_public"),
    ("https://[::1]/hook", "webhook_host_not_public"),
    ("https://[::ffff:10.0.0.1]/hook", "webhook_host_not_public"),
    ("https://[fe80::1]/hook", "webhook_host_not_public"),
    ("https://0.0.0.0/hook", "webhook_host_not_public"),
])
def test_without_the_local_setting_private_and_plain_http_targets_are_refused(api, requester, make_project,
                                                                              url, code):
    project_id = make_project()
    status, body = api.request("PUT", f"/projects/{project_id}/webhook", requester, {"url": url})
    assert status == 400 and body["error"]["code"] == code, body


def test_a_missing_or_extra_field_is_a_validation_error(api, requester, make_project):
    project_id = make_project()
    for body in ({}, {"url": 5}, {"url": "https://x.org", "secret": "mine"}, {"url": "https://x.org/" + "a" * 2048}):
        status, answer = api.request("PUT", f"/projects/{project_id}/webhook", requester, body)
        assert status == 400 and answer["error"]["code"] == "validation_error", (body, answer)


def test_another_requesters_project_is_a_404_and_other_roles_a_403(api, hooked, new_key):
    project_id, target, _ = hooked()
    publish(project_id)
    stranger, _ = new_key("requester")
    worker, _ = new_key("worker")
    delivery_id = target.requests[0][0]["Foule-Delivery"]
    for method, path in (("PUT", ""), ("GET", ""), ("DELETE", ""), ("GET", "/deliveries"),
                         ("POST", f"/deliveries/{delivery_id}/replay")):
        body = {"url": target.url} if method == "PUT" else None
        status, answer = api.request(method, f"/projects/{project_id}/webhook{path}", stranger, body)
        assert status == 404 and answer["error"]["code"] == "project_not_found", (method, path, answer)
        status, answer = api.request(method, f"/projects/{project_id}/webhook{path}", worker, body)
        assert status == 403 and answer["error"]["code"] == "wrong_role", (method, path, answer)
    assert len(target.requests) == 1  # nobody else's replay went out


def test_a_publication_is_posted_signed_and_the_signature_catches_tampering(api, requester, hooked):
    project_id, target, secret = hooked()
    summary = publish(project_id)
    assert len(target.requests) == 1
    headers, body = target.requests[0]
    assert verify(secret, headers["Foule-Signature"], body)
    event = json.loads(body)
    assert {k: event[k] for k in ("event", "project_id", "run_id", "counts")} == {
        "event": "results.published", "project_id": project_id, "run_id": summary["run_id"],
        "counts": {"answers": 3, "tasks": 2, "workers": 2}}
    status, results = api.get(f"/projects/{project_id}/results", requester)
    assert event["manifest_key"] == results["files"]["results.jsonl"]["key"].rsplit("/", 1)[0] + "/manifest.json"
    assert event["created_at"] == results["created_at"] and event["delivery_id"] == headers["Foule-Delivery"]
    assert headers["Foule-Event"] == "results.published" and headers["Content-Type"] == "application/json"

    tampered = body.replace(b'"answers":3', b'"answers":4')
    assert tampered != body and not verify(secret, headers["Foule-Signature"], tampered)
    assert not verify("whsec_another", headers["Foule-Signature"], body)
    assert not verify(secret, headers["Foule-Signature"], body, now=time.time() + 600)  # stale
    page = deliveries(api, requester, project_id)
    assert [(d["status"], d["attempts"], d["last_status"]) for d in page["items"]] == [("delivered", 1, 200)]
    assert page["items"][0]["event"] == event


def test_500s_are_retried_with_backoff_then_delivered(api, requester, hooked):
    project_id, target, secret = hooked(statuses=[500, 503])
    before = int(time.time() * 1000)
    publish(project_id)
    (first,) = deliveries(api, requester, project_id)["items"]
    assert (first["status"], first["attempts"], first["last_status"]) == ("pending", 1, 500)
    # Backoff: the first retry waits 30-60 s (60 s base, jitter), not a moment.
    assert before + 30_000 <= first["next_attempt_at"] <= int(time.time() * 1000) + 60_000
    assert not [r for r in retry_pass(0) if r["delivery_id"] == first["delivery_id"]]  # not due yet

    assert {"project_id": project_id, "delivery_id": first["delivery_id"], "status": "pending"} in retry_pass(2)
    (second,) = deliveries(api, requester, project_id)["items"]
    assert (second["attempts"], second["last_status"]) == (2, 503)
    assert second["next_attempt_at"] - second["last_attempt_at"] >= 60_000  # doubled: 60-120 s
    assert {"project_id": project_id, "delivery_id": first["delivery_id"], "status": "delivered"} in retry_pass(10)
    (done,) = deliveries(api, requester, project_id)["items"]
    assert (done["status"], done["attempts"], done["last_status"], done["next_attempt_at"]) == \
        ("delivered", 3, 200, None)
    # Every attempt stays in the log, not only the last one.
    log = done["attempt_log"]
    assert [(a["number"], a["status"], a["error"]) for a in log] == [
        (1, 500, "the receiver answered HTTP 500"), (2, 503, "the receiver answered HTTP 503"), (3, 200, None)]
    assert log[0]["started_at"] < log[1]["started_at"] < log[2]["started_at"]
    assert all(a["duration_ms"] >= 0 for a in log)
    bodies = {body for _, body in target.requests}
    assert len(target.requests) == 3 and len(bodies) == 1  # the same event each time
    assert all(verify(secret, headers["Foule-Signature"], body) for headers, body in target.requests)
    assert not [r for r in retry_pass(60) if r["delivery_id"] == first["delivery_id"]]


def test_a_delivery_is_given_up_after_n_attempts_then_replayed(api, requester, hooked):
    project_id, target, secret = hooked(statuses=[500] * (MAX_ATTEMPTS + 1))
    publish(project_id)
    for minutes in (10, 30):
        retry_pass(minutes)
    (failed,) = deliveries(api, requester, project_id)["items"]
    assert (failed["status"], failed["attempts"], failed["last_status"]) == ("failed", MAX_ATTEMPTS, 500)
    assert failed["last_error"] == "the receiver answered HTTP 500"
    retry_pass(24 * 60)
    assert len(target.requests) == MAX_ATTEMPTS  # given up: never sent again by itself

    path = f"/projects/{project_id}/webhook/deliveries/{failed['delivery_id']}/replay"
    status, replayed = api.post(path, requester)
    assert status == 202 and replayed["attempts"] == MAX_ATTEMPTS + 1 and replayed["last_status"] == 500
    assert replayed["status"] == "pending"  # failed again: back on the retry schedule
    status, replayed = api.post(path, requester)  # a second click within the window: no new attempt
    assert status == 202 and replayed["attempts"] == MAX_ATTEMPTS + 1
    retry_pass(10)  # the receiver answers 200 now
    (done,) = deliveries(api, requester, project_id)["items"]
    assert (done["status"], done["attempts"]) == ("delivered", MAX_ATTEMPTS + 2)
    assert [a["status"] for a in done["attempt_log"]] == [500] * (MAX_ATTEMPTS + 1) + [200]
    assert len({body for _, body in target.requests}) == 1
    assert all(verify(secret, h["Foule-Signature"], b) for h, b in target.requests)


def test_replay_sends_the_same_event_once_however_often_it_is_clicked(api, requester, hooked):
    project_id, target, secret = hooked()
    publish(project_id)
    (delivered,) = deliveries(api, requester, project_id)["items"]
    path = f"/projects/{project_id}/webhook/deliveries/{delivered['delivery_id']}/replay"
    answers = []
    clicks = [threading.Thread(target=lambda: answers.append(api.post(path, requester))) for _ in range(3)]
    for click in clicks:
        click.start()
    for click in clicks:
        click.join(30)
    assert [status for status, _ in answers] == [202, 202, 202]
    assert len(target.requests) == 2, "three clicks at once made more than one new attempt"
    (first_headers, first_body), (headers, body) = target.requests
    assert body == first_body and headers["Foule-Delivery"] == first_headers["Foule-Delivery"]
    assert verify(secret, headers["Foule-Signature"], body)
    (after,) = deliveries(api, requester, project_id)["items"]
    assert (after["status"], after["attempts"]) == ("delivered", 2)

    for missing in ("dlv_00000000000000000000", "nope", "dlv_" + "9" * 21):
        status, body = api.post(f"/projects/{project_id}/webhook/deliveries/{missing}/replay", requester)
        assert status == 404 and body["error"]["code"] == "delivery_not_found", body
    api.request("DELETE", f"/projects/{project_id}/webhook", requester)
    status, body = api.post(path, requester)
    assert status == 404 and body["error"]["code"] == "webhook_not_found"


def test_the_delivery_log_pages_newest_first(api, requester, hooked, make_project):
    project_id, target, _ = hooked()
    runs = [publish(project_id)["run_id"]]
    from chalicelib.models import Project

    Project(project_id).update(actions=[Project.aggregation_method.set("mv")])  # a change: a new run
    runs.append(publish(project_id)["run_id"])
    first = deliveries(api, requester, project_id, limit=1)
    assert [d["run_id"] for d in first["items"]] == [runs[1]] and first["next_cursor"]
    second = deliveries(api, requester, project_id, limit=1, cursor=first["next_cursor"])
    assert [d["run_id"] for d in second["items"]] == [runs[0]]
    other = make_project()
    status, body = api.get(f"/projects/{other}/webhook/deliveries?cursor={first['next_cursor']}", requester)
    assert status == 400 and body["error"]["code"] == "invalid_cursor"


@pytest.mark.parametrize("trouble", ["nothing listens", "too slow", "unregistered"])
def test_a_failing_receiver_never_breaks_the_publication(api, requester, hooked, trouble):
    project_id, target, _ = hooked(delay=3 if trouble == "too slow" else 0,
                                   statuses=[500] if trouble == "unregistered" else [])
    if trouble == "nothing listens":
        target.close()
    started = time.monotonic()
    summary = publish(project_id)
    assert time.monotonic() - started < 30
    if trouble == "unregistered":  # removed after a failed first attempt
        from chalicelib.models.webhooks import WebhookEndpoint

        WebhookEndpoint(project_id, "endpoint").delete()
        retry_pass(10)
    status, results = api.get(f"/projects/{project_id}/results", requester)
    assert status == 200 and results["run_id"] == summary["run_id"]
    status, page = api.get(f"/projects/{project_id}/webhook/deliveries", requester)
    (delivery,) = page["items"]
    assert delivery["status"] == "pending" and delivery["last_status"] is None, delivery
    assert delivery["last_error"], delivery


def test_the_scheduled_function_runs_the_webhook_pass(hooked, monkeypatch):
    from chalicelib.services import housekeeping

    project_id, target, _ = hooked(statuses=[500])
    publish(project_id)
    monkeypatch.setattr("chalicelib.services.aggregator.run_due_projects", lambda time_budget_seconds: [])
    monkeypatch.setattr("chalicelib.services.webhooks.now_ms", lambda: int(time.time() * 1000) + 10 * 60_000)
    summaries = housekeeping.run(time_budget_seconds=30)
    assert any(s["project_id"] == project_id and s["status"] == "delivered" for s in summaries["webhooks"])
    assert len(target.requests) == 2


def test_the_attempt_log_keeps_the_latest_attempts_only(api, requester, hooked, monkeypatch):
    from chalicelib.services import webhooks

    monkeypatch.setattr(webhooks, "MAX_LOGGED_ATTEMPTS", 2)  # 20 in production: a bounded item
    project_id, target, secret = hooked(statuses=[500, 502, 200])
    publish(project_id)
    retry_pass(2)
    retry_pass(10)
    (done,) = deliveries(api, requester, project_id)["items"]
    assert (done["status"], done["attempts"]) == ("delivered", 3)
    assert [(a["number"], a["status"]) for a in done["attempt_log"]] == [(2, 502), (3, 200)]
