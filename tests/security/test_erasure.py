"""A worker asks to be forgotten (DELETE /me, or an admin for it: DELETE /workers/{id}).

Checked as an attacker would: afterwards nothing the requester can read (routes, the latest
published files) and nothing in any table or bucket of the store holds the worker's old id, in
clear, base64-wrapped, or sealed in a lease id or pseudonym; the worker's answers still count,
under a pseudonym, so a new publication gives the same results; the money paid stays paid.
"""
import base64
import binascii
import gzip
import json
import re

import boto3
import pytest
import requests

from chalicelib import auth
from chalicelib.services import erasure, leases, pseudonyms
from chalicelib.settings import TABLES, settings
from tests.scheduled import run_aggregator

LABELS = ["cat", "dog"]
TOKEN = re.compile(r"[A-Za-z0-9_\-]{16,}")


def holds(text: str, worker_id: str, owner_id: str) -> list[str]:
    """Where `text` holds the worker id: in clear, inside a base64 token, sealed in a lease id or
    in the requester's pseudonym."""
    found = ["in clear"] if worker_id in text else []
    for token in set(TOKEN.findall(text)):
        for start in range(4):
            chunk = token[start:]
            try:
                if worker_id in base64.urlsafe_b64decode(chunk + "=" * (-len(chunk) % 4)).decode("latin-1"):
                    found.append(f"base64 {token[:24]}")
            except (binascii.Error, ValueError):
                pass
        try:
            if leases.parse(token).worker_id == worker_id:
                found.append(f"lease id {token[:24]}")
        except Exception:  # not a lease id
            pass
        if pseudonyms.resolve(owner_id, token) == worker_id:
            found.append(f"pseudonym {token[:24]}")
    return found


def results_rows(api, key, project_id) -> list[dict]:
    status, results = api.get(f"/projects/{project_id}/results", key)
    assert status == 200, results
    body = requests.get(results["files"]["results.jsonl"]["url"], timeout=10).text
    return [{k: v for k, v in json.loads(line).items() if k not in ("run_id", "created_at")}
            for line in body.splitlines()]


def progress(api, key, project_id) -> dict:
    """The project's counts and money (not when it last ran)."""
    body = api.get(f"/projects/{project_id}/progress", key)[1]
    return {k: v for k, v in body.items() if not k.startswith("last_run")}


def answers_of(api, key, project_id, task_ids) -> list:
    """Every answer the requester sees, without the worker's name."""
    return sorted((t, a["answer"], a["state"], a["submitted_at"], a["time_spent_ms"]) for t in task_ids
                  for a in api.get(f"/projects/{project_id}/tasks/{t}", key)[1]["answers"])


def latest_files(api, key, project_id) -> str:
    files = api.get(f"/projects/{project_id}/results", key)[1]["files"]
    texts = []
    for entry in files.values():
        content = requests.get(entry["url"], timeout=10).content
        texts.append((gzip.decompress(content) if entry["key"].endswith(".gz") else content).decode())
    return "\n".join(texts)


def requester_view(api, key, project_id, task_ids) -> str:
    paths = [f"/projects/{project_id}/{p}" for p in ("workers", "assignments", "payments", "progress")]
    paths += [f"/projects/{project_id}/tasks/{t}" for t in task_ids]
    views = [api.get(path, key) for path in paths]
    assert all(status == 200 for status, _ in views), views
    workers = views[0][1]["items"]
    views += [api.get(f"/projects/{project_id}/workers/{w['worker_id']}", key) for w in workers]
    return json.dumps([body for _, body in views])


def store_dump() -> str:
    """Every item of every table, and every object of the results bucket (gzip opened)."""
    dynamodb, s3 = boto3.client("dynamodb"), boto3.client("s3")
    texts = []
    for table in TABLES:
        for page in dynamodb.get_paginator("scan").paginate(TableName=settings.table(table)):
            texts += [json.dumps(item) for item in page["Items"]]
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=settings.results_bucket):
        for obj in page.get("Contents", []):
            body = s3.get_object(Bucket=settings.results_bucket, Key=obj["Key"])["Body"].read()
            texts.append((gzip.decompress(body) if obj["Key"].endswith(".gz") else body).decode())
    return "\n".join(texts)


@pytest.fixture
def worked(api, requester, make_project, add_tasks, new_key):
    """A published project of four tasks (t0 gold) answered by three workers, the first one
    reviewed (an approval with feedback, a rejection) and given a bonus."""
    project_id = make_project(overlap=3, reward_cents=4, answer_type={"kind": "single_choice", "labels": LABELS})
    task_ids = ["t0", "t1", "t2", "t3"]
    add_tasks(project_id, [{"task_id": t, "payload": {"n": i}, **({"known_answer": "cat"} if i == 0 else {})}
                           for i, t in enumerate(task_ids)])
    workers = [new_key("worker") for _ in range(3)]
    leases_of = {}
    for n, (key, _) in enumerate(workers):
        for i, task_id in enumerate(task_ids):
            status, lease = api.post(f"/projects/{project_id}/tasks/{task_id}/lease", key)
            assert status == 200, lease
            label = LABELS[(i + n * (i == 3)) % 2]  # the third worker disagrees on t3
            assert api.post(f"/leases/{lease['lease_id']}/answer", key, {"answer": label})[0] == 200
            leases_of.setdefault(n, []).append(lease["lease_id"])
    first = leases_of[0]
    assert api.post("/assignments/approve", requester, {"assignment_ids": first[:2], "reason": "neat"})[0] == 200
    assert api.post("/assignments/reject", requester, {"assignment_ids": first[2:3], "reason": "blurry"})[0] == 200
    assert api.post(f"/projects/{project_id}/bonuses", requester, {
        "assignment_id": first[0], "cents": 9, "reason": "fast", "client_token": "b1"})[0] == 201
    run_aggregator(project_id)
    return project_id, task_ids, workers


def test_a_forgotten_worker_is_nowhere_and_its_work_still_counts(api, requester, worked):
    project_id, task_ids, workers = worked
    (key, worker_id), *_ = workers
    owner_id = auth.lookup(f"Bearer {requester}").owner_id
    before_rows = results_rows(api, requester, project_id)
    before = {"progress": progress(api, requester, project_id),
              "answers": answers_of(api, requester, project_id, task_ids)}
    assert holds(requester_view(api, requester, project_id, task_ids), worker_id, owner_id)  # the probe sees it

    status, erased = api.request("DELETE", "/me", key)
    assert status == 200 and erased == {"erased": True, "keys_revoked": 1, "assignments": 4, "payments": 3,
                                        "records": 2, "account_deleted": False}, erased
    status, body = api.get("/me", key)
    assert (status, body["error"]["code"]) == (401, "key_revoked")  # its key is revoked

    assert api.post(f"/projects/{project_id}/aggregate", requester)[0] == 202
    run_aggregator(project_id)
    # The same results from the same answers; the same answers and money, under a pseudonym.
    assert results_rows(api, requester, project_id) == before_rows
    assert progress(api, requester, project_id) == before["progress"]
    assert answers_of(api, requester, project_id, task_ids) == before["answers"]
    payments = api.get(f"/projects/{project_id}/payments", requester)[1]["items"]
    assert sum(p["cents"] for p in payments) == 4 + 4 + 9

    # Nothing anywhere holds the old id: the requester's routes, the latest files, the store.
    assert holds(requester_view(api, requester, project_id, task_ids), worker_id, owner_id) == []
    assert holds(latest_files(api, requester, project_id), worker_id, owner_id) == []
    dump = store_dump()
    assert worker_id not in dump
    leaked = [h for h in holds(dump, worker_id, owner_id) if not h.startswith("pseudonym")]
    assert leaked == [], leaked
    # Earlier runs' files keep the former pseudonym: opaque, it opens only with the
    # deployment's key, to an id that no longer names anything.


def test_an_admin_erases_a_worker_for_it_and_nobody_else(api, requester, worked, new_key):
    project_id, task_ids, workers = worked
    admin, _ = new_key("admin")
    _, worker_id = workers[1]
    status, erased = api.request("DELETE", f"/workers/{worker_id}", admin)
    assert status == 200 and erased["erased"] and erased["assignments"] == 4
    for nobody in (worker_id, auth.lookup(f"Bearer {requester}").owner_id, "admin", "w-nobody"):
        status, body = api.request("DELETE", f"/workers/{nobody}", admin)
        assert (status, body["error"]["code"]) == (404, "worker_not_found"), nobody
    status, body = api.request("DELETE", f"/workers/{workers[2][1]}", requester)
    assert (status, body["error"]["code"]) == (403, "wrong_role")


def test_an_interrupted_erasure_resumes_with_the_same_tombstone(api, requester, worked, new_key, monkeypatch):
    project_id, task_ids, workers = worked
    admin, _ = new_key("admin")
    key, worker_id = workers[2]

    def crash(*args):
        raise RuntimeError("the function timed out")

    monkeypatch.setattr(erasure, "_move_records", crash)
    status, _ = api.request("DELETE", "/me", key)
    assert status == 500
    monkeypatch.undo()
    status, erased = api.request("DELETE", f"/workers/{worker_id}", admin)  # the worker's key is revoked
    assert status == 200 and erased["assignments"] == 0 and erased["records"] == 2
    answers = [a for t in task_ids for a in api.get(f"/projects/{project_id}/tasks/{t}", requester)[1]["answers"]]
    listed = {w["worker_id"]: w["answers"] for w in api.get(f"/projects/{project_id}/workers", requester)[1]["items"]}
    # One tombstone, not two: its records are under the same name as its answers.
    assert len(answers) == 12 and {a["worker_id"] for a in answers} == set(listed)
    assert list(listed.values()) == [4, 4, 4]
