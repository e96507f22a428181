"""Lease extension and expiry, project expiry, cancelled tasks, batches of answers, history."""
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from chalicelib.auth import Caller
from chalicelib.errors import FouleError
from chalicelib.models import Assignment, Task, WorkerStats
from chalicelib.models.assignments import task_key
from chalicelib.models.base import now_ms
from chalicelib.schemas.work import AnswerIn
from chalicelib.services import counters, lifecycle, work

CLOCKED = ("chalicelib.services.work", "chalicelib.services.lifecycle", "chalicelib.services.gold")


@pytest.fixture
def clock(monkeypatch):
    """clock.shift(seconds) moves the services' clock; clock.local(seconds) only this thread's."""

    class Clock:
        offset_ms = 0
        per_thread = threading.local()

        def now(self):
            return now_ms() + self.offset_ms + getattr(self.per_thread, "offset_ms", 0)

        def shift(self, seconds):
            self.offset_ms = int(seconds * 1000)

        def local(self, ms):
            self.per_thread.offset_ms = ms

    c = Clock()
    for module in CLOCKED:
        monkeypatch.setattr(f"{module}.now_ms", c.now)
    return c


def lease(api, worker, project_id, task_id=None):
    path = f"/projects/{project_id}/tasks/{task_id}/lease" if task_id else "/work/next"
    status, body = api.post(path, worker, None if task_id else {"project_id": project_id})
    assert status == 200, body
    return body


def answer(api, worker, lease_id, label="cat"):
    return api.post(f"/leases/{lease_id}/answer", worker, {"answer": label})


# --- Extension --------------------------------------------------------------------------
def test_a_lease_extended_once_outlives_its_first_expiry(api, make_project, add_tasks, new_key, clock):
    project_id = make_project(overlap=1, lease_seconds=60, max_lease_extension_seconds=120)
    add_tasks(project_id, [{"task_id": "t", "payload": {}}])
    worker, _ = new_key("worker")
    other, _ = new_key("worker")
    held = lease(api, worker, project_id)
    status, body = api.post(f"/leases/{held['lease_id']}/extend", worker, {"seconds": 121})
    assert status == 409 and body["error"]["code"] == "extension_too_long"
    status, extended = api.post(f"/leases/{held['lease_id']}/extend", worker, {})
    assert status == 200 and extended["expires_at"] == held["expires_at"] + 120_000
    status, body = api.post(f"/leases/{held['lease_id']}/extend", worker, {"seconds": 10})
    assert status == 409 and body["error"]["code"] == "already_extended"
    clock.shift(90)  # past the first expiry, inside the extension: the slot is still held
    assert api.post("/work/next", other, {"project_id": project_id})[0] == 404
    assert answer(api, worker, held["lease_id"])[0] == 200


def test_extension_refusals(api, make_project, add_tasks, new_key, clock):
    fixed = make_project(overlap=1)
    add_tasks(fixed, [{"task_id": "t", "payload": {}}])
    worker, _ = new_key("worker")
    held = lease(api, worker, fixed)
    status, body = api.post(f"/leases/{held['lease_id']}/extend", worker, {})
    assert status == 409 and body["error"]["code"] == "extension_not_allowed"
    flexible = make_project(overlap=1, lease_seconds=60, max_lease_extension_seconds=60)
    add_tasks(flexible, [{"task_id": "t", "payload": {}}])
    held = lease(api, worker, flexible)
    status, body = api.post(f"/leases/{held['lease_id']}/extend", new_key("worker")[0], {})
    assert status == 403 and body["error"]["code"] == "lease_not_yours"
    clock.shift(61)
    status, body = api.post(f"/leases/{held['lease_id']}/extend", worker, {})
    assert status == 409 and body["error"]["code"] == "lease_not_live"
    assert body["error"]["details"] == {"state": "expired"}


# --- Project expiry ---------------------------------------------------------------------
def test_an_expired_project_serves_no_work(api, requester, make_project, add_tasks, new_key):
    project_id = make_project(overlap=1, expires_at=now_ms() - 1000)
    add_tasks(project_id, [{"task_id": "t", "payload": {}}])
    worker, _ = new_key("worker")
    status, body = api.post("/work/next", worker, {"project_id": project_id})
    assert status == 409 and body["error"]["code"] == "project_expired"
    status, body = api.post(f"/projects/{project_id}/tasks/t/lease", worker)
    assert status == 409 and body["error"]["code"] == "project_expired"
    status, body = api.patch(f"/projects/{project_id}", requester, {"expires_at": None})
    assert status == 200 and body["expires_at"] is None
    assert lease(api, worker, project_id)["task_id"] == "t"


# --- Cancelled tasks --------------------------------------------------------------------
def test_a_cancelled_task_serves_no_more_work_but_a_live_lease_is_answered(api, requester, make_project,
                                                                            add_tasks, new_key):
    project_id = make_project(overlap=2)
    add_tasks(project_id, [{"task_id": "a", "payload": {}}, {"task_id": "b", "payload": {}}])
    first, _ = new_key("worker")
    second, _ = new_key("worker")
    held = lease(api, first, project_id, "a")
    status, result = api.post(f"/projects/{project_id}/tasks/cancel", requester,
                              {"task_ids": ["a", "a", "nope"]})
    assert status == 200 and result["results"] == [{"task_id": "a", "status": "cancelled"},
                                                   {"task_id": "nope", "status": "not_found"}]
    again = api.post(f"/projects/{project_id}/tasks/cancel", requester, {"task_ids": ["a"]})[1]
    assert again["results"] == [{"task_id": "a", "status": "already_cancelled"}]
    status, body = api.post(f"/projects/{project_id}/tasks/a/lease", second)
    assert status == 409 and body["error"]["code"] == "task_cancelled"
    assert lease(api, second, project_id)["task_id"] == "b"
    assert answer(api, first, held["lease_id"])[0] == 200  # taken in good faith: kept and paid
    detail = api.get(f"/projects/{project_id}/tasks/a", requester)[1]
    assert detail["status"] == "cancelled" and detail["answer_count"] == 1
    progress = api.get(f"/projects/{project_id}/progress", requester)[1]
    assert (progress["tasks_open"], progress["tasks_cancelled"], progress["answers"]) == (1, 1, 1)


def test_only_the_owner_cancels(api, make_project, add_tasks, new_key):
    project_id = make_project()
    add_tasks(project_id, [{"task_id": "a", "payload": {}}])
    stranger, _ = new_key("requester")
    status, body = api.post(f"/projects/{project_id}/tasks/cancel", stranger, {"task_ids": ["a"]})
    assert status == 404 and body["error"]["code"] == "project_not_found"


# --- A batch of answers -----------------------------------------------------------------
def test_a_batch_of_answers_gives_each_its_own_result(api, requester, make_project, add_tasks, new_key, clock):
    project_id = make_project(overlap=1, reward_cents=3, lease_seconds=60)
    add_tasks(project_id, [{"task_id": f"t{i}", "payload": {}} for i in range(4)])
    worker, _ = new_key("worker")
    leases = [lease(api, worker, project_id, f"t{i}")["lease_id"] for i in range(3)]
    assert answer(api, worker, leases[0])[0] == 200  # sent before the subway
    items = [{"lease_id": leases[0], "answer": "cat"}, {"lease_id": leases[1], "answer": "dog"},
             {"lease_id": leases[2], "answer": "horse"}, {"lease_id": "bogus", "answer": "cat"}]
    status, result = api.post("/answers", worker, {"answers": items})
    assert status == 200 and (result["submitted"], result["failed"]) == (2, 2)
    assert [r["status"] for r in result["results"]] == ["submitted", "submitted", "error", "error"]
    assert result["results"][2]["error"]["code"] == "invalid_answer"
    assert result["results"][3]["error"]["code"] == "lease_not_found"
    status, again = api.post("/answers", worker, {"answers": items[:2]})  # the whole batch retried
    assert [r["receipt"] for r in again["results"]] == [r["receipt"] for r in result["results"][:2]]
    progress = api.get(f"/projects/{project_id}/progress", requester)[1]
    assert (progress["answers"], progress["rewards_cents"]) == (2, 6)


def test_a_batch_is_bounded(api, new_key):
    worker, _ = new_key("worker")
    status, body = api.post("/answers", worker, {"answers": [{"lease_id": "x", "answer": "cat"}] * 51})
    assert status == 400 and body["error"]["code"] == "validation_error"


# --- History ----------------------------------------------------------------------------
def test_a_worker_pages_through_its_assignments_newest_first_with_state(api, make_project, add_tasks,
                                                                        new_key, clock):
    project_id = make_project(overlap=1, lease_seconds=60)
    add_tasks(project_id, [{"task_id": f"t{i}", "payload": {}} for i in range(4)])
    worker, _ = new_key("worker")
    held = []
    for i in range(4):
        held.append(lease(api, worker, project_id, f"t{i}"))
        time.sleep(0.002)  # distinct lease times
    answer(api, worker, held[0]["lease_id"])
    api.post(f"/leases/{held[1]['lease_id']}/release", worker)
    clock.shift(61)  # t2 and t3 lapse; t2 is swept, t3 is derived
    project = work.projects.get(project_id)
    lifecycle.sweep_project(project, time.monotonic() + 30)
    status, first = api.get("/me/assignments?limit=2", worker)
    status, second = api.get(f"/me/assignments?limit=2&cursor={first['next_cursor']}", worker)
    items = first["items"] + second["items"]
    assert [(i["task_id"], i["state"]) for i in items] == [
        ("t3", "expired"), ("t2", "expired"), ("t1", "returned"), ("t0", "submitted")]
    assert items[3]["answer"] == "cat" and items[3]["reward_cents"] == 5
    other, _ = new_key("worker")
    status, body = api.get(f"/me/assignments?cursor={first['next_cursor']}", other)
    assert status == 400 and body["error"]["code"] == "invalid_cursor"


# --- The expiry sweep -------------------------------------------------------------------
def test_the_sweep_expires_lapsed_leases_and_frees_their_slots(api, requester, make_project, add_tasks,
                                                               new_key, clock):
    project_id = make_project(overlap=2, lease_seconds=60)
    add_tasks(project_id, [{"task_id": "t", "payload": {}}])
    slow, slow_id = new_key("worker")
    quick, _ = new_key("worker")
    lapsing = lease(api, slow, project_id)
    answered = lease(api, quick, project_id)
    answer(api, quick, answered["lease_id"])
    clock.shift(61)
    project = work.projects.get(project_id)
    assert lifecycle.sweep_project(project, time.monotonic() + 30) == 1
    assert lifecycle.sweep_project(project, time.monotonic() + 30) == 0  # nothing twice
    task = Task.get(project_id, "t", consistent_read=True)
    assert list(work.slots(task)[0].values()) == [2**53]  # the answer's slot stays
    assignment = Assignment.get(task_key(project_id, "t"), slow_id, consistent_read=True)
    assert assignment.state == "expired"
    assert WorkerStats.get(slow_id, project_id, consistent_read=True).skipped_in_row == 1
    status, body = answer(api, slow, lapsing["lease_id"])
    assert status == 409 and body["error"]["code"] == "lease_expired"
    assert counters.totals(project_id)["leases_expired"] == 1
    assert api.get(f"/projects/{project_id}/progress", requester)[1]["leases_outstanding"] == 0
    # The slot is free: the slow worker may lease the task again, and it counts once more.
    assert lease(api, slow, project_id)["task_id"] == "t"


# --- Races over real concurrency --------------------------------------------------------
def test_an_answer_arriving_as_its_lease_expires_and_a_new_lease_exactly_one_wins(make_project, add_tasks,
                                                                                    new_key, clock):
    for attempt in range(4):
        project_id = make_project(overlap=1, lease_seconds=60)
        add_tasks(project_id, [{"task_id": "t", "payload": {}}])
        slow = Caller("worker", new_key("worker")[1])
        fast = Caller("worker", new_key("worker")[1])
        held = work.lease_task(slow, project_id, "t")
        barrier = threading.Barrier(2)

        def answer_at_expiry():
            clock.local(held.expires_at - now_ms())  # this thread: exactly the expiry instant
            barrier.wait()
            return work.submit(slow, held.lease_id, AnswerIn(answer="cat"))

        def lease_just_after():
            clock.local(held.expires_at - now_ms() + 1)  # this thread: one millisecond later
            barrier.wait()
            return work.lease_task(fast, project_id, "t")

        with ThreadPoolExecutor(2) as pool:
            futures = [pool.submit(answer_at_expiry), pool.submit(lease_just_after)]
            outcomes = []
            for future in futures:
                try:
                    outcomes.append(future.result())
                except FouleError as error:
                    outcomes.append(error.code)
        assert sum(not isinstance(o, str) for o in outcomes) == 1, outcomes
        task = Task.get(project_id, "t", consistent_read=True)
        assert int(task.answer_count) + (outcomes[1] != "task_full") == 1


def test_threads_racing_for_the_last_slot_in_process(make_project, add_tasks, new_key):
    project_id = make_project(overlap=2)
    add_tasks(project_id, [{"task_id": "t", "payload": {}}])
    work.submit(first := Caller("worker", new_key("worker")[1]),
                work.lease_task(first, project_id, "t").lease_id, AnswerIn(answer="cat"))
    callers = [Caller("worker", new_key("worker")[1]) for _ in range(8)]
    barrier = threading.Barrier(len(callers))

    def grab(caller):
        barrier.wait()
        try:
            return work.lease_task(caller, project_id, "t")
        except FouleError as error:
            return error.code

    with ThreadPoolExecutor(len(callers)) as pool:
        outcomes = list(pool.map(grab, callers))
    assert sum(not isinstance(o, str) for o in outcomes) == 1
    assert sorted(o for o in outcomes if isinstance(o, str)) == ["task_full"] * 7


def test_an_answer_racing_the_expiry_sweep_is_either_kept_or_refused_never_half(make_project, add_tasks,
                                                                                  new_key, clock):
    for _ in range(3):
        project_id = make_project(overlap=1, lease_seconds=60)
        add_tasks(project_id, [{"task_id": "t", "payload": {}}])
        slow = Caller("worker", new_key("worker")[1])
        held = work.lease_task(slow, project_id, "t")
        project = work.projects.get(project_id)
        barrier = threading.Barrier(2)

        def answer_at_expiry():
            clock.local(held.expires_at - now_ms())
            barrier.wait()
            return work.submit(slow, held.lease_id, AnswerIn(answer="cat")).state

        def sweep_just_after():
            clock.local(held.expires_at - now_ms() + 1)
            barrier.wait()
            return lifecycle.sweep_project(project, time.monotonic() + 30)

        with ThreadPoolExecutor(2) as pool:
            answered, swept = pool.submit(answer_at_expiry), pool.submit(sweep_just_after)
            try:
                outcome = answered.result()
            except FouleError as error:
                outcome = error.code
            expired = swept.result()
        assignment = Assignment.get(task_key(project_id, "t"), slow.owner_id, consistent_read=True)
        task = Task.get(project_id, "t", consistent_read=True)
        if outcome == "submitted":
            assert (expired, assignment.state, int(task.answer_count)) == (0, "submitted", 1)
        else:
            assert outcome == "lease_expired"
            assert (expired, assignment.state, int(task.answer_count), work.slots(task)[0]) == (1, "expired", 0, {})


def test_a_lowered_overlap_counts_live_leases_beyond_it(api, requester, make_project, add_tasks, new_key):
    from chalicelib.services import overlap

    project_id = make_project(overlap=3)
    add_tasks(project_id, [{"task_id": "t", "payload": {}}])
    holders = [Caller("worker", new_key("worker")[1]) for _ in range(3)]
    leases = [work.lease_task(w, project_id, "t") for w in holders]
    work.release(holders[0], leases[0].lease_id)  # slot 0 free; slots 1 and 2 still held
    api.patch(f"/projects/{project_id}", requester, {"overlap": 2})
    overlap.sync_project(work.projects.get(project_id), time.monotonic() + 30)
    status, body = api.post(f"/projects/{project_id}/tasks/t/lease", new_key("worker")[0])
    assert status == 409 and body["error"]["code"] == "task_full"  # two live leases: enough for 2


def test_the_scheduled_function_runs_the_work_passes(api, requester, make_project, add_tasks, new_key, clock,
                                                     monkeypatch):
    from chalicelib.models import Project
    from chalicelib.services import housekeeping

    project_id = make_project(overlap=1, lease_seconds=60)
    add_tasks(project_id, [{"task_id": f"t{i}", "payload": {}} for i in range(2)])
    worker, _ = new_key("worker")
    answer(api, worker, lease(api, worker, project_id, "t0")["lease_id"])
    lease(api, worker, project_id, "t1")
    api.patch(f"/projects/{project_id}", requester, {"overlap": 2})
    # Only this project: the shared test store holds every other test's live projects.
    monkeypatch.setattr(housekeeping, "_live_projects", lambda: [Project.get(project_id, consistent_read=True)])
    monkeypatch.setattr("chalicelib.services.aggregator.run_due_projects", lambda time_budget_seconds: [])
    clock.shift(61)
    summaries = housekeeping.run(time_budget_seconds=60)
    assert summaries["overlap_sync"] == {"projects_synced": 1, "projects_pending": 0}
    assert summaries["lease_expiry"] == {"leases_expired": 1}
    progress = api.get(f"/projects/{project_id}/progress", requester)[1]
    assert (progress["tasks_open"], progress["tasks_complete"], progress["leases_outstanding"]) == (2, 0, 0)


def test_the_sweep_expires_lapsed_gold_leases_too(api, make_project, add_tasks, new_key, clock):
    project_id = make_project(overlap=1, lease_seconds=60, gold_rate=1)
    add_tasks(project_id, [{"task_id": f"g{i}", "payload": {}, "known_answer": "cat"} for i in range(3)])
    lapsing_worker, lapsing_id = new_key("worker")
    answering_worker, _ = new_key("worker")
    returning_worker, _ = new_key("worker")
    lapsing = lease(api, lapsing_worker, project_id)
    answer(api, answering_worker, lease(api, answering_worker, project_id)["lease_id"])
    api.post(f"/leases/{lease(api, returning_worker, project_id)['lease_id']}/release", returning_worker)
    clock.shift(61)
    project = work.projects.get(project_id)
    assert lifecycle.sweep_project(project, time.monotonic() + 30) == 1  # only the lapsed one
    assert lifecycle.sweep_project(project, time.monotonic() + 30) == 0
    assignment = Assignment.get(task_key(project_id, lapsing["task_id"]), lapsing_id, consistent_read=True)
    assert assignment.state == "expired" and assignment.live_gold is None
    assert WorkerStats.get(lapsing_id, project_id, consistent_read=True).skipped_in_row == 1
    status, body = answer(api, lapsing_worker, lapsing["lease_id"])
    assert status == 409 and body["error"]["code"] == "lease_expired"
    assert api.post("/work/next", lapsing_worker, {"project_id": project_id})[1]["task_id"] != lapsing["task_id"]


def test_gold_leases_and_lapsed_leases_keep_the_budget_exact(api, requester, make_project, add_tasks, new_key,
                                                             clock):
    project_id = make_project(overlap=1, reward_cents=5, budget_cents=5, lease_seconds=60, gold_rate=1)
    add_tasks(project_id, [{"task_id": "g", "payload": {}, "known_answer": "cat"}, {"task_id": "t", "payload": {}}])
    remaining = lambda: api.get(f"/projects/{project_id}", requester)[1]["budget_remaining_cents"]  # noqa: E731
    first, _ = new_key("worker")
    second, _ = new_key("worker")
    held = lease(api, first, project_id, "g")  # a gold lease reserves the reward like any other
    assert remaining() == 0
    status, body = api.post(f"/projects/{project_id}/tasks/g/lease", second)
    assert status == 409 and body["error"]["code"] == "budget_exhausted"
    api.post(f"/leases/{held['lease_id']}/release", first)
    assert remaining() == 5
    lapsing = lease(api, second, project_id, "t")
    clock.shift(61)
    assert lifecycle.sweep_project(work.projects.get(project_id), time.monotonic() + 30) == 1
    assert remaining() == 5  # the lapsed lease's reservation came back with its slot
    assert answer(api, second, lapsing["lease_id"])[1]["error"]["code"] == "lease_expired"
    assert lease(api, first, project_id, "t")["task_id"] == "t" and remaining() == 0
