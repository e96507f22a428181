"""Adding tasks in batches, reading them back."""


def task(i, **extra):
    return {"task_id": f"t{i:03d}", "payload": {"text": f"item {i}"}, **extra}


def test_bad_items_are_reported_by_index_and_good_ones_kept(api, requester, make_project, add_tasks):
    project_id = make_project()
    result = add_tasks(project_id, [task(1), {"task_id": "has space", "payload": {}}, task(2),
                                    task(3, known_answer="horse"), task(1), {"payload": {}}])
    assert result["created"] == 2
    assert [(e["index"], e["code"]) for e in result["errors"]] == [
        (1, "validation_error"), (3, "invalid_answer"), (4, "duplicate_in_batch"), (5, "validation_error")]
    status, page = api.get(f"/projects/{project_id}/tasks", requester)
    assert [t["task_id"] for t in page["items"]] == ["t001", "t002"]


def test_resending_a_batch_duplicates_nothing(api, requester, make_project, add_tasks):
    project_id = make_project()
    batch = [task(i) for i in range(30)] + [task(99, known_answer="cat")]
    assert add_tasks(project_id, batch)["created"] == 31
    again = add_tasks(project_id, batch)
    assert again == {"created": 0, "unchanged": 31, "errors": []}
    changed = add_tasks(project_id, [{"task_id": "t001", "payload": {"text": "other"}}])
    assert changed["errors"][0]["code"] == "task_exists"
    status, progress = api.get(f"/projects/{project_id}/progress", requester)
    assert (progress["tasks"], progress["gold_tasks"], progress["tasks_open"]) == (31, 1, 30)  # gold is not open work


def test_batches_over_1000_are_refused(api, requester, make_project):
    project_id = make_project()
    status, body = api.post(f"/projects/{project_id}/tasks", requester, {"tasks": [task(i) for i in range(1001)]})
    assert status == 400 and body["error"]["details"]["fields"][0]["path"] == "tasks"


def test_paging_visits_every_task_once_in_a_stable_order(api, requester, make_project, add_tasks):
    project_id = make_project()
    add_tasks(project_id, [task(i) for i in range(25)])
    seen, cursor = [], None
    while True:
        path = f"/projects/{project_id}/tasks?limit=7" + (f"&cursor={cursor}" if cursor else "")
        status, page = api.get(path, requester)
        assert status == 200
        seen += [t["task_id"] for t in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [f"t{i:03d}" for i in range(25)]


def test_task_detail_shows_answers(api, requester, make_project, add_tasks, new_key, alias):
    project_id = make_project(overlap=1)
    add_tasks(project_id, [task(1)])
    worker, worker_id = new_key("worker")
    status, lease = api.post(f"/projects/{project_id}/tasks/t001/lease", worker)
    api.post(f"/leases/{lease['lease_id']}/answer", worker, {"answer": "dog", "time_spent_ms": 1200})
    status, detail = api.get(f"/projects/{project_id}/tasks/t001", requester)
    assert status == 200 and detail["status"] == "complete" and detail["answer_count"] == 1
    assert detail["answers"][0]["worker_id"] == alias(requester, worker_id) and detail["answers"][0]["answer"] == "dog"
    status, body = api.get(f"/projects/{project_id}/tasks/nope", requester)
    assert status == 404 and body["error"]["code"] == "task_not_found"


def test_the_same_batch_sent_by_racing_clients_creates_and_counts_each_task_once(api, make_project, new_key):
    """A flaky client re-sends a batch while the first sending is still being written: every
    task is stored once and counted once, and each sender hears about all of them."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from chalicelib.auth import Caller
    from chalicelib.schemas.tasks import TaskBatch
    from chalicelib.services import tasks

    secret, owner = new_key("requester")
    project_id = make_project(key=secret)
    batch = TaskBatch(tasks=[task(i) for i in range(150)] + [task(900 + i, known_answer="cat") for i in range(5)])
    senders = 6
    barrier = threading.Barrier(senders)

    def send(_):
        barrier.wait()
        return tasks.add_batch(Caller("requester", owner), project_id, batch)

    with ThreadPoolExecutor(senders) as pool:
        results = list(pool.map(send, range(senders)))
    assert all(r.created + r.unchanged == 155 and not r.errors for r in results), results
    assert sum(r.created for r in results) == 155
    status, progress = api.get(f"/projects/{project_id}/progress", secret)
    assert (progress["tasks"], progress["gold_tasks"], progress["tasks_open"]) == (155, 5, 150)
