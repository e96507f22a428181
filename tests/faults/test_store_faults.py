"""Faults of the store and of the function itself, injected into a real submission.

- DynamoDB throttles the answer's transaction: botocore retries it; while it keeps failing the
  client gets 503 store_unavailable with Retry-After, and its retry with the same lease is
  accepted exactly once (counters, earnings and the task's answer count move once).
- The Lambda dies after the transaction committed but before it answered: the client's retry
  gets the original receipt and nothing is counted twice.

Faults are injected at botocore's send (tests/faults/conftest.py), answering in DynamoDB's
own wire format, so botocore's retry logic and pynamodb's error wrapping run exactly as they
would against AWS. tests/faults/test_each_call.py does the same for every kind of call.
"""
import json

import pytest

REWARD = 7


@pytest.fixture
def leased(api, make_project, add_tasks, new_key, requester):
    """A live lease of a fresh worker on a fresh task: (worker key, worker id, project, lease)."""
    project_id = make_project(overlap=2, reward_cents=REWARD)
    add_tasks(project_id, [{"task_id": "t", "payload": {"text": "x"}}])
    worker, worker_id = new_key("worker")
    status, lease = api.post(f"/projects/{project_id}/tasks/t/lease", worker)
    assert status == 200, lease
    return worker, worker_id, project_id, lease["lease_id"]


def counted_once(api, requester, worker, worker_id, project_id):
    from chalicelib.models import Assignment, Task
    from chalicelib.models.assignments import task_key

    status, progress = api.get(f"/projects/{project_id}/progress", requester)
    assert status == 200
    assert progress["answers"] == 1 and progress["rewards_cents"] == REWARD
    status, me = api.get("/me", worker)
    assert me["answers"] == 1 and me["pending_cents"] == REWARD  # pending until reviewed
    assert [p["answers"] for p in me["projects"] if p["project_id"] == project_id] == [1]
    task = Task.get(project_id, "t", consistent_read=True)
    assert int(task.answer_count) == 1
    submitted = [a for a in Assignment.query(task_key(project_id, "t"), consistent_read=True)
                 if a.state == "submitted"]
    assert [a.worker_id for a in submitted] == [worker_id]


def test_a_throttled_answer_is_retried_by_the_client_library(api, requester, leased, inject):
    worker, worker_id, project_id, lease_id = leased
    throttle = inject("TransactWriteItems", times=2)
    status, receipt = api.post(f"/leases/{lease_id}/answer", worker, {"answer": "cat"})
    assert status == 200 and receipt["state"] == "submitted", receipt
    assert throttle.seen == 2 and len(throttle.sleeps) == 2  # two throttled sends, then success
    counted_once(api, requester, worker, worker_id, project_id)


@pytest.mark.parametrize("code", ["ProvisionedThroughputExceededException", "ThrottlingException",
                                  "InternalServerError"])
def test_a_store_that_keeps_failing_is_a_503_and_the_retry_counts_once(api, requester, leased, inject, code):
    worker, worker_id, project_id, lease_id = leased
    throttle = inject("TransactWriteItems", times=10**6, code=code)
    response = api.client.http.post(f"/leases/{lease_id}/answer", body=json.dumps({"answer": "cat"}).encode(),
                                    headers={"Authorization": f"Bearer {worker}",
                                             "Content-Type": "application/json"})
    body = json.loads(response.body)
    assert response.status_code == 503, body
    assert body["error"]["code"] == "store_unavailable"
    assert response.headers.get("Retry-After") == "1"
    assert throttle.seen >= 2  # botocore retried before giving up
    # Nothing was written: progress shows no answer, the lease is still live.
    status, progress = api.get(f"/projects/{project_id}/progress", requester)
    assert progress["answers"] == 0 and progress["rewards_cents"] == 0
    throttle.times = 0  # the store recovers
    first = api.post(f"/leases/{lease_id}/answer", worker, {"answer": "cat"})
    again = api.post(f"/leases/{lease_id}/answer", worker, {"answer": "cat"})
    assert first[0] == 200 and first == again
    counted_once(api, requester, worker, worker_id, project_id)


def test_a_function_that_dies_after_the_write_gives_the_original_receipt_on_retry(
        api, requester, leased, monkeypatch):
    from chalicelib.services import work

    worker, worker_id, project_id, lease_id = leased
    real = work.TransactWrite
    deaths = []

    class DiesAfterCommit(real):
        def __exit__(self, *exc):
            result = super().__exit__(*exc)
            if exc[0] is None and not deaths:
                deaths.append(True)
                raise RuntimeError("Lambda killed after the transaction committed")
            return result

    monkeypatch.setattr(work, "TransactWrite", DiesAfterCommit)
    status, body = api.post(f"/leases/{lease_id}/answer", worker, {"answer": "cat"})
    assert deaths and status == 500 and body["error"]["code"] == "internal_error"  # the response is lost
    monkeypatch.setattr(work, "TransactWrite", real)

    from chalicelib.models import Assignment
    from chalicelib.models.assignments import task_key
    stored = Assignment.get(task_key(project_id, "t"), worker_id, consistent_read=True)
    status, receipt = api.post(f"/leases/{lease_id}/answer", worker, {"answer": "cat"})
    assert status == 200
    assert receipt == {"lease_id": lease_id, "project_id": project_id, "task_id": "t", "state": "submitted",
                       "answer": "cat", "submitted_at": int(stored.submitted_at), "reward_cents": REWARD}
    # A retry with another answer still gets the first one: the answer is final.
    assert api.post(f"/leases/{lease_id}/answer", worker, {"answer": "dog"}) == (200, receipt)
    counted_once(api, requester, worker, worker_id, project_id)
