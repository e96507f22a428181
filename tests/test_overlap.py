"""Overlap per task: project overlap changed mid-way, and adaptive overlap after aggregation."""
import itertools
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from chalicelib.auth import Caller
from chalicelib.models import Project, Task
from chalicelib.schemas.work import AnswerIn
from chalicelib.services import counters, overlap, work


def worker(new_key):
    return Caller("worker", new_key("worker")[1])


def sync(project_id, **kw):
    return overlap.sync_project(Project.get(project_id, consistent_read=True), time.monotonic() + 60, **kw)


def task_state(project_id, task_id):
    task = Task.get(project_id, task_id, consistent_read=True)
    return int(task.overlap), int(task.answer_count), bool(task.open_project)


def test_overlap_lowered_while_leases_are_live_loses_no_answer(api, requester, make_project, add_tasks, new_key):
    project_id = make_project(overlap=3)
    add_tasks(project_id, [{"task_id": "t", "payload": {}}])
    workers = [worker(new_key) for _ in range(3)]
    leases = [work.lease_task(w, project_id, "t") for w in workers]
    work.submit(workers[0], leases[0].lease_id, AnswerIn(answer="cat"))
    status, body = api.patch(f"/projects/{project_id}", requester, {"overlap": 1})
    assert status == 200 and body["overlap"] == 1
    assert sync(project_id) is True
    assert task_state(project_id, "t") == (1, 1, False)  # complete at once: it has its one answer
    # The leases on slots beyond the new overlap are still answerable, and counted.
    for w, lease in zip(workers[1:], leases[1:]):
        work.submit(w, lease.lease_id, AnswerIn(answer="dog"))
    assert task_state(project_id, "t") == (1, 3, False)
    progress = api.get(f"/projects/{project_id}/progress", requester)[1]
    assert (progress["answers"], progress["tasks_complete"], progress["tasks_open"]) == (3, 1, 0)
    assert Project.get(project_id, consistent_read=True).overlap_sync is None


def test_overlap_raised_reopens_complete_tasks(api, requester, make_project, add_tasks, new_key):
    project_id = make_project(overlap=1)
    add_tasks(project_id, [{"task_id": f"t{i}", "payload": {}} for i in range(2)])
    first = worker(new_key)
    for task_id in ("t0", "t1"):
        work.submit(first, work.lease_task(first, project_id, task_id).lease_id, AnswerIn(answer="cat"))
    assert api.get(f"/projects/{project_id}/progress", requester)[1]["tasks_complete"] == 2
    api.patch(f"/projects/{project_id}", requester, {"overlap": 2})
    second = worker(new_key)
    assert api.post("/work/next", new_key("worker")[0], {"project_id": project_id})[0] == 404  # not yet synced
    sync(project_id)
    assert [task_state(project_id, t) for t in ("t0", "t1")] == [(2, 1, True), (2, 1, True)]
    progress = api.get(f"/projects/{project_id}/progress", requester)[1]
    assert (progress["tasks_open"], progress["tasks_complete"]) == (2, 0)
    lease = work.next_lease(second, project_id)
    work.submit(second, lease.lease_id, AnswerIn(answer="cat"))
    assert task_state(project_id, lease.task_id) == (2, 2, False)
    assert api.get(f"/projects/{project_id}/progress", requester)[1]["tasks_complete"] == 1


def test_the_sync_is_bounded_and_resumes_from_its_cursor(api, requester, make_project, add_tasks, new_key,
                                                         monkeypatch):
    project_id = make_project(overlap=1)
    add_tasks(project_id, [{"task_id": f"t{i}", "payload": {}} for i in range(3)])
    api.patch(f"/projects/{project_id}", requester, {"overlap": 2})
    ticks = itertools.count()
    monkeypatch.setattr(overlap, "monotonic", lambda: next(ticks))
    assert overlap.sync_project(Project.get(project_id, consistent_read=True), 1, page_size=1) is False
    assert [task_state(project_id, f"t{i}")[0] for i in range(3)] == [2, 1, 1]
    assert Project.get(project_id, consistent_read=True).overlap_sync["cursor"] is not None
    assert overlap.sync_project(Project.get(project_id, consistent_read=True), 10**9, page_size=1) is True
    assert [task_state(project_id, f"t{i}")[0] for i in range(3)] == [2, 2, 2]


def test_a_change_during_the_walk_restarts_it(api, requester, make_project, add_tasks):
    project_id = make_project(overlap=1)
    add_tasks(project_id, [{"task_id": f"t{i}", "payload": {}} for i in range(2)])
    api.patch(f"/projects/{project_id}", requester, {"overlap": 2})
    stale = Project.get(project_id, consistent_read=True)
    api.patch(f"/projects/{project_id}", requester, {"overlap": 3})
    assert overlap.sync_project(stale, time.monotonic() + 60) is False  # carried 2: not the overlap now
    assert sync(project_id) is True
    assert [task_state(project_id, f"t{i}")[0] for i in range(2)] == [3, 3]


def test_overlap_of_an_adaptive_project_is_not_patched(api, requester, make_project):
    project_id = make_project(adaptive_overlap={"min_overlap": 2, "max_overlap": 5, "target_confidence": 0.9})
    status, body = api.patch(f"/projects/{project_id}", requester, {"overlap": 3})
    assert status == 409 and body["error"]["code"] == "overlap_is_adaptive"
    status, body = api.post("/projects", requester, {
        "title": "x", "answer_type": {"kind": "single_choice", "labels": ["a", "b"]},
        "adaptive_overlap": {"min_overlap": 3, "max_overlap": 2, "target_confidence": 0.9}})
    assert status == 400 and body["error"]["code"] == "validation_error"


def test_lowering_overlap_while_answers_race_in(api, requester, make_project, add_tasks, new_key):
    project_id = make_project(overlap=4)
    add_tasks(project_id, [{"task_id": f"t{i}", "payload": {}} for i in range(3)])
    held = []
    for task_id in ("t0", "t1", "t2"):
        for _ in range(3):
            w = worker(new_key)
            held.append((w, work.lease_task(w, project_id, task_id)))
    api.patch(f"/projects/{project_id}", requester, {"overlap": 2})
    barrier = threading.Barrier(len(held) + 1)

    def answer(item):
        barrier.wait()
        w, lease = item
        return work.submit(w, lease.lease_id, AnswerIn(answer="cat")).state

    def lower():
        barrier.wait()
        return sync(project_id, page_size=1)

    with ThreadPoolExecutor(len(held) + 1) as pool:
        answered = [f for f in [pool.submit(answer, item) for item in held]]
        lowered = pool.submit(lower)
        states = [f.result() for f in answered]
    assert states == ["submitted"] * 9 and lowered.result() is True
    assert [task_state(project_id, f"t{i}") for i in range(3)] == [(2, 3, False)] * 3
    assert counters.totals(project_id)["tasks_complete"] == 3  # each counted once


# --- Adaptive overlap -------------------------------------------------------------------
ADAPTIVE = {"min_overlap": 1, "max_overlap": 3, "target_confidence": 0.9}


def test_adaptive_overlap_completes_confident_tasks_and_extends_the_others(requester, api, make_project,
                                                                          add_tasks, new_key):
    project_id = make_project(adaptive_overlap=ADAPTIVE)
    add_tasks(project_id, [{"task_id": t, "payload": {}} for t in ("sure", "unsure", "waiting")]
              + [{"task_id": "g", "payload": {}, "known_answer": "cat"}])
    assert [task_state(project_id, t)[0] for t in ("sure", "unsure")] == [1, 1]  # start at min_overlap
    w = worker(new_key)
    for task_id in ("sure", "unsure"):
        work.submit(w, work.lease_task(w, project_id, task_id).lease_id, AnswerIn(answer="cat"))
    project = Project.get(project_id)
    rows = [{"task_id": "sure", "confidence": 0.95, "answer_count": 1, "gold": False},
            {"task_id": "unsure", "confidence": 0.6, "answer_count": 1, "gold": False},
            {"task_id": "g", "confidence": 0.5, "answer_count": 1, "gold": True}]
    assert overlap.after_run(project, rows) == {"completed": 0, "raised": 1}  # "sure" completed on answer
    assert task_state(project_id, "sure") == (1, 1, False)
    assert task_state(project_id, "unsure") == (2, 1, True)  # one more answer wanted
    assert overlap.after_run(project, rows) == {"completed": 0, "raised": 0}  # collecting: no change
    for _ in range(2):  # still unsure after each answer: raised up to max_overlap, never beyond
        other = worker(new_key)
        work.submit(other, work.lease_task(other, project_id, "unsure").lease_id, AnswerIn(answer="dog"))
        count = task_state(project_id, "unsure")[1]
        overlap.after_run(project, [{**rows[1], "answer_count": count}])
    assert task_state(project_id, "unsure") == (3, 3, False)
    assert counters.totals(project_id)["tasks_complete"] == 2


def test_adaptive_overlap_stops_a_task_early_once_confident(make_project, add_tasks, new_key):
    project_id = make_project(adaptive_overlap={"min_overlap": 2, "max_overlap": 5, "target_confidence": 0.8})
    add_tasks(project_id, [{"task_id": "t", "payload": {}}])
    project = Project.get(project_id)
    w = worker(new_key)
    work.submit(w, work.lease_task(w, project_id, "t").lease_id, AnswerIn(answer="cat"))
    overlap.after_run(project, [{"task_id": "t", "confidence": 0.99, "answer_count": 1, "gold": False}])
    assert task_state(project_id, "t") == (2, 1, True)  # confident, but fewer than min answers
    # A run raised it (it looked complete), then confidence came: complete with what it has.
    Task(project_id, "t").update(actions=[Task.overlap.set(3)])
    w2 = worker(new_key)
    work.submit(w2, work.lease_task(w2, project_id, "t").lease_id, AnswerIn(answer="cat"))
    assert overlap.after_run(project, [{"task_id": "t", "confidence": 0.99, "answer_count": 2,
                                        "gold": False}]) == {"completed": 1, "raised": 0}
    assert task_state(project_id, "t") == (2, 2, False)


def test_the_aggregator_applies_adaptive_overlap(make_project, add_tasks, new_key):
    from chalicelib.services import aggregator

    project_id = make_project(adaptive_overlap={"min_overlap": 1, "max_overlap": 2, "target_confidence": 0.999})
    add_tasks(project_id, [{"task_id": "t", "payload": {}}])
    w = worker(new_key)
    work.submit(w, work.lease_task(w, project_id, "t").lease_id, AnswerIn(answer="cat"))
    assert task_state(project_id, "t") == (1, 1, False)
    aggregator.aggregate_project(Project.get(project_id, consistent_read=True))
    assert task_state(project_id, "t") == (2, 1, True)  # one answer is not 0.999 sure: one more wanted
