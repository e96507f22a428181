"""The worker's side: leases, answers exactly once, releases, expiry, earnings."""
import random
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from chalicelib.models.base import now_ms


def lease_and_answer(api, worker, project_id, answer="cat"):
    status, lease = api.post("/work/next", worker, {"project_id": project_id})
    assert status == 200, lease
    status, receipt = api.post(f"/leases/{lease['lease_id']}/answer", worker, {"answer": answer})
    assert status == 200, receipt
    return lease, receipt


@pytest.fixture
def later(monkeypatch):
    """later(seconds): the work service's clock jumps forward."""
    import chalicelib.services.work as work

    def jump(seconds):
        shifted = now_ms() + seconds * 1000
        monkeypatch.setattr(work, "now_ms", lambda: shifted)

    return jump


def test_no_task_ever_gets_more_answers_than_its_overlap(api, make_project, add_tasks, new_key):
    project_id = make_project(overlap=2)
    add_tasks(project_id, [{"task_id": "only", "payload": {}}])
    workers = [new_key("worker")[0] for _ in range(3)]
    lease_and_answer(api, workers[0], project_id)
    lease_and_answer(api, workers[1], project_id)
    status, body = api.post("/work/next", workers[2], {"project_id": project_id})
    assert status == 404 and body["error"]["code"] == "no_task_available"
    status, body = api.post(f"/projects/{project_id}/tasks/only/lease", workers[2])
    assert status == 409 and body["error"]["code"] == "task_full"


class SameChoices(random.Random):
    """Every worker samples open tasks from the same position and tries them in the same order."""

    def getrandbits(self, k):
        return 0

    def shuffle(self, x):
        pass


def test_workers_who_lose_every_race_sample_again_while_free_tasks_remain(api, make_project, add_tasks,
                                                                       new_key, monkeypatch):
    """Eight workers ask at once for a project with twelve free tasks: all read the same sample
    before any of them leases, then race for its tasks in the same order, so four win and four
    lose every slot they try. Those four must get one of the free tasks left, not a
    no_task_available (which used to tell them to come back in 30 seconds)."""
    from chalicelib.services import open_tasks, work

    count = 8
    project_id = make_project(overlap=1)
    add_tasks(project_id, [{"task_id": f"t{i:02d}", "payload": {}} for i in range(12)])
    keys = [new_key("worker")[0] for _ in range(count)]
    together, sampled = threading.Barrier(count, timeout=30), threading.local()
    sample = open_tasks.sample

    def sample_together(*args, **kwargs):  # each worker's first sample waits for all the others'
        found = sample(*args, **kwargs)
        if not getattr(sampled, "once", False):
            sampled.once = True
            together.wait()
        return found

    monkeypatch.setattr(open_tasks, "sample", sample_together)
    monkeypatch.setattr(work, "rng", SameChoices())
    with ThreadPoolExecutor(count) as pool:
        answers = list(pool.map(lambda key: api.post("/work/next", key, {"project_id": project_id}), keys))
    monkeypatch.setattr(open_tasks, "sample", sample)
    assert [status for status, _ in answers] == [200] * count, [body for _, body in answers]
    assert len({lease["task_id"] for _, lease in answers}) == count  # overlap 1: never a task twice
    status, lease = api.post("/work/next", new_key("worker")[0], {"project_id": project_id})
    assert status == 200 and lease["task_id"] not in {lease["task_id"] for _, lease in answers}


def test_a_worker_never_gets_a_task_it_answered(api, make_project, add_tasks, new_key):
    project_id = make_project(overlap=3)
    add_tasks(project_id, [{"task_id": f"t{i}", "payload": {}} for i in range(3)])
    worker, _ = new_key("worker")
    answered = {lease_and_answer(api, worker, project_id)[0]["task_id"] for _ in range(3)}
    assert answered == {"t0", "t1", "t2"}
    assert api.post("/work/next", worker, {"project_id": project_id})[0] == 404
    status, body = api.post(f"/projects/{project_id}/tasks/t0/lease", worker)
    assert status == 409 and body["error"]["code"] == "already_answered"


def test_asking_again_returns_the_live_lease(api, make_project, add_tasks, new_key):
    project_id = make_project(overlap=1)
    add_tasks(project_id, [{"task_id": "t", "payload": {}}])
    worker, _ = new_key("worker")
    first = api.post(f"/projects/{project_id}/tasks/t/lease", worker)[1]
    again = api.post(f"/projects/{project_id}/tasks/t/lease", worker)[1]
    assert first["lease_id"] == again["lease_id"]


def test_a_retried_answer_returns_the_first_receipt_and_pays_once(api, requester, make_project, add_tasks, new_key):
    project_id = make_project(overlap=1, reward_cents=12)
    add_tasks(project_id, [{"task_id": "t", "payload": {}}])
    worker, _ = new_key("worker")
    lease, receipt = lease_and_answer(api, worker, project_id, answer="cat")
    for answer in ("cat", "dog"):  # a flaky network resends; a confused client changes its mind
        status, again = api.post(f"/leases/{lease['lease_id']}/answer", worker, {"answer": answer})
        assert status == 200 and again == receipt
    status, me = api.get("/me", worker)
    # Counted once, pending until reviewed (tests/test_review.py: paid once on approval).
    assert (me["answers"], me["pending_cents"], me["earned_cents"]) == (1, 12, 0)
    status, progress = api.get(f"/projects/{project_id}/progress", requester)
    assert (progress["answers"], progress["rewards_cents"], progress["tasks_complete"]) == (1, 12, 1)


def test_lease_errors(api, make_project, add_tasks, new_key):
    project_id = make_project(overlap=2)
    add_tasks(project_id, [{"task_id": "t", "payload": {}}])
    worker, _ = new_key("worker")
    other, _ = new_key("worker")
    lease = api.post("/work/next", worker, {"project_id": project_id})[1]
    status, body = api.post(f"/leases/{lease['lease_id']}/answer", other, {"answer": "cat"})
    assert status == 403 and body["error"]["code"] == "lease_not_yours"
    status, body = api.post("/leases/garbage/answer", worker, {"answer": "cat"})
    assert status == 404 and body["error"]["code"] == "lease_not_found"
    status, body = api.post(f"/leases/{lease['lease_id']}/answer", worker, {"answer": "horse"})
    assert status == 400 and body["error"]["code"] == "invalid_answer"
    requester_key, _ = new_key("requester")
    status, body = api.post(f"/leases/{lease['lease_id']}/answer", requester_key, {"answer": "cat"})
    assert status == 403 and body["error"]["code"] == "wrong_role"


def test_release_frees_the_slot_at_once(api, requester, make_project, add_tasks, new_key):
    project_id = make_project(overlap=1)
    add_tasks(project_id, [{"task_id": "t", "payload": {}}])
    first, _ = new_key("worker")
    second, _ = new_key("worker")
    lease = api.post("/work/next", first, {"project_id": project_id})[1]
    assert api.post("/work/next", second, {"project_id": project_id})[0] == 404
    assert api.post(f"/leases/{lease['lease_id']}/release", first)[0] == 200
    assert api.post(f"/leases/{lease['lease_id']}/release", first)[0] == 200  # idempotent
    status, body = api.post(f"/leases/{lease['lease_id']}/answer", first, {"answer": "cat"})
    assert status == 409 and body["error"]["code"] == "lease_returned"
    assert api.post("/work/next", second, {"project_id": project_id})[0] == 200
    status, progress = api.get(f"/projects/{project_id}/progress", requester)
    assert progress["leases_outstanding"] == 1


def test_an_expired_lease_frees_its_slot_and_refuses_a_late_answer(api, make_project, add_tasks, new_key, later):
    project_id = make_project(overlap=1, lease_seconds=60)
    add_tasks(project_id, [{"task_id": "t", "payload": {}}])
    slow, _ = new_key("worker")
    fast, _ = new_key("worker")
    lease = api.post("/work/next", slow, {"project_id": project_id})[1]
    assert api.post("/work/next", fast, {"project_id": project_id})[0] == 404
    later(61)
    status, taken = api.post("/work/next", fast, {"project_id": project_id})
    assert status == 200 and taken["task_id"] == "t"
    status, body = api.post(f"/leases/{lease['lease_id']}/answer", slow, {"answer": "cat"})
    assert status == 409 and body["error"]["code"] == "lease_expired"
    assert api.post(f"/leases/{taken['lease_id']}/answer", fast, {"answer": "cat"})[0] == 200


def test_the_lease_never_reveals_a_gold_answer(api, make_project, add_tasks, new_key):
    project_id = make_project(overlap=1, gold_rate=1)
    add_tasks(project_id, [{"task_id": "g", "payload": {"text": "x"}, "known_answer": "dog"}])
    worker, worker_id = new_key("worker")
    status, lease = api.post("/work/next", worker, {"project_id": project_id})
    assert status == 200 and lease["payload"] == {"text": "x"}
    assert not any("known" in field or "gold" in field for field in lease)
    api.post(f"/leases/{lease['lease_id']}/answer", worker, {"answer": "dog"})
    # The gold score is kept for reliability, but a worker's record never shows it: a counter
    # moving right after an answer would tell the worker that task was gold.
    from chalicelib.models import WorkerStats

    stats = WorkerStats.get(worker_id, project_id)
    assert (stats.gold_answers, stats.gold_correct) == (1, 1)
    status, me = api.get("/me", worker)
    assert status == 200 and not any("gold" in field for field in me)
    assert not any("gold" in field for field in me["projects"][0])
