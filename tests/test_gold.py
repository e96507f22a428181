"""Gold mixed into a worker's stream, qualification, and the gates of the lease path."""
import threading
from concurrent.futures import ThreadPoolExecutor


from chalicelib.auth import Caller
from chalicelib.errors import FouleError
from chalicelib.models import Project, Task, WorkerStats
from chalicelib.models.base import now_ms
from chalicelib.services import gates, live, work


def real(n, prefix="t"):
    return [{"task_id": f"{prefix}{i:03d}", "payload": {"i": i}} for i in range(n)]


def golds(n, answer="cat"):
    return [{"task_id": f"g{i:03d}", "payload": {"g": i}, "known_answer": answer} for i in range(n)]


def take(api, worker, project_id, answer="cat"):
    """Lease the next task and answer it; the leased task id."""
    status, lease = api.post("/work/next", worker, {"project_id": project_id})
    assert status == 200, lease
    status, receipt = api.post(f"/leases/{lease['lease_id']}/answer", worker, {"answer": answer})
    assert status == 200, receipt
    return lease["task_id"]


def race(n, action):
    barrier = threading.Barrier(n)

    def run(i):
        barrier.wait()
        try:
            return action(i)
        except FouleError as error:
            return error.code

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(run, range(n)))


def test_gold_is_one_task_in_ten_at_a_rate_of_a_tenth(api, make_project, add_tasks, new_key):
    project_id = make_project(overlap=1, gold_rate=0.1)
    add_tasks(project_id, real(40) + golds(6))
    worker, _ = new_key("worker")
    served = [take(api, worker, project_id) for _ in range(40)]
    gold_served = [t for t in served if t.startswith("g")]
    # Exactly one gold per block of ten leases, never the same twice.
    assert [sum(t.startswith("g") for t in served[b * 10:(b + 1) * 10]) for b in range(4)] == [1, 1, 1, 1]
    assert len(set(gold_served)) == 4


def test_gold_positions_differ_between_workers():
    positions = {gates.gold_position(f"w{i}", "p", 0, 10) for i in range(50)}
    assert len(positions) > 5  # not always the tenth task: a worker cannot count its way to gold


def test_a_gold_task_serves_any_number_of_workers_but_each_once(api, requester, make_project, add_tasks, new_key):
    project_id = make_project(overlap=1, gold_rate=1)
    add_tasks(project_id, golds(1))
    workers = [new_key("worker")[0] for _ in range(4)]
    assert [take(api, w, project_id) for w in workers] == ["g000"] * 4  # overlap 1 does not limit gold
    assert api.post("/work/next", workers[0], {"project_id": project_id})[0] == 404
    status, body = api.post(f"/projects/{project_id}/tasks/g000/lease", workers[0])
    assert status == 409 and body["error"]["code"] == "already_answered"
    status, detail = api.get(f"/projects/{project_id}/tasks/g000", requester)
    assert detail["status"] == "open" and detail["answer_count"] == 4 and len(detail["answers"]) == 4
    api.post("/work/next", new_key("worker")[0], {"project_id": project_id})  # a gold lease, held
    status, progress = api.get(f"/projects/{project_id}/progress", requester)
    assert (progress["tasks_open"], progress["tasks_complete"], progress["answers"]) == (0, 0, 4)
    assert progress["leases_outstanding"] == 0  # gold leases hold no slot: never outstanding work


def test_a_returned_gold_task_is_not_served_again(api, make_project, add_tasks, new_key):
    project_id = make_project(overlap=1, gold_rate=1)
    add_tasks(project_id, golds(2))
    worker, _ = new_key("worker")
    lease = api.post("/work/next", worker, {"project_id": project_id})[1]
    assert api.post(f"/leases/{lease['lease_id']}/release", worker)[1]["state"] == "returned"
    again = api.post("/work/next", worker, {"project_id": project_id})[1]
    assert again["task_id"] != lease["task_id"]


def test_gold_is_never_served_twice_to_a_worker_asking_concurrently(api, make_project, add_tasks, new_key):
    project_id = make_project(overlap=1, gold_rate=1)
    add_tasks(project_id, golds(3))
    _, worker_id = new_key("worker")
    caller = Caller("worker", worker_id)
    results = race(8, lambda _: work.next_lease(caller, project_id))
    leases = [r for r in results if not isinstance(r, str)]
    assert sorted(lease.task_id for lease in leases) == ["g000", "g001", "g002"]
    assert [r for r in results if isinstance(r, str)] == ["no_task_available"] * 5
    stats = WorkerStats.get(worker_id, project_id, consistent_read=True)
    assert (stats.served, stats.gold_served) == (3, 3)


def test_qualification_serves_only_gold_then_admits(api, make_project, add_tasks, new_key):
    project_id = make_project(overlap=1, gold_rate=0.1, qualification={"gold_tasks": 2, "min_accuracy": 0.5})
    add_tasks(project_id, real(3) + golds(3))
    worker, _ = new_key("worker")
    status, body = api.post(f"/projects/{project_id}/tasks/t000/lease", worker)
    assert status == 403 and body["error"]["code"] == "qualification_pending"
    assert body["error"]["details"] == {"answered": 0, "required": 2}
    # A gold task named by its id is refused the same way: no task id probes which is gold.
    status, body = api.post(f"/projects/{project_id}/tasks/g002/lease", worker)
    assert status == 403 and body["error"]["code"] == "qualification_pending"
    served = [take(api, worker, project_id, answer) for answer in ("cat", "dog")]
    assert len(set(served)) == 2 and all(t.startswith("g") for t in served)
    assert take(api, worker, project_id).startswith("t")  # 1 of 2 right: 0.5 is enough


def test_failed_qualification_is_a_403(api, make_project, add_tasks, new_key, monkeypatch):
    project_id = make_project(overlap=1, qualification={"gold_tasks": 2, "min_accuracy": 0.75})
    add_tasks(project_id, real(3) + golds(3))
    other_id = make_project(overlap=1)
    add_tasks(other_id, real(1))
    worker, _ = new_key("worker")
    take(api, worker, project_id, "cat")
    take(api, worker, project_id, "dog")
    for path, body in (("/work/next", {"project_id": project_id}), (f"/projects/{project_id}/tasks/t000/lease", None)):
        status, error = api.post(path, worker, body)
        assert status == 403 and error["error"]["code"] == "qualification_failed", error
        assert error["error"]["details"] == {"accuracy": 0.5, "min_accuracy": 0.75}
    # Asked without a project, the worker is simply not served this one. The live projects'
    # window is pinned to these two: the suite's other live projects would make it a lottery.
    both = [Project.get(project_id), Project.get(other_id)]
    monkeypatch.setattr(live, "window", lambda rng: list(both))
    status, lease = api.post("/work/next", worker, {})
    assert status == 200 and lease["project_id"] == other_id, lease
    monkeypatch.setattr(live, "window", lambda rng: both[:1])
    status, error = api.post("/work/next", worker, {})
    assert status == 404 and error["error"]["code"] == "no_task_available", error


def test_gold_after_qualification_never_turns_into_a_qualification_403(api, make_project, add_tasks, new_key):
    """Judged again after each later gold answer, a 403 right after an answer would tell the
    worker that this answer was gold, and wrong."""
    project_id = make_project(overlap=1, gold_rate=0.5, qualification={"gold_tasks": 2, "min_accuracy": 0.5})
    add_tasks(project_id, real(3) + golds(4))
    worker, worker_id = new_key("worker")
    take(api, worker, project_id, "cat")
    take(api, worker, project_id, "dog")  # 1 of 2: qualified
    take(api, worker, project_id)
    set_stats(worker_id, project_id, gold_answers=12, gold_correct=1)  # then mixed gold, mostly wrong
    status, lease = api.post("/work/next", worker, {"project_id": project_id})
    assert status == 200, lease


def test_qualification_without_gold_left_is_no_task_not_real_work(api, make_project, add_tasks, new_key):
    project_id = make_project(overlap=1, qualification={"gold_tasks": 2, "min_accuracy": 0.5})
    add_tasks(project_id, real(3) + golds(1))
    worker, _ = new_key("worker")
    take(api, worker, project_id)
    status, body = api.post("/work/next", worker, {"project_id": project_id})
    assert status == 404 and body["error"]["code"] == "no_task_available"


def set_stats(worker_id, project_id, **values):
    WorkerStats(worker_id, project_id).update(
        actions=[getattr(WorkerStats, name).set(value) for name, value in values.items()])


def test_a_blocked_worker_gets_a_403_with_reason_and_until(api, make_project, add_tasks, new_key):
    project_id = make_project(overlap=1)
    add_tasks(project_id, real(2))
    worker, worker_id = new_key("worker")
    until = now_ms() + 3_600_000
    set_stats(worker_id, project_id, blocked_until=until, block_reason="rule:gold_accuracy")
    for path, body in (("/work/next", {"project_id": project_id}), (f"/projects/{project_id}/tasks/t000/lease", None)):
        status, error = api.post(path, worker, body)
        assert status == 403 and error["error"]["code"] == "worker_blocked"
        assert error["error"]["details"] == {"reason": "rule:gold_accuracy", "until": until}
    set_stats(worker_id, project_id, blocked_until=now_ms() - 1)  # the block has run out
    assert api.post("/work/next", worker, {"project_id": project_id})[0] == 200


def test_min_reliability_applies_once_reliability_is_known(api, make_project, add_tasks, new_key):
    project_id = make_project(overlap=1, min_reliability=0.7)
    add_tasks(project_id, real(2))
    worker, worker_id = new_key("worker")
    assert api.post("/work/next", worker, {"project_id": project_id})[0] == 200  # unknown: served
    set_stats(worker_id, project_id, reliability=0.6)
    status, error = api.post("/work/next", worker, {"project_id": project_id})
    assert status == 403 and error["error"]["code"] == "reliability_too_low"
    set_stats(worker_id, project_id, reliability=0.8)
    assert api.post("/work/next", worker, {"project_id": project_id})[0] == 200


def test_gold_answers_feed_the_worker_record_and_the_lease_looks_the_same(api, make_project, add_tasks, new_key):
    project_id = make_project(overlap=1, gold_rate=0.5)
    add_tasks(project_id, real(4) + golds(4))
    worker, worker_id = new_key("worker")
    leases = []
    for _ in range(4):
        lease = api.post("/work/next", worker, {"project_id": project_id})[1]
        api.post(f"/leases/{lease['lease_id']}/answer", worker, {"answer": "cat"})
        leases.append(lease)
    assert {tuple(sorted(lease)) for lease in leases} == {tuple(sorted(leases[0]))}
    stats = WorkerStats.get(worker_id, project_id, consistent_read=True)
    gold_count = sum(lease["task_id"].startswith("g") for lease in leases)
    assert gold_count == 2 and (stats.gold_answers, stats.gold_correct) == (2, 2)


def test_a_gold_task_item_is_shaped_as_a_real_ones_and_names_no_worker(api, make_project, add_tasks, new_key):
    """A worker can time what the store reads and writes: a gold task's item carries slot
    entries of the same keys and sizes as a real task's, through leases, returns and answers
    (services/gold), and none of them names a worker."""
    project_id = make_project(overlap=2, max_lease_extension_seconds=60)
    add_tasks(project_id, real(1) + golds(1))
    workers = [new_key("worker") for _ in range(3)]

    def lease(key, task_id):
        status, body = api.post(f"/projects/{project_id}/tasks/{task_id}/lease", key)
        assert status == 200, body
        return body["lease_id"]

    def shape(task_id):  # slot -> the lengths of its expiry, lease id and worker id
        expiry, lease_ids, holders = work.slots(Task.get(project_id, task_id, consistent_read=True))
        return {slot: (len(str(expiry.get(slot))), len(lease_ids.get(slot, "")), len(holders.get(slot, "")))
                for slot in expiry.keys() | lease_ids.keys() | holders.keys()}

    both = ("t000", "g000")
    for key, _ in workers[:2]:  # the same steps on both tasks, their items compared after each
        first = [lease(key, task_id) for task_id in both]
        assert shape("g000") == shape("t000")
        assert [api.post(f"/leases/{lease_id}/extend", key, {"seconds": 30})[0] for lease_id in first] == [200] * 2
        assert shape("g000") == shape("t000")
        assert [api.post(f"/leases/{lease_id}/release", key)[0] for lease_id in first] == [200] * 2
        assert shape("g000") == shape("t000")
        second = [lease(key, task_id) for task_id in both]
        assert [api.post(f"/leases/{lease_id}/answer", key, {"answer": "cat"})[0] for lease_id in second] == [200] * 2
        assert shape("g000") == shape("t000")
    assert len(shape("g000")) == 2
    worker_ids = {owner for _, owner in workers}
    task = Task.get(project_id, "g000", consistent_read=True)
    assert not worker_ids & set(work.slots(task)[2].values())
    # Gold has no slot limit: a third worker is served, and its entries start over (as a real
    # task's slots fill once and it leaves the open index).
    lease(workers[2][0], "g000")
    assert len(shape("g000")) == 1
    assert api.post(f"/projects/{project_id}/tasks/t000/lease", workers[2][0])[0] == 409


def test_work_settings_are_shown_and_changed_by_patch(api, requester, make_project):
    project_id = make_project(gold_rate=0.2, min_reliability=0.6, max_lease_extension_seconds=30,
                              qualification={"gold_tasks": 3, "min_accuracy": 0.8})
    project = api.get(f"/projects/{project_id}", requester)[1]
    assert (project["gold_rate"], project["min_reliability"], project["max_lease_extension_seconds"],
            project["qualification"], project["adaptive_overlap"], project["expires_at"]) == \
        (0.2, 0.6, 30, {"gold_tasks": 3, "min_accuracy": 0.8}, None, None)
    status, patched = api.patch(f"/projects/{project_id}", requester,
                                {"gold_rate": 0, "min_reliability": None, "expires_at": 4_000_000_000_000})
    assert status == 200
    assert (patched["gold_rate"], patched["min_reliability"], patched["expires_at"]) == (0, None, 4_000_000_000_000)
    assert api.get(f"/projects/{project_id}", requester)[1]["min_reliability"] is None
    status, body = api.patch(f"/projects/{project_id}", requester, {"gold_rate": 2})
    assert status == 400 and body["error"]["code"] == "validation_error"
