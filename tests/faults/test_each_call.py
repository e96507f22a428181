"""Store faults on every kind of call a request makes, not just the answer's transaction.

For each call (the authorizer's key lookup, the open-task query and the lease transaction of
POST /work/next, the lease read of an answer, the batch write and read of added tasks, the
counter query of a progress read, a worker's own record):
- throttled or failing twice: botocore retries with backoff and the request succeeds;
- failing until botocore gives up: 503 store_unavailable with Retry-After, and once the store
  recovers the same request succeeds, with its effect applied exactly once.
Then what happens when the store applied a write but its response never came back (botocore
resends it), and when the function dies after a write but before answering (the client
resends): the retry gets the original result, never a duplicate.
"""
import json

import pytest

REWARD = 6
CODES = ["ProvisionedThroughputExceededException", "ThrottlingException", "InternalServerError"]


@pytest.fixture
def world(api, requester, make_project, add_tasks, new_key):
    """A project of three tasks, a worker with a live lease on t0, another worker with none."""
    project_id = make_project(overlap=2, reward_cents=REWARD)
    add_tasks(project_id, [{"task_id": f"t{i}", "payload": {"i": i}} for i in range(3)])
    holder, holder_id = new_key("worker")
    status, lease = api.post(f"/projects/{project_id}/tasks/t0/lease", holder)
    assert status == 200
    idle, idle_id = new_key("worker")
    return {"project_id": project_id, "requester": requester, "holder": holder, "holder_id": holder_id,
            "lease_id": lease["lease_id"], "idle": idle, "idle_id": idle_id}


def progress(api, w):
    status, body = api.get(f"/projects/{w['project_id']}/progress", w["requester"])
    assert status == 200, body
    return body


def stored_answers(w) -> list:
    from chalicelib.models import Assignment
    from chalicelib.models.assignments import task_key

    return [a for i in range(3) for a in Assignment.query(task_key(w["project_id"], f"t{i}"), consistent_read=True)
            if a.state == "submitted"]


# Each kind of call: the request that makes it, and what must hold once it went through once.
def ask_for_work(api, w):
    return api.post("/work/next", w["idle"], {"project_id": w["project_id"]})


def leased_once(api, w, responses):
    # Asking again is asking for more work (not a retry of one lease), so it is sent once:
    # the attempt that got the 503 must have left no lease behind.
    assert [status for status, _ in responses] == [200]
    assert progress(api, w)["leases_outstanding"] == 2  # the holder's and this one


def answer(api, w):
    return api.post(f"/leases/{w['lease_id']}/answer", w["holder"], {"answer": "cat", "time_spent_ms": 5})


def answered_once(api, w, responses):
    receipts = [body for status, body in responses if status == 200]
    assert receipts and all(r == receipts[0] for r in receipts)
    p = progress(api, w)
    assert (p["answers"], p["rewards_cents"]) == (1, REWARD)
    status, me = api.get("/me", w["holder"])
    assert (me["answers"], me["pending_cents"], me["earned_cents"]) == (1, REWARD, 0)  # awaiting review
    assert [a.worker_id for a in stored_answers(w)] == [w["holder_id"]]


NEW_TASKS = [{"task_id": f"n{i}", "payload": {"i": i}} for i in range(30)]  # two write batches of 25 + 5


def add_tasks_request(api, w):
    return api.post(f"/projects/{w['project_id']}/tasks", w["requester"], {"tasks": NEW_TASKS})


def tasks_added_once(api, w, responses):
    from chalicelib.models import Task

    done = [body for status, body in responses if status == 200]
    assert done and done[-1]["created"] + done[-1]["unchanged"] == len(NEW_TASKS) and not done[-1]["errors"]
    assert sum(1 for t in Task.query(w["project_id"], consistent_read=True) if t.task_id.startswith("n")) == 30
    assert progress(api, w)["tasks"] == 3 + len(NEW_TASKS)


def read_progress(api, w):
    return api.get(f"/projects/{w['project_id']}/progress", w["requester"])


def progress_read(api, w, responses):
    status, body = responses[-1]
    assert status == 200 and body["tasks"] == 3 and body["leases_outstanding"] == 1


def read_me(api, w):
    return api.get("/me", w["holder"])


def me_read(api, w, responses):
    status, body = responses[-1]
    assert status == 200 and body["worker_id"] == w["holder_id"]


CALLS = {  # name: (operation, table, request, check); the request is safe to resend unless it asks for work
    "authorizer key lookup": ("GetItem", "api_keys", read_me, me_read),
    "next: open-task query": ("Query", "tasks", ask_for_work, leased_once),
    "next: lease transaction": ("TransactWriteItems", "tasks", ask_for_work, leased_once),
    "answer: lease read": ("GetItem", "assignments", answer, answered_once),
    "answer: transaction": ("TransactWriteItems", "assignments", answer, answered_once),
    "tasks: batch read": ("BatchGetItem", "tasks", add_tasks_request, tasks_added_once),
    "tasks: transaction": ("TransactWriteItems", "tasks", add_tasks_request, tasks_added_once),
    "progress: counter query": ("Query", "counters", read_progress, progress_read),
    "me: worker record query": ("Query", "workers", read_me, me_read),
}


@pytest.mark.parametrize("call", CALLS)
def test_a_brief_fault_on_any_call_is_retried_with_backoff(api, world, inject, call):
    operation, table, request, check = CALLS[call]
    fault = inject(operation, times=2, code="ThrottlingException", table=table)
    response = request(api, world)
    assert response[0] < 300, response
    assert fault.seen == 2 and len(fault.sleeps) >= 2 and all(s > 0 for s in fault.sleeps)
    check(api, world, [response])


# Each call with one of the codes in turn: every call and every code is covered, not the product.
@pytest.mark.parametrize("call,code", [(call, CODES[i % len(CODES)]) for i, call in enumerate(CALLS)])
def test_a_lasting_fault_on_any_call_is_a_503_and_the_retry_applies_once(api, world, inject, call, code):
    operation, table, request, check = CALLS[call]
    fault = inject(operation, times=10**6, code=code, table=table)
    status, body = request(api, world)
    assert status == 503 and body["error"]["code"] == "store_unavailable", body
    assert fault.seen >= 2  # botocore retried before giving up
    fault.times = 0  # the store recovers; the client sends the same request (twice, if it is a retry)
    resends = 1 if request is ask_for_work else 2
    check(api, world, [request(api, world) for _ in range(resends)])


def test_the_503_carries_retry_after(api, world, inject):
    inject("TransactWriteItems", times=10**6, table="assignments")
    response = api.client.http.post(f"/leases/{world['lease_id']}/answer", body=json.dumps({"answer": "cat"}).encode(),
                                    headers={"Authorization": f"Bearer {world['holder']}",
                                             "Content-Type": "application/json"})
    assert response.status_code == 503 and response.headers.get("Retry-After") == "1"


# --- A write applied, its response lost: botocore resends it ----------------------------------
def test_an_answer_whose_response_was_lost_is_counted_once(api, world, lose_response):
    lost = lose_response("TransactWriteItems", table="assignments")
    first = answer(api, world)
    assert lost.seen == 1 and first[0] == 200, first
    answered_once(api, world, [first, answer(api, world)])


def test_a_task_batch_whose_response_was_lost_adds_each_task_once(api, world, lose_response):
    lost = lose_response("TransactWriteItems", table="tasks")
    first = add_tasks_request(api, world)
    assert lost.seen == 1
    tasks_added_once(api, world, [first, add_tasks_request(api, world)])


def test_a_lease_whose_response_was_lost_is_the_workers_lease(api, world, lose_response):
    lost = lose_response("TransactWriteItems", table="tasks")
    status, lease = api.post(f"/projects/{world['project_id']}/tasks/t1/lease", world["idle"])
    assert lost.seen == 1
    # The store granted the lease before the response was lost: the resent transaction finds
    # the worker's own live lease, which is the one to hand out.
    assert status == 200, lease
    assert progress(api, world)["leases_outstanding"] == 2


# --- The function dies after a write, before answering: the client resends --------------------
def test_a_lease_granted_by_a_function_that_died_is_given_again(api, world, die_after):
    deaths = die_after("TransactWriteItems", table="tasks")
    path = f"/projects/{world['project_id']}/tasks/t1/lease"
    status, body = api.post(path, world["idle"])
    assert deaths and status == 500 and body["error"]["code"] == "internal_error"
    status, lease = api.post(path, world["idle"])
    assert status == 200, lease
    again = api.post(path, world["idle"])
    assert again == (200, lease)
    assert progress(api, world)["leases_outstanding"] == 2


def test_a_task_batch_written_by_a_function_that_died_is_counted_once(api, world, die_after):
    deaths = die_after("TransactWriteItems", table="tasks")
    status, body = add_tasks_request(api, world)
    assert deaths and status == 500
    tasks_added_once(api, world, [add_tasks_request(api, world)])
