"""Store calls per lease and per answer on the work path (DynamoDB requests, by operation).

Runs the API in-process (chalice.test.Client) against a fresh moto server with the stack
deployed, and counts the requests botocore sends while one worker leases and answers: real
tasks through /work/next and by id, and gold tasks. Usage (from the repo root):

    .venv/bin/python -m bench.work_path_calls
"""
import collections
import contextlib
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


@contextlib.contextmanager
def in_process_api():
    """A fresh moto server with the stack deployed, and call(method, path, key, body) ->
    (status, json) on the app in-process; the server is stopped on the way out."""
    for name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL")]:
        del os.environ[name]
    port = local_stack.free_port()
    moto = local_stack.start_moto(port)
    try:
        os.environ.update(local_stack.deploy_stack(f"http://127.0.0.1:{port}"))
        from chalice.test import Client

        from app import app

        with Client(app, stage_name="local", project_dir=str(ROOT)) as client:
            def call(method, path, key, body=None):
                response = client.http.request(method, path, body=json.dumps(body or {}).encode(),
                                               headers={"Authorization": f"Bearer {key}",
                                                        "Content-Type": "application/json"})
                return response.status_code, json.loads(response.body)

            yield call
    finally:
        moto.terminate()
        moto.wait(timeout=10)


def item_bytes(item: dict) -> int:
    """An item's size as DynamoDB bills it (attribute names plus values, in low-level JSON):
    strings and binary by their bytes, numbers ~1 byte per 2 digits + 1, 3 bytes per map or
    list plus 1 per element, 1 per boolean or null."""
    def value(v: dict) -> int:
        (kind, inner), = v.items()
        if kind in ("S", "B"):
            return len(inner.encode() if isinstance(inner, str) else inner)
        if kind == "N":
            return (len(inner.lstrip("-").replace(".", "")) + 1) // 2 + 1
        if kind == "M":
            return 3 + sum(len(k.encode()) + value(x) + 1 for k, x in inner.items())
        if kind == "L":
            return 3 + sum(value(x) + 1 for x in inner)
        if kind in ("SS", "NS", "BS"):
            return sum(len(str(x)) for x in inner)
        return 1
    return sum(len(name.encode()) + value(v) for name, v in item.items())


def item_sizes(project_id: str, task_id: str, worker_id: str) -> None:
    """The sizes of the items a lease and an answer read and write (bench/capacity_model.py)."""
    import boto3

    from chalicelib.models.assignments import task_key
    from chalicelib.settings import settings

    client = boto3.client("dynamodb")
    keys = {"projects": {"project_id": {"S": project_id}},
            "tasks": {"project_id": {"S": project_id}, "task_id": {"S": task_id}},
            "assignments": {"task_key": {"S": task_key(project_id, task_id)}, "worker_id": {"S": worker_id}},
            "workers": {"worker_id": {"S": worker_id}, "scope": {"S": project_id}}}
    for table, key in keys.items():
        item = client.get_item(TableName=settings.table(table), Key=key)["Item"]
        print(f"item size {table:<12} {item_bytes(item):>5} bytes")
    shards = client.query(TableName=settings.table("counters"), KeyConditionExpression="project_id = :p",
                          ExpressionAttributeValues={":p": {"S": project_id}})["Items"]
    print(f"item size {'counters':<12} {max(item_bytes(i) for i in shards):>5} bytes (largest shard)")


def main() -> None:
    with in_process_api() as call_with_status:
        from chalicelib import auth

        count_calls()
        requester, _ = auth.create_key("requester", None)
        worker, worker_key = auth.create_key("worker", None)

        def call(method, path, key, body=None):
            return call_with_status(method, path, key, body)[1]

        body = {"title": "calls", "answer_type": {"kind": "single_choice", "labels": ["a", "b"]},
                "overlap": 1, "gold_rate": 0.5, "budget_cents": 10000, "reward_cents": 5,
                "instructions": "Pick the label that fits the text best. " * 10}
        project = call("POST", "/projects", requester, body)
        pid = project["project_id"]
        call("POST", f"/projects/{pid}/tasks", requester, {"tasks": [
            {"task_id": f"t{i}", "payload": {"text": "x" * 200}} for i in range(4)] + [
            {"task_id": f"g{i}", "payload": {"text": "x" * 200}, "known_answer": "a"} for i in range(4)]})
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
        measured("POST /work/next (no project)", lambda: call("POST", "/work/next", worker, {}))
        item_sizes(pid, task_id, worker_key.owner_id)


if __name__ == "__main__":
    main()
