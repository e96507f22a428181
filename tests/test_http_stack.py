"""Over real HTTP: moto server + `chalice local`, with concurrent clients racing.

The invariants are checked afterwards from the store, not from what the clients were told.
"""
import os
import random
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tools import local_stack

pytestmark = pytest.mark.http


@pytest.fixture(scope="module")
def api_url():
    port = local_stack.free_port()
    process = local_stack.start_chalice_local(port, dict(os.environ), quiet=True)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def call(method, url, key=None, body=None):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    response = requests.request(method, url, json=body, headers=headers, timeout=30)
    return response.status_code, response.json()


def race(n, action):
    """Run action(i) on n threads released at the same instant; return their results."""
    barrier = threading.Barrier(n)

    def run(i):
        barrier.wait()
        return action(i)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(run, range(n)))


def submitted_answers(project_id, task_id):
    from chalicelib.models import Assignment, Task
    from chalicelib.models.assignments import task_key

    task = Task.get(project_id, task_id, consistent_read=True)
    answers = [a for a in Assignment.query(task_key(project_id, task_id), consistent_read=True)
               if a.state == "submitted"]
    return task, answers


def test_threads_racing_for_the_last_slot(api_url, make_project, add_tasks, new_key):
    project_id = make_project(overlap=3)
    add_tasks(project_id, [{"task_id": "contested", "payload": {}}])
    early = [new_key("worker")[0] for _ in range(2)]
    for key in early:
        status, lease = call("POST", f"{api_url}/projects/{project_id}/tasks/contested/lease", key)
        assert call("POST", f"{api_url}/leases/{lease['lease_id']}/answer", key, {"answer": "cat"})[0] == 200
    racers = [new_key("worker")[0] for _ in range(12)]

    def lease_and_answer(i):
        status, lease = call("POST", f"{api_url}/projects/{project_id}/tasks/contested/lease", racers[i])
        if status != 200:
            return status, lease["error"]["code"]
        return call("POST", f"{api_url}/leases/{lease['lease_id']}/answer", racers[i], {"answer": "dog"})[0], "ok"

    outcomes = race(len(racers), lease_and_answer)
    assert sorted(outcomes) == [(200, "ok")] + [(409, "task_full")] * (len(racers) - 1)
    task, answers = submitted_answers(project_id, "contested")
    assert len(answers) == 3 and task.answer_count == 3 and task.open_project is None
    assert len({a.worker_id for a in answers}) == 3


def test_many_workers_asking_for_work_at_once_never_overfill_a_task(api_url, requester, make_project,
                                                                    add_tasks, new_key):
    project_id = make_project(overlap=2)
    add_tasks(project_id, [{"task_id": f"t{i}", "payload": {}} for i in range(5)])
    workers = [new_key("worker")[0] for _ in range(16)]

    def work(i):
        answered = 0
        while True:
            status, lease = call("POST", f"{api_url}/work/next", workers[i], {"project_id": project_id})
            if status == 404:
                return answered
            assert status == 200, lease
            status, _ = call("POST", f"{api_url}/leases/{lease['lease_id']}/answer", workers[i], {"answer": "cat"})
            answered += status == 200

    assert sum(race(len(workers), work)) == 10
    for i in range(5):
        task, answers = submitted_answers(project_id, f"t{i}")
        assert len(answers) == 2 == task.answer_count and len({a.worker_id for a in answers}) == 2
    status, progress = call("GET", f"{api_url}/projects/{project_id}/progress", requester)
    assert (progress["answers"], progress["tasks_complete"], progress["rewards_cents"]) == (10, 5, 50)


def test_concurrent_retries_of_one_answer_count_once(api_url, make_project, add_tasks, new_key):
    project_id = make_project(overlap=1, reward_cents=25)
    add_tasks(project_id, [{"task_id": "t", "payload": {}}])
    worker, _ = new_key("worker")
    status, lease = call("POST", f"{api_url}/work/next", worker, {"project_id": project_id})
    receipts = race(8, lambda i: call("POST", f"{api_url}/leases/{lease['lease_id']}/answer", worker,
                                      {"answer": "cat" if i % 2 else "dog"}))
    assert {status for status, _ in receipts} == {200}
    assert len({r["answer"] for _, r in receipts}) == 1 and len({r["submitted_at"] for _, r in receipts}) == 1
    status, me = call("GET", f"{api_url}/me", worker)
    assert (me["answers"], me["pending_cents"]) == (1, 25)  # pending until reviewed


def test_errors_over_http_have_the_json_shape(api_url, requester):
    status, body = call("POST", f"{api_url}/projects", requester, {"title": 5})
    assert status == 400 and body["error"]["code"] == "validation_error"
    response = requests.post(f"{api_url}/projects", data=b"\xff\xfe", timeout=10,
                             headers={"Authorization": f"Bearer {requester}", "Content-Type": "application/json"})
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_json"
    response = requests.get(f"{api_url}/projects", timeout=10)
    assert response.status_code == 401


def majority_vote_accuracy(dataset, scored_tasks) -> float:
    """Plain majority vote (ties to the lowest label) on the same tasks, from the raw data."""
    import csv

    from chalicelib.aggregation import aggregate, encode

    with open(dataset / "answers.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    with open(dataset / "gold.csv", newline="") as f:
        gold = {r["task"]: r["label"] for r in csv.DictReader(f)}
    encoded = encode([r["worker"] for r in rows], [r["task"] for r in rows], [r["label"] for r in rows])
    result = aggregate("mv", encoded.tasks, encoded.workers, encoded.labels, len(encoded.task_ids),
                       len(encoded.worker_ids), len(encoded.label_values))
    labels = {t: encoded.label_values[i] for t, i in zip(encoded.task_ids, result.labels)}
    return sum(labels[t] == gold[t] for t in scored_tasks) / len(scored_tasks)


# make test replays the first 200 of rte's 800 tasks (2,000 answers: 235 s alone before the
# moto speed patches, 107 s after them on a machine at load average ~10); `make demo` replays
# all of it against `make run`.
REPLAY_TASKS = 200


@pytest.mark.replay
@pytest.mark.xdist_group("replay")  # the longest test: on its own worker, beside the rest of the suite
def test_a_replay_of_rte_loses_nothing_and_beats_majority_vote(api_url, datasets_dir, new_key, monkeypatch):
    import dataclasses

    from chalicelib.services import aggregator
    from tools import replay

    # The schedule stand-in serves the run the replay requests once every answer is in; the
    # periodic re-aggregation of a busy project (tested in test_aggregator.py) would only
    # re-read the growing answer index from moto every minute meanwhile.
    monkeypatch.setattr(aggregator, "settings",
                        dataclasses.replace(aggregator.settings, aggregation_min_interval_seconds=3600))
    stop = threading.Event()
    schedule = threading.Thread(target=local_stack.aggregation_loop, args=(2.0, stop.is_set), daemon=True)
    schedule.start()
    try:
        result = replay.replay(api_url, datasets_dir / "rte", new_key("admin")[0], gold_fraction=0.1,
                               concurrency=8, seed=1, timeout=300, max_tasks=REPLAY_TASKS)
    finally:
        stop.set()
        schedule.join(timeout=60)
    print("replay:", result)
    answers, gold = replay.read_dataset(datasets_dir / "rte")
    jobs = replay.first_tasks(replay.unique_jobs(answers)[0], REPLAY_TASKS)
    assert len(jobs) == 10 * REPLAY_TASKS  # rte: 10 answers per task
    assert (result["sent"], result["acknowledged"], result["published"]) == (len(jobs),) * 3
    assert result["lost"] == 0 and result["failed"] == 0 and result["duplicates"] == 0
    assert result["tasks"] == REPLAY_TASKS
    # The tasks the replay scored: every task but those it uploaded as gold (same seed, same draw).
    tasks = sorted({task for _, task, _ in jobs})
    revealed = replay.choose_gold(tasks, gold, 0.1, random.Random(1))
    scored = [t for t in tasks if t in gold and t not in revealed]
    assert result["scored_tasks"] == len(scored) == REPLAY_TASKS - len(revealed)
    assert result["accuracy"] >= majority_vote_accuracy(datasets_dir / "rte", scored)


def test_racing_requests_of_one_key_get_exactly_its_limit_through(api_url, new_key):
    """12 clients at once with a key limited to 5 requests per window (5 / 0.001 = 5,000 s):
    5 answers, 7 refusals with 429 rate_limited and Retry-After (services/rate_limits.py)."""
    import time

    admin, _ = new_key("admin")
    status, key = call("POST", f"{api_url}/keys", admin, {"role": "worker"})
    assert status == 201
    status, _ = call("PATCH", f"{api_url}/keys/{key['key_id']}", admin,
                     {"limits": {"rate_limit": 0.001, "burst_limit": 5}})
    assert status == 200
    window_ms = 5_000_000
    started = time.time() * 1000

    def get_me(i):
        response = requests.get(f"{api_url}/me", headers={"Authorization": f"Bearer {key['key']}"}, timeout=30)
        return response.status_code, response.headers.get("Retry-After"), response.json()

    results = race(12, get_me)
    if int(started // window_ms) != int(time.time() * 1000 // window_ms):
        pytest.skip("the race straddled two throttle windows (about 1 run in 5,000)")
    assert sorted(status for status, _, _ in results) == [200] * 5 + [429] * 7
    refused = [(after, body) for status, after, body in results if status == 429]
    assert all(int(after) >= 1 and body["error"]["code"] == "rate_limited" for after, body in refused)


# --- Task kinds: a short replay of each kind's dataset (a few tasks; seconds each) ----------
# Tasks replayed per dataset (10 to 20 answers each): the whole set takes ~1.5 min here, on the
# replay worker (xdist_group) whose rte replay ends well before the rest of the suite.
KIND_DATASETS = {"numeric-snow-affect": 2, "text-crowdspeech-dev-clean": 3, "multilabel-crowdtruth-medical": 2,
                 "box-annotationmodeling-multibox": 2, "pairwise-urbano-music": 3, "pairwise-potato-visual": 3}


def aggregate_replay_projects(title: str, stop: threading.Event) -> None:
    """The schedule's stand-in for one replay: runs the aggregator for the replay's project only
    (the other tests' projects in this store are none of its business), once it is asked to."""
    from chalicelib.services import live
    from tests.scheduled import run_aggregator

    while not stop.wait(1.0):
        ids = [p.project_id for p in live.all_projects() if p.title == title
               and (p.aggregation_requested_at or 0) > (p.last_run_at or 0)]
        if ids:
            run_aggregator(*ids)


@pytest.mark.replay
@pytest.mark.xdist_group("replay")
@pytest.mark.parametrize("dataset", list(KIND_DATASETS))
def test_a_short_replay_of_each_kind_loses_nothing(dataset, api_url, datasets_dir, new_key):
    import json

    from tools import replay, replay_kinds

    folder = datasets_dir / dataset
    if not folder.exists():
        pytest.skip(f"{folder} is not present")
    stop = threading.Event()
    schedule = threading.Thread(target=aggregate_replay_projects, args=(f"Replay of {dataset}", stop), daemon=True)
    schedule.start()
    try:
        result = replay.replay(api_url, folder, new_key("admin")[0], gold_fraction=0.25, concurrency=2, seed=1,
                               timeout=60, max_tasks=KIND_DATASETS[dataset])
    finally:
        stop.set()
        schedule.join(timeout=60)
    print("replay:", json.dumps(result))
    kind = replay_kinds.kind_of(folder)
    answers, _ = replay.read_dataset(folder)
    jobs = replay.first_tasks(replay.unique_jobs(answers)[0], KIND_DATASETS[dataset])
    assert result["kind"] == kind and result["tasks"] == KIND_DATASETS[dataset]
    assert (result["sent"], result["acknowledged"], result["published"]) == (len(jobs),) * 3
    assert result["lost"] == 0 and result["failed"] == 0 and not result["timed_out"]
    assert result["scored_tasks"] > 0
    metric = {"number": "mae", "text": "wer", "multiple_choice": "label_accuracy", "boxes": "f1_iou50",
              "pairwise": "kendall_tau_b"}[kind]
    assert result[metric] is not None
    if kind == "pairwise":
        items = {item for _, task, _ in jobs for item in replay.read_pairs(folder)[0][task]}
        assert result["ranked_items"] == len(items)
