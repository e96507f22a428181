"""Every route x every kind of caller: only the allowed pass, and nothing leaks.

Routes and roles are read at run time from the served /openapi.json (`x-roles` of each
operation, the `role` enum of the key-creation body), so a route or a role added later is
covered without touching this file. Path parameters are real ids of resources created here:
a project with a plain and a gold task, answers by one worker, a live lease of another.

Rules checked:
- no key: 401 (the gateway's refusal); a wrong key: 401 invalid_api_key;
- a role the route does not list (admins pass everywhere): 403 wrong_role;
- a requester on another requester's project, an integrator on a project outside its scope:
  404 project_not_found, exactly what a project that does not exist gives (no probing);
- a worker on another worker's lease: 403 lease_not_yours, decided from the lease id alone,
  identical for a forged id naming nothing (no existence oracle);
- an allowed caller is never refused (no 401/403/ownership 404) and nothing is ever a 5xx;
- a worker's responses never hold a known answer, another worker's id or a requester's id;
  another requester's successful responses never hold the owner's project id.
"""
import base64
import json
import secrets

import pytest

from chalicelib.services import pseudonyms

FETCHED = []  # result files read through integrators' presigned URLs
DENIALS = {"invalid_api_key", "wrong_role", "project_not_found", "lease_not_yours", "unauthorized",
           "forbidden"}
GOLD = "dog"


def body_for(method: str, path: str, operation: dict, ids: dict):
    if "requestBody" not in operation:
        return None
    known = {
        ("POST", "/projects"): {"title": "matrix", "answer_type": {"kind": "single_choice",
                                                                    "labels": ["cat", "dog"]}},
        ("PATCH", "/projects/{project_id}"): {"priority": 1},
        ("POST", "/projects/{project_id}/tasks"): {"tasks": [{"task_id": f"n-{secrets.token_hex(3)}",
                                                              "payload": {"text": "new"}}]},
        ("POST", "/work/next"): {"project_id": ids["project_id"]},
        ("POST", "/leases/{lease_id}/answer"): {"answer": "cat", "time_spent_ms": 10},
        ("POST", "/projects/{project_id}/tasks/cancel"): {"task_ids": ["no-such-task"]},
        ("POST", "/projects/{project_id}/media"): {"content_type": "image/png", "size_bytes": 10},
        ("POST", "/answers"): {"answers": [{"lease_id": ids["lease_id"], "answer": "cat"}]},
        ("POST", "/keys"): {"role": "worker"},
        ("PUT", "/projects/{project_id}/webhook"): {"url": "https://hooks.example.org/foule"},
        ("POST", "/projects/{project_id}/bonuses"): {"worker_id": ids["other_worker_pseudonym"], "cents": 1,
                                                     "reason": "matrix", "client_token": "m-1"},
    }
    return known.get((method, path), {})


@pytest.fixture
def world(api, new_key):
    """Keys of every kind and a project in a known state; returns (callers, ids, document)."""
    status, document = api.get("/openapi.json")
    assert status == 200
    admin, _ = new_key("admin")
    key_schema = document["components"]["schemas"].get("KeyCreate", {})
    roles = set(key_schema.get("properties", {}).get("role", {}).get("enum", []))
    roles |= {r for ops in document["paths"].values() for op in ops.values() for r in op.get("x-roles", [])}

    def key(role, **extra):
        status, created = api.post("/keys", admin, {"role": role, **extra})
        assert status == 201, created
        return created["key"], created["owner_id"]

    owner, owner_id = key("requester")
    other_requester, other_requester_id = key("requester")
    worker, worker_id = key("worker")
    other_worker, other_worker_id = key("worker")
    status, project = api.post("/projects", owner, {
        "title": "private title", "instructions": "look", "overlap": 3, "reward_cents": 7,
        "answer_type": {"kind": "single_choice", "labels": ["cat", "dog"]}})
    assert status == 201
    project_id = project["project_id"]
    status, added = api.post(f"/projects/{project_id}/tasks", owner, {"tasks": [
        {"task_id": "plain", "payload": {"text": "a"}},
        {"task_id": "gold", "payload": {"text": "b"}, "known_answer": GOLD}]})
    assert status == 200 and added["created"] == 2
    # The other worker has answered the gold task; the worker holds a live lease on it.
    status, lease = api.post(f"/projects/{project_id}/tasks/gold/lease", other_worker)
    assert status == 200
    assert api.post(f"/leases/{lease['lease_id']}/answer", other_worker, {"answer": GOLD})[0] == 200
    status, lease = api.post(f"/projects/{project_id}/tasks/gold/lease", worker)
    assert status == 200
    from chalicelib.models import Project
    try:  # a published run, so that results routes have something to serve
        from chalicelib.services import aggregator
        aggregator.aggregate_project(Project.get(project_id))
    except Exception as exc:  # results routes then answer 404 for everyone
        print(f"no aggregation run for the matrix: {exc!r}")

    callers = {"no key": (None, None), "wrong key": ("fk_req_" + secrets.token_urlsafe(32), None),
               "admin": (admin, "admin"), "worker": (worker, "worker"),
               "other worker": (other_worker, "worker"), "owner requester": (owner, "requester"),
               "other requester": (other_requester, "requester")}
    if "integrator" in roles:
        scoped = {"project_ids": [project_id]} if "project_ids" in key_schema.get("properties", {}) else {}
        callers["integrator"] = (key("integrator", **scoped)[0], "integrator")
        if scoped:
            callers["integrator of another project"] = (
                key("integrator", project_ids=[f"p-{secrets.token_hex(8)}"])[0], "integrator")
    from chalicelib.models import Project
    run_id = Project.get(project_id, consistent_read=True).last_run_id
    ids = {"project_id": project_id, "task_id": "gold", "lease_id": lease["lease_id"], "run_id": run_id or "x",
           "owner_id": owner_id, "worker_id": worker_id, "other_worker_id": other_worker_id,
           "other_requester_id": other_requester_id,
           # Requesters name workers by pseudonym; an admin erases a worker of its own.
           "other_worker_pseudonym": pseudonyms.for_requester(owner_id, other_worker_id),
           "erasable_worker_id": key("worker")[1]}
    return callers, ids, document


def path_value(name: str, path: str, ids: dict) -> str:
    if name == "worker_id":
        return ids["other_worker_pseudonym"] if path.startswith("/projects/") else ids["erasable_worker_id"]
    return ids.get(name, "x")


def expected(caller: str, role: str | None, operation: dict, path: str) -> str:
    """'pass', or the denial: '401', '401 invalid_api_key', '403 wrong_role', '404 project_not_found',
    '403 lease_not_yours'."""
    roles = operation.get("x-roles")
    if not roles:
        return "pass"
    if caller == "no key":
        return "401"
    if caller == "wrong key":
        return "401 invalid_api_key"
    if role not in roles and role != "admin":
        return "403 wrong_role"
    if "{lease_id}" in path and caller != "worker":
        return "403 lease_not_yours"
    if "{project_id}" in path and caller in ("other requester", "integrator of another project"):
        return "404 project_not_found"
    return "pass"


def outcome(status: int, body) -> str:
    code = body.get("error", {}).get("code") if isinstance(body, dict) else None
    if status == 401 and code is None:
        return "401"
    if code in DENIALS:
        return f"{status} {code}"
    return "pass" if status < 500 else f"{status} server error"


def fetch(url: str) -> str:
    import requests

    response = requests.get(url, timeout=10)
    assert response.status_code == 200, url
    FETCHED.append(url)
    return response.text


def text_of(body) -> str:
    return json.dumps(body, ensure_ascii=False)


def keys_in(body) -> set:
    found, stack = set(), [body]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            found |= set(value)
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return found


def test_every_route_for_every_caller(api, world):
    callers, ids, document = world
    failures, checked, table = [], 0, []
    # Lease routes last and the lease holder last of all, so every caller sees the live lease;
    # a worker's erasure of itself after everything else.
    operations = sorted(((path, method.upper(), op) for path, ops in document["paths"].items()
                         for method, op in ops.items()),
                        key=lambda r: (r[:2] == ("/me", "DELETE"), "{lease_id}" in r[0]))
    for path, method, operation in operations:
        concrete = path
        for name in operation.get("parameters", []):
            if name["in"] == "path":
                concrete = concrete.replace("{%s}" % name["name"], path_value(name["name"], path, ids))
        order = sorted(callers, key=lambda c: c == "worker")
        for caller in order:
            key, role = callers[caller]
            status, body = api.request(method, concrete, key, body_for(method, path, operation, ids))
            got, want = outcome(status, body), expected(caller, role, operation, path)
            checked += 1
            table.append(f"{method:5} {path:45} {caller:30} {status} {got}")
            if got != want:
                failures.append(f"{method} {path} as {caller}: expected {want}, got {status} {body}")
            if status >= 500:
                continue
            text = text_of(body)
            if role in ("worker", "integrator") and 200 <= status < 300 and not path.startswith("/openapi"):
                leaked = keys_in(body) & {"known_answer", "owner_id", "answers_detail", "gold"}
                if role == "worker" and leaked:
                    failures.append(f"{method} {path} as {caller} shows {leaked}: {text[:300]}")
                others = [ids["owner_id"], ids["other_requester_id"]]
                if role == "worker":
                    others.append(ids["other_worker_id"] if caller == "worker" else ids["worker_id"])
                if role == "integrator":  # published files name no worker either
                    others += [ids["worker_id"], ids["other_worker_id"]]
                    text += "".join(fetch(f["url"]) for f in (body.get("files") or {}).values()
                                    if isinstance(f, dict) and "url" in f)
                for secret_id in others:
                    if secret_id in text:
                        failures.append(f"{method} {path} as {caller} shows id {secret_id}: {text[:300]}")
            if caller in ("other requester", "integrator of another project") and 200 <= status < 300 \
                    and not path.startswith("/openapi") and ids["project_id"] in text:
                failures.append(f"{method} {path} as {caller} shows the owner's project: {text[:300]}")
    print(f"\nauthorization matrix: {checked} cases checked over {len(operations)} operations "
          f"x {len(callers)} callers; {len(FETCHED)} published files read as integrator")
    print("\n".join(table))
    assert not failures, "\n".join(failures)


def test_others_resources_answer_exactly_like_missing_ones(api, world):
    callers, ids, document = world
    other, _ = callers["other requester"]
    missing = f"p-{secrets.token_hex(8)}"
    compared = 0
    for path, ops in document["paths"].items():
        if "{project_id}" not in path:
            continue
        for method, operation in ops.items():
            if "requester" not in operation.get("x-roles", []):
                continue
            answers = []
            for project_id in (ids["project_id"], missing):
                concrete = path.replace("{project_id}", project_id).replace("{task_id}", "gold")
                status, body = api.request(method.upper(), concrete, other,
                                           body_for(method.upper(), path, operation, ids))
                answers.append((status, body["error"]["code"], body["error"]["message"].replace(project_id, "ID")))
            assert answers[0] == answers[1] == (404, "project_not_found", "No project 'ID'."), (path, answers)
            compared += 1
    assert compared >= 6
    print(f"\n{compared} project routes answer another's project exactly like a missing one")


def test_a_forged_lease_of_another_worker_is_refused_without_reading_the_store(api, world):
    """Lease ids are sealed: another worker's is 403 lease_not_yours; altered (one bit) or
    written by hand in the unsealed layout, naming another worker's task, it is no lease."""
    callers, ids, _ = world
    other_worker, _ = callers["other worker"]
    real = ids["lease_id"]
    raw = bytearray(base64.urlsafe_b64decode(real + "=" * (-len(real) % 4)))
    raw[len(raw) // 2] ^= 1
    altered = base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    by_hand = base64.urlsafe_b64encode(json.dumps([ids["project_id"], "plain", ids["worker_id"], "0", "x"])
                                       .encode()).decode().rstrip("=")
    for action, body in (("answer", {"answer": "cat"}), ("release", None)):
        status, answer = api.request("POST", f"/leases/{real}/{action}", other_worker, body)
        assert (status, answer["error"]["code"]) == (403, "lease_not_yours")
        for forged in (altered, by_hand):
            status, answer = api.request("POST", f"/leases/{forged}/{action}", other_worker, body)
            assert (status, answer["error"]["code"]) == (403 if forged == by_hand else 404,
                                                         "lease_not_yours" if forged == by_hand else "lease_not_found")


def test_a_worker_cannot_tell_a_gold_task(api, world):
    callers, ids, _ = world
    worker, _ = callers["other worker"]
    fresh, _ = callers["worker"]
    status, plain = api.post(f"/projects/{ids['project_id']}/tasks/plain/lease", worker)
    assert status == 200
    status, gold = api.post(f"/projects/{ids['project_id']}/tasks/gold/lease", fresh)
    assert status == 200  # asked again: the same live lease
    assert set(plain) == set(gold) and "known_answer" not in plain
    assert {k: v for k, v in plain.items() if k not in ("lease_id", "task_id", "payload", "expires_at")} == \
        {k: v for k, v in gold.items() if k not in ("lease_id", "task_id", "payload", "expires_at")}
    status, receipt = api.post(f"/leases/{plain['lease_id']}/answer", worker, {"answer": "cat"})
    assert status == 200 and "known_answer" not in receipt and "correct" not in text_of(receipt)
    status, me = api.get("/me", worker)
    assert status == 200 and me["worker_id"] == ids["other_worker_id"]
    assert ids["worker_id"] not in text_of(me)
