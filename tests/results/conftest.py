"""Helpers for the results tests: a small project answered by known workers, S3 downloads."""
import hashlib

import pytest
import requests

# Three workers answer four tasks; t0 is gold ("cat"). Worker w2 disagrees on t1 and t3.
LABELS = ["cat", "dog"]
TASKS = [{"task_id": "t0", "payload": {"image_url": "https://example.org/0.jpg", "n": 0}, "known_answer": "cat"},
         {"task_id": "t1", "payload": {"image_url": "https://example.org/1.jpg", "n": 1}},
         {"task_id": "t2", "payload": {"image_url": "https://example.org/2.jpg", "n": 2, "tags": ["a", "b"]}},
         {"task_id": "t3", "payload": {"image_url": "https://example.org/3.jpg", "n": 3}}]
ANSWERS = {"w0": {"t0": "cat", "t1": "dog", "t2": "dog", "t3": "cat"},
           "w1": {"t0": "cat", "t1": "dog", "t2": "dog", "t3": "cat"},
           "w2": {"t0": "dog", "t1": "cat", "t2": "dog", "t3": "dog"}}


@pytest.fixture
def answered_project(api, requester, make_project, add_tasks, new_key):
    """() -> (project_id, {"w0": (secret, worker_id), ...}) with every answer of ANSWERS in."""

    def make(answers=ANSWERS, tasks=TASKS):
        project_id = make_project(overlap=3, answer_type={"kind": "single_choice", "labels": LABELS})
        add_tasks(project_id, tasks)
        workers = {name: new_key("worker") for name in answers}
        for name, by_task in answers.items():
            key = workers[name][0]
            for task_id, label in by_task.items():
                status, lease = api.post(f"/projects/{project_id}/tasks/{task_id}/lease", key)
                assert status == 200, lease
                status, receipt = api.post(f"/leases/{lease['lease_id']}/answer", key,
                                           {"answer": label, "time_spent_ms": 1000 + len(task_id)})
                assert status == 200, receipt
        return project_id, workers

    return make


def download(entry: dict) -> bytes:
    """A result file by its presigned URL, checked against the manifest's size and sha256."""
    body = requests.get(entry["url"], timeout=10).content
    assert len(body) == entry["bytes"], entry["key"]
    assert hashlib.sha256(body).hexdigest() == entry["sha256"], entry["key"]
    return body
