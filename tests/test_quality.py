"""Worker quality as the requester and the worker see it: reliability, the worker listing,
blocks and exclusions by hand, and an excluded worker's answers left out of aggregation."""
import json

import pytest
import requests

from chalicelib.models.workers import FOREVER
from chalicelib.services import quality
from tests.scheduled import run_aggregator


def answer(api, worker, project_id, task_id, label, time_spent_ms=None):
    status, lease = api.post(f"/projects/{project_id}/tasks/{task_id}/lease", worker)
    assert status == 200, lease
    body = {"answer": label, **({"time_spent_ms": time_spent_ms} if time_spent_ms is not None else {})}
    status, receipt = api.post(f"/leases/{lease['lease_id']}/answer", worker, body)
    assert status == 200, receipt


def published_labels(api, requester, project_id) -> dict:
    status, results = api.get(f"/projects/{project_id}/results", requester)
    assert status == 200, results
    body = requests.get(results["files"]["results.jsonl"]["url"], timeout=10).content
    return {row["task_id"]: row["label"] for row in map(json.loads, body.decode().splitlines())}


@pytest.mark.parametrize("gold, correct, estimate, expected", [
    (0, 0, None, 0.5),                        # nothing known: even odds
    (10, 8, None, 8.5 / 11),                  # (correct + 0.5) / (total + 1)
    (0, 0, 0.9, 0.9),                         # no gold: the aggregation's estimate alone
    (16, 0, 0.9, 14.4 / 32),                  # 16 wrong gold answers weigh as much as the estimate
    (200, 200, 0.2, (200 + 3.2) / 216),       # plenty of gold dominates
])
def test_reliability_on_known_counts(gold, correct, estimate, expected):
    assert quality.reliability(gold, correct, estimate) == pytest.approx(expected)


def test_the_requester_lists_its_workers_with_gold_accuracy_and_reliability(
        api, requester, make_project, add_tasks, new_key, alias):
    project_id = make_project(overlap=3)
    add_tasks(project_id, [{"task_id": "g1", "payload": {}, "known_answer": "cat"},
                           {"task_id": "g2", "payload": {}, "known_answer": "dog"},
                           {"task_id": "t1", "payload": {}}])
    (good, good_id), (bad, bad_id) = new_key("worker"), new_key("worker")
    for task, right in (("g1", "cat"), ("g2", "dog"), ("t1", "cat")):
        answer(api, good, project_id, task, right)
        answer(api, bad, project_id, task, "dog" if right == "cat" else "cat")
    good_id, bad_id = alias(requester, good_id), alias(requester, bad_id)  # requesters see pseudonyms

    status, page = api.get(f"/projects/{project_id}/workers", requester, )
    assert status == 200, page
    by_id = {w["worker_id"]: w for w in page["items"]}
    assert set(by_id) == {good_id, bad_id} and page["next_cursor"] is None
    assert by_id[good_id]["answers"] == 3 and by_id[good_id]["gold_answers"] == 2
    assert by_id[good_id]["gold_accuracy"] == 1.0 and by_id[bad_id]["gold_accuracy"] == 0.0
    # Before any run: gold alone, smoothed.
    assert by_id[good_id]["reliability"] == pytest.approx(2.5 / 3, abs=1e-6)
    assert by_id[bad_id]["reliability"] == pytest.approx(0.5 / 3, abs=1e-6)
    assert not by_id[good_id]["blocked"] and not by_id[good_id]["excluded"]

    # One per page: the cursor walks the same two workers.
    first = api.get(f"/projects/{project_id}/workers?limit=1", requester)[1]
    second = api.get(f"/projects/{project_id}/workers?limit=1&cursor={first['next_cursor']}", requester)[1]
    assert {first["items"][0]["worker_id"], second["items"][0]["worker_id"]} == {good_id, bad_id}

    run_aggregator(project_id)
    detail = api.get(f"/projects/{project_id}/workers/{good_id}", requester)[1]
    assert detail["agreement"] is not None and detail["model_reliability"] is not None
    assert detail["reliability"] == pytest.approx(
        quality.reliability(2, 2, detail["model_reliability"]), abs=1e-5)
    assert detail["global_reliability"] > 0.5
    # The worker sees the run's figure, never its gold counts.
    me = api.get("/me", good)[1]
    mine = next(p for p in me["projects"] if p["project_id"] == project_id)
    assert mine["reliability"] == pytest.approx(detail["reliability"], abs=1e-5)
    assert "gold_answers" not in json.dumps(me)


def test_workers_of_another_requester_are_not_found(api, requester, make_project, add_tasks, new_key, alias):
    project_id = make_project(overlap=1)
    add_tasks(project_id, [{"task_id": "t1", "payload": {}}])
    worker, worker_id = new_key("worker")
    answer(api, worker, project_id, "t1", "cat")
    worker_id = alias(requester, worker_id)
    other, _ = new_key("requester")
    for method, path in (("GET", f"/projects/{project_id}/workers"),
                         ("GET", f"/projects/{project_id}/workers/{worker_id}"),
                         ("PUT", f"/projects/{project_id}/workers/{worker_id}/block"),
                         ("DELETE", f"/projects/{project_id}/workers/{worker_id}/block")):
        status, data = api.request(method, path, other, {} if method == "PUT" else None)
        assert status == 404 and data["error"]["code"] == "project_not_found", (method, path, data)
    status, data = api.request("PUT", f"/projects/{project_id}/workers/{worker_id}/block", worker, {})
    assert status == 403, data


def test_block_and_unblock_by_hand(api, requester, make_project, add_tasks, new_key, alias):
    project_id = make_project(overlap=1)
    add_tasks(project_id, [{"task_id": "t1", "payload": {}}])
    worker, raw_id = new_key("worker")
    answer(api, worker, project_id, "t1", "cat")
    worker_id = alias(requester, raw_id)
    path = f"/projects/{project_id}/workers/{worker_id}/block"

    status, blocked = api.request("PUT", path, requester, {"message": "Copy-pasted answers"})
    assert status == 200, blocked
    assert blocked["blocked"] and blocked["blocked_until"] == FOREVER
    assert blocked["block_reason"] == "requester" and blocked["block_message"] == "Copy-pasted answers"
    mine = next(p for p in api.get("/me", worker)[1]["projects"] if p["project_id"] == project_id)
    assert mine["block_reason"] == "requester" and mine["blocked_until"] == FOREVER

    status, unblocked = api.request("DELETE", path, requester)
    assert status == 200 and not unblocked["blocked"] and unblocked["blocked_until"] is None
    mine = next(p for p in api.get("/me", worker)[1]["projects"] if p["project_id"] == project_id)
    assert mine["blocked_until"] is None

    status, timed = api.request("PUT", path, requester, {"duration_seconds": 3600})
    assert status == 200 and timed["blocked"] and timed["blocked_until"] < FOREVER

    status, error = api.request("PUT", path, requester, {"duration_seconds": 5})
    assert status == 400 and error["error"]["code"] == "validation_error"
    # A raw worker id, another requester's pseudonym, a forgery: all the same 404.
    other, _ = new_key("requester")
    for unknown in ("w-nobody", raw_id, alias(other, raw_id), worker_id[:-2] + "AA"):
        status, error = api.request("PUT", f"/projects/{project_id}/workers/{unknown}/block", requester, {})
        assert status == 404 and error["error"]["code"] == "worker_not_found", unknown
    # No record was created for the unknown worker.
    ids = [w["worker_id"] for w in api.get(f"/projects/{project_id}/workers", requester)[1]["items"]]
    assert ids == [worker_id]


def test_a_block_expires(api, requester, make_project, add_tasks, new_key, monkeypatch, alias):
    project_id = make_project(overlap=1)
    add_tasks(project_id, [{"task_id": "t1", "payload": {}}])
    worker, worker_id = new_key("worker")
    answer(api, worker, project_id, "t1", "cat")
    worker_id = alias(requester, worker_id)
    blocked = api.request("PUT", f"/projects/{project_id}/workers/{worker_id}/block", requester,
                          {"duration_seconds": 60})[1]
    assert blocked["blocked"]
    until = blocked["blocked_until"]
    monkeypatch.setattr(quality, "now_ms", lambda: until + 1)
    after = api.get(f"/projects/{project_id}/workers/{worker_id}", requester)[1]
    assert not after["blocked"] and after["block_reason"] is None


def test_an_excluded_spammer_no_longer_decides_a_result(api, requester, make_project, add_tasks, new_key,
                                                        alias):
    project_id = make_project(overlap=3)
    add_tasks(project_id, [{"task_id": "t1", "payload": {}}])
    honest, _ = new_key("worker")
    (spam1, spam1_id), (spam2, spam2_id) = new_key("worker"), new_key("worker")
    answer(api, honest, project_id, "t1", "cat")
    answer(api, spam1, project_id, "t1", "dog")
    answer(api, spam2, project_id, "t1", "dog")
    run_aggregator(project_id)
    assert published_labels(api, requester, project_id) == {"t1": "dog"}

    spam1_id, spam2_id = alias(requester, spam1_id), alias(requester, spam2_id)
    for spammer in (spam1_id, spam2_id):
        status, out = api.request("PUT", f"/projects/{project_id}/workers/{spammer}/exclude", requester)
        assert status == 200 and out["excluded"] and out["exclude_reason"] == "requester"
    assert api.post(f"/projects/{project_id}/aggregate", requester)[0] == 202
    summary = run_aggregator(project_id)[project_id]
    assert summary["answers"] == 1
    assert published_labels(api, requester, project_id) == {"t1": "cat"}

    # Included again: the next run counts its answers again.
    api.request("DELETE", f"/projects/{project_id}/workers/{spam1_id}/exclude", requester)
    api.post(f"/projects/{project_id}/aggregate", requester)
    assert run_aggregator(project_id)[project_id]["answers"] == 2
