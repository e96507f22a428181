"""Helpers for the results tests: a small project answered by known workers, S3 downloads,
a webhook receiver on 127.0.0.1."""
import dataclasses
import hashlib
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

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


WEBHOOK_MAX_ATTEMPTS = 3


class Receiver:
    """A threaded HTTP server that records each POST and answers `statuses` in turn, then 200."""

    def __init__(self, statuses=(), delay: float = 0.0):
        self.requests, self.statuses, self.delay = [], list(statuses), delay
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body))
                time.sleep(receiver.delay)
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/foule?source=test"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def local_webhooks(monkeypatch):
    """Webhooks as the local stack runs them: 127.0.0.1 allowed, short timeouts, few attempts."""
    from chalicelib.services import webhook_http, webhooks
    from chalicelib.settings import settings

    local = dataclasses.replace(settings, webhooks_allow_local=True, webhook_timeout_seconds=1,
                                webhook_max_attempts=WEBHOOK_MAX_ATTEMPTS)
    monkeypatch.setattr(webhooks, "settings", local)
    monkeypatch.setattr(webhook_http, "settings", local)


@pytest.fixture
def receiver():
    made = []

    def make(**kwargs):
        made.append(Receiver(**kwargs))
        return made[-1]

    yield make
    for r in made:
        r.close()
