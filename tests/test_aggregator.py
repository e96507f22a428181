"""The scheduled aggregator: changed projects only, reliability-weighted, published atomically."""
import hashlib
import json
import random

import requests

from tests.scheduled import run_aggregator


def project_with_one_answer(api, make_project, add_tasks, new_key, answer: str) -> str:
    """A project of one task with overlap 1, answered by one worker."""
    project_id = make_project(overlap=1)
    add_tasks(project_id, [{"task_id": "t", "payload": {}}])
    worker, _ = new_key("worker")
    lease = api.post("/work/next", worker, {"project_id": project_id})[1]
    assert api.post(f"/leases/{lease['lease_id']}/answer", worker, {"answer": answer})[0] == 200
    return project_id


def crowd_answers(api, project_id, workers, truth, accuracy, seed=7):
    """Every worker answers every task; worker i is right with probability accuracy[i]."""
    rng = random.Random(seed)
    for key, p in zip(workers, accuracy):
        for task_id, label in truth.items():
            lease = api.post(f"/projects/{project_id}/tasks/{task_id}/lease", key)[1]
            answer = label if rng.random() < p else ("dog" if label == "cat" else "cat")
            assert api.post(f"/leases/{lease['lease_id']}/answer", key, {"answer": answer})[0] == 200


def test_results_are_published_weighted_by_reliability(api, requester, make_project, add_tasks, new_key):
    project_id = make_project(overlap=5)
    rng = random.Random(1)
    truth = {f"t{i:02d}": rng.choice(["cat", "dog"]) for i in range(30)}
    gold = set(list(truth)[:6])
    add_tasks(project_id, [{"task_id": t, "payload": {"n": i}, **({"known_answer": truth[t]} if t in gold else {})}
                           for i, t in enumerate(truth)])
    keys = [new_key("worker") for _ in range(5)]
    # Two good workers, three that answer the opposite of the truth most of the time: a plain
    # majority is wrong on many tasks; weighting by gold-estimated reliability is not.
    crowd_answers(api, project_id, [k for k, _ in keys], truth, accuracy=[0.95, 0.95, 0.2, 0.2, 0.2])

    summaries = run_aggregator(project_id)
    assert summaries[project_id]["answers"] == 150 and summaries[project_id]["tasks"] == 30

    status, results = api.get(f"/projects/{project_id}/results", requester)
    assert status == 200 and results["manifest"]["answers"] == 150
    entry = results["files"]["results.jsonl"]
    body = requests.get(entry["url"], timeout=10).content
    assert hashlib.sha256(body).hexdigest() == entry["sha256"] and len(body) == entry["bytes"]
    rows = [json.loads(line) for line in body.decode().splitlines()]
    assert len(rows) == 30 and all(r["answer_count"] == 5 for r in rows)
    accuracy = sum(r["label"] == truth[r["task_id"]] for r in rows if r["task_id"] not in gold) / 24
    assert accuracy >= 0.9
    assert all(0.5 <= r["confidence"] <= 1 for r in rows)
    assert all(r["gold"] == (r["task_id"] in gold) for r in rows)

    status, detail = api.get(f"/projects/{project_id}/tasks/t10", requester)
    assert detail["result"]["label"] == next(r["label"] for r in rows if r["task_id"] == "t10")
    good = api.get("/me", keys[0][0])[1]["projects"][0]["reliability"]
    bad = api.get("/me", keys[2][0])[1]["projects"][0]["reliability"]
    assert good > 0.8 > 0.4 > bad


def test_an_unchanged_project_is_not_aggregated_again(api, requester, make_project, add_tasks, new_key):
    project_id = project_with_one_answer(api, make_project, add_tasks, new_key, "cat")
    first = run_aggregator(project_id)[project_id]["run_id"]
    assert project_id not in run_aggregator(project_id)
    status, queued = api.post(f"/projects/{project_id}/aggregate", requester)
    assert status == 202 and queued["status"] == "queued"
    second = run_aggregator(project_id)[project_id]["run_id"]
    assert second != first
    assert api.get(f"/projects/{project_id}/results", requester)[1]["run_id"] == second


def test_results_before_any_run_are_a_clear_404(api, requester, make_project):
    project_id = make_project()
    status, body = api.get(f"/projects/{project_id}/results", requester)
    assert status == 404 and body["error"]["code"] == "no_results_yet"


def test_a_closed_project_is_published_once_more_then_retired(api, requester, make_project, add_tasks, new_key):
    from chalicelib.models import Project

    project_id = project_with_one_answer(api, make_project, add_tasks, new_key, "dog")
    api.patch(f"/projects/{project_id}", requester, {"status": "closed"})
    assert run_aggregator(project_id)[project_id]["answers"] == 1
    assert project_id not in run_aggregator(project_id)
    assert Project.get(project_id).live is None


def test_a_new_run_marks_the_previous_one_superseded_for_the_lifecycle_rule(api, requester, make_project,
                                                                           add_tasks, new_key):
    from chalicelib.services import publishing
    from chalicelib.settings import settings

    project_id = project_with_one_answer(api, make_project, add_tasks, new_key, "cat")
    run_aggregator(project_id)
    first = api.get(f"/projects/{project_id}/results", requester)[1]["manifest"]
    api.post(f"/projects/{project_id}/aggregate", requester)
    run_aggregator(project_id)
    second = api.get(f"/projects/{project_id}/results", requester)[1]["manifest"]

    def tags(key):
        return publishing.s3().get_object_tagging(Bucket=settings.results_bucket, Key=key)["TagSet"]

    assert tags(first["files"]["results.jsonl"]["key"]) == [{"Key": "foule-run", "Value": "superseded"}]
    assert tags(second["files"]["results.jsonl"]["key"]) == []


def test_new_answers_wait_for_the_minimum_interval_unless_a_run_is_requested(api, requester, make_project,
                                                                            add_tasks, new_key, monkeypatch):
    from chalicelib.models.base import now_ms
    from chalicelib.services import aggregator

    project_id = make_project(overlap=2)
    add_tasks(project_id, [{"task_id": "t", "payload": {}}])
    workers = [new_key("worker")[0] for _ in range(2)]
    for key in workers:
        lease = api.post("/work/next", key, {"project_id": project_id})[1]
        api.post(f"/leases/{lease['lease_id']}/answer", key, {"answer": "cat"})
        if key == workers[0]:
            assert run_aggregator(project_id)[project_id]["answers"] == 1
    assert project_id not in run_aggregator(project_id)  # changed, but the last run is too recent
    later = now_ms() + int(aggregator.settings.aggregation_min_interval_seconds * 1000) + 1
    monkeypatch.setattr(aggregator, "now_ms", lambda: later)
    assert run_aggregator(project_id)[project_id]["answers"] == 2
