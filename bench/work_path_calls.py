"""Store calls per lease and per answer on the work path (DynamoDB requests, by operation).

Runs the API in-process (chalice.test.Client) against a fresh moto server with the stack
deployed, and counts the requests botocore sends while one worker leases and answers: real
tasks through /work/next and by id, and gold tasks. Usage (from the repo root):

    .venv/bin/python -m bench.work_path_calls
"""
import collections
import json
import os
import sys
from pathlib import Path

ROOT = Path.cwd()  # the checkout measured: run from its root
sys.path.insert(0, str(ROOT))

from tools import local_stack  # noqa: E402

CALLS = collections.Counter()


def count_calls():
    import botocore.client

    original = botocore.client.BaseClient._make_api_call

    def counted(self, operation, params):
        CALLS[operation] += 1
        return original(self, operation, params)

    botocore.client.BaseClient._make_api_call = counted


def measured(label, action):
    CALLS.clear()
    result = action()
    print(f"{label:<34} {sum(CALLS.values()):>2} calls  {dict(sorted(CALLS.items()))}")
    return result


def main() -> None:
    for name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL")]:
        del os.environ[name]
    port = local_stack.free_port()
    moto = local_stack.start_moto(port)
    try:
        os.environ.update(local_stack.deploy_stack(f"http://127.0.0.1:{port}"))
        from chalice.test import Client

        from app import app
        from chalicelib import auth

        count_calls()
        requester, _ = auth.create_key("requester", None)
        worker, _ = auth.create_key("worker", None)
        with Client(app, stage_name="local", project_dir=str(ROOT)) as client:
            def call(method, path, key, body=None):
                response = client.http.request(method, path, body=json.dumps(body or {}).encode(),
                                               headers={"Authorization": f"Bearer {key}",
                                                        "Content-Type": "application/json"})
                return json.loads(response.body)

            body = {"title": "calls", "answer_type": {"kind": "single_choice", "labels": ["a", "b"]},
                    "overlap": 1, "gold_rate": 0.5}
            project = call("POST", "/projects", requester, body)
            if "error" in project:  # a version without gold mixing: gold is served like any task
                project = call("POST", "/projects", requester, {k: v for k, v in body.items() if k != "gold_rate"})
            pid = project["project_id"]
            call("POST", f"/projects/{pid}/tasks", requester, {"tasks": [
                {"task_id": f"t{i}", "payload": {}} for i in range(4)] + [
                {"task_id": f"g{i}", "payload": {}, "known_answer": "a"} for i in range(4)]})
            call("GET", "/me", worker)  # warm the key cache and the project terms
            served = set()
            for round_ in range(4):
                lease = measured(f"POST /work/next ({round_})", lambda: call("POST", "/work/next", worker,
                                                                             {"project_id": pid}))
                served.add(lease["task_id"])
                kind = "gold" if lease["task_id"].startswith("g") else "real"
                measured(f"  answer ({kind})", lambda: call("POST", f"/leases/{lease['lease_id']}/answer",
                                                            worker, {"answer": "a"}))
            task_id = min({f"t{i}" for i in range(4)} - served)
            lease = measured("POST /projects/{p}/tasks/{t}/lease", lambda: call(
                "POST", f"/projects/{pid}/tasks/{task_id}/lease", worker))
            measured("  answer (real)", lambda: call("POST", f"/leases/{lease['lease_id']}/answer",
                                                     worker, {"answer": "a"}))
    finally:
        moto.terminate()
        moto.wait(timeout=10)


if __name__ == "__main__":
    main()
