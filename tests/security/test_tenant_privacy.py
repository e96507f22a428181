"""Two tenants, as attackers of each other: nothing of requester B's workers, answers or figures
reaches requester A (and the other way round) beyond A's own pseudonyms of the workers who
worked for A, and no raw worker id reaches any requester.

Requesters A (two projects) and B (one) share two workers and each has one of its own; every
project has gold. Every route of the served OpenAPI description is classified below: a route
a requester (or its integrator) calls is walked with A's ids, B's ids and a mix of both (B's
worker pseudonyms, raw worker ids, B's assignment ids on A's project), as A and as B, and every
response is read, with every published file behind its presigned URLs. A route added later and
not classified here fails the walk, saying so.

What counts as a leak in a response to requester R, whose counterpart is O:
- any worker's raw id, in clear or inside a base64 token (an unsealed lease id or cursor);
- O's project ids, task ids, titles, labels (O's answers), review reasons and bonus reasons,
  O's owner id, O's pseudonym of any worker;
- a pseudonym that does not open, for R, to a worker who worked for R;
except what R itself put in that very request (an error may echo the id it was sent).
"""
import base64
import binascii
import gzip
import itertools
import json
import re
import secrets

import pytest
import requests

from chalicelib import auth
from chalicelib.services import pseudonyms
from tests.scheduled import run_aggregator

# Routes no requester or integrator key can call (the authorization matrix checks that): why
# a tenant's walk does not cover them.
NOT_FOR_REQUESTERS = {
    ("POST", "/work/next"): "worker", ("POST", "/projects/{project_id}/tasks/{task_id}/lease"): "worker",
    ("POST", "/leases/{lease_id}/answer"): "worker", ("POST", "/leases/{lease_id}/release"): "worker",
    ("POST", "/leases/{lease_id}/extend"): "worker", ("POST", "/answers"): "worker",
    ("GET", "/me/assignments"): "worker", ("GET", "/me"): "worker", ("DELETE", "/me"): "worker",
    ("GET", "/me/ledger"): "worker", ("GET", "/me/profile"): "worker", ("PUT", "/me/profile"): "worker",
    ("GET", "/work/projects"): "worker",
    ("DELETE", "/workers/{worker_id}"): "admin",
}

# How a requester calls each of its routes: a body (or None). Path parameters come from the
# bindings of `walk`.
REQUESTER_BODIES = {
    ("POST", "/projects"): lambda b: {"title": "walk", "answer_type": {"kind": "single_choice",
                                                                       "labels": ["x", "y"]}},
    ("GET", "/projects"): None,
    ("GET", "/projects/{project_id}"): None,
    ("PATCH", "/projects/{project_id}"): lambda b: {"priority": 1},
    ("GET", "/projects/{project_id}/progress"): None,
    ("POST", "/projects/{project_id}/tasks"): lambda b: {"tasks": [{"task_id": "walk-task", "payload": {}}]},
    ("GET", "/projects/{project_id}/tasks"): None,
    ("GET", "/projects/{project_id}/tasks/{task_id}"): None,
    ("POST", "/projects/{project_id}/tasks/cancel"): lambda b: {"task_ids": ["no-such-task"]},
    ("POST", "/projects/{project_id}/media"): lambda b: {"content_type": "image/png", "size_bytes": 10},
    ("GET", "/projects/{project_id}/results"): None,
    ("GET", "/projects/{project_id}/results/{run_id}"): None,
    ("POST", "/projects/{project_id}/aggregate"): None,
    ("PUT", "/projects/{project_id}/webhook"): lambda b: {"url": "https://hooks.example.org/walk"},
    ("GET", "/projects/{project_id}/webhook"): None,
    ("DELETE", "/projects/{project_id}/webhook"): None,
    ("GET", "/projects/{project_id}/webhook/deliveries"): None,
    ("POST", "/projects/{project_id}/webhook/deliveries/{delivery_id}/replay"): None,
    ("GET", "/projects/{project_id}/workers"): None,
    ("GET", "/projects/{project_id}/workers/{worker_id}"): None,
    ("PUT", "/projects/{project_id}/workers/{worker_id}/block"): lambda b: {"duration_seconds": 60},
    ("DELETE", "/projects/{project_id}/workers/{worker_id}/block"): None,
    ("PUT", "/projects/{project_id}/workers/{worker_id}/exclude"): None,
    ("DELETE", "/projects/{project_id}/workers/{worker_id}/exclude"): None,
    ("GET", "/projects/{project_id}/assignments"): None,
    ("POST", "/assignments/approve"): lambda b: {"assignment_ids": b["assignment_ids"], "reason": "walk feedback"},
    ("POST", "/assignments/reject"): lambda b: {"assignment_ids": b["assignment_ids"], "reason": "walk reason"},
    ("POST", "/projects/{project_id}/bonuses"): lambda b: {"worker_id": b["worker_id"], "cents": 1,
                                                           "reason": "walk bonus",
                                                           "client_token": f"walk-{len(b['worker_id'])}"},
    ("GET", "/projects/{project_id}/payments"): None,
    ("POST", "/keys"): lambda b: {"role": "integrator", "project_ids": [b["project_id"]], "name": "walk"},
    ("GET", "/keys"): None,
    ("GET", "/keys/{key_id}"): None,
    ("PATCH", "/keys/{key_id}"): lambda b: {"expires_at": 4102444800000},
    ("POST", "/keys/{key_id}/rotate"): lambda b: {"grace_seconds": 0},
    ("DELETE", "/keys/{key_id}"): None,
    ("GET", "/projects/{project_id}/audit"): None,
    ("GET", "/audit"): None,
    ("GET", "/openapi.json"): None,
}


class Tenant:
    def __init__(self, name: str, labels: list[str]):
        self.name, self.labels = name, labels
        self.key, key = auth.create_key("requester")
        self.owner_id = key.owner_id
        self.projects, self.tasks, self.workers = [], {}, set()
        self.secrets = set()  # strings only this tenant may see

    def alias(self, worker_id: str) -> str:
        return pseudonyms.for_requester(self.owner_id, worker_id)


def answer_all(api, worker_key, project_id, task_ids, label):
    for task_id in task_ids:
        status, lease = api.post(f"/projects/{project_id}/tasks/{task_id}/lease", worker_key)
        assert status == 200, lease
        assert api.post(f"/leases/{lease['lease_id']}/answer", worker_key, {"answer": label})[0] == 200


def make_project(api, tenant: Tenant, word: str) -> str:
    title = f"{tenant.name}-title-{secrets.token_hex(4)}"
    status, project = api.post("/projects", tenant.key, {
        "title": title, "overlap": 5, "reward_cents": 3,
        "answer_type": {"kind": "single_choice", "labels": tenant.labels}})
    assert status == 201, project
    project_id = project["project_id"]
    task_ids = [f"{tenant.name}-{word}-{i}-{secrets.token_hex(3)}" for i in range(2)]  # a gold, a plain
    tasks = [{"task_id": t, "payload": {"text": f"{tenant.name} payload {t}"}} for t in task_ids]
    tasks[0]["known_answer"] = tenant.labels[0]  # gold
    assert api.post(f"/projects/{project_id}/tasks", tenant.key, {"tasks": tasks})[0] == 200
    tenant.projects.append(project_id)
    tenant.tasks[project_id] = task_ids
    tenant.secrets |= {project_id, title, *task_ids, *tenant.labels}
    return project_id


@pytest.fixture(scope="module")
def tenants(api):
    """A (projects a1, a2; labels cat-a/dog-a) and B (project b1; labels heron-b/otter-b); workers
    s1 and s2 work for both, a_only for A, b_only for B. Answers reviewed, a bonus paid, every
    project published."""
    a, b = Tenant("tenant-a", ["cat-a", "dog-a"]), Tenant("tenant-b", ["heron-b", "otter-b"])
    workers = {name: auth.create_key("worker") for name in ("s1", "s2", "a_only", "b_only")}
    raw = {name: key.owner_id for name, (_, key) in workers.items()}
    a1, a2, b1 = make_project(api, a, "one"), make_project(api, a, "two"), make_project(api, b, "one")
    for tenant, project_id, names in ((a, a1, ("s1", "s2", "a_only")), (a, a2, ("s1", "a_only")),
                                      (b, b1, ("s1", "s2", "b_only"))):
        for i, name in enumerate(names):
            answer_all(api, workers[name][0], project_id, tenant.tasks[project_id], tenant.labels[i % 2])
            tenant.workers.add(raw[name])
    for tenant, project_id in ((a, a1), (b, b1)):
        reason, bonus = f"{tenant.name}-rejected-{secrets.token_hex(3)}", f"{tenant.name}-bonus-{secrets.token_hex(3)}"
        tenant.secrets |= {reason, bonus, tenant.owner_id}
        items = api.get(f"/projects/{project_id}/assignments", tenant.key)[1]["items"]
        assert api.post("/assignments/approve", tenant.key, {"assignment_ids": [items[0]["assignment_id"]],
                                                             "reason": f"{tenant.name}-thanks"})[0] == 200
        assert api.post("/assignments/reject", tenant.key, {"assignment_ids": [items[1]["assignment_id"]],
                                                            "reason": reason})[0] == 200
        status, paid = api.post(f"/projects/{project_id}/bonuses", tenant.key, {
            "assignment_id": items[2]["assignment_id"], "cents": 2, "reason": bonus, "client_token": "walk"})
        assert status == 201, paid
        tenant.secrets.add(f"{tenant.name}-thanks")
    assert set(run_aggregator(a1, a2, b1)) == {a1, a2, b1}
    return a, b, raw


# --- what a response may hold ---------------------------------------------------------------------
TOKEN = re.compile(r"[A-Za-z0-9_\-]{16,}")
PSEUDONYM = re.compile(re.escape(pseudonyms.PREFIX) + r"[A-Za-z0-9_\-]+")


def decoded_tokens(text: str):
    """Every base64url-looking run of the text, decoded: what an attacker would try."""
    for token in TOKEN.findall(text):
        for start in range(4):  # the token may start mid-group inside a longer string
            chunk = token[start:]
            try:
                yield base64.urlsafe_b64decode(chunk + "=" * (-len(chunk) % 4)).decode("latin-1")
            except (binascii.Error, ValueError):
                continue


def leaks(text: str, reader: Tenant, other: Tenant, raw: dict, sent: str) -> list[str]:
    found = []
    forbidden = set(raw.values()) | other.secrets | {other.alias(w) for w in raw.values()} \
        | {reader.alias(w) for w in raw.values() if w not in reader.workers}
    for secret in forbidden:
        if secret in text and secret not in sent:
            found.append(f"shows {secret!r}")
    hidden = "\n".join(decoded_tokens(text))
    found += [f"holds raw worker id {w} in a base64 token" for w in raw.values() if w in hidden]
    for pseudonym in set(PSEUDONYM.findall(text)) - set(PSEUDONYM.findall(sent)):
        if pseudonyms.resolve(reader.owner_id, pseudonym) not in reader.workers:
            found.append(f"shows pseudonym {pseudonym[:20]}... of no worker of {reader.name}")
    return found


def files_of(body) -> str:
    """The published files a results response points to, downloaded (gzip opened)."""
    texts = []
    for entry in (body.get("files") or {}).values() if isinstance(body, dict) else ():
        if isinstance(entry, dict) and entry.get("url"):
            content = requests.get(entry["url"], timeout=10).content
            texts.append((gzip.decompress(content) if entry["url"].split("?")[0].endswith(".gz")
                          else content).decode())
    return "\n".join(texts)


# --- the walk --------------------------------------------------------------------------------------
def bindings(api, reader: Tenant, other: Tenant, raw: dict) -> list[dict]:
    """Path parameters and body inputs to try as `reader`: its own, the other's, and mixes."""
    def listed(tenant, project_id):
        workers = [w["worker_id"] for w in api.get(f"/projects/{project_id}/workers", tenant.key)[1]["items"]]
        assignments = [a["assignment_id"] for a in
                       api.get(f"/projects/{project_id}/assignments", tenant.key)[1]["items"]]
        results = api.get(f"/projects/{project_id}/results", tenant.key)[1]
        api.request("PUT", f"/projects/{project_id}/webhook", tenant.key, {"url": "https://hooks.example.org/w"})
        deliveries = api.get(f"/projects/{project_id}/webhook/deliveries", tenant.key)[1].get("items") or []
        key = api.post("/keys", tenant.key, {"role": "integrator", "project_ids": [project_id]})[1]
        return workers, assignments, results.get("run_id", "no-run"), \
            deliveries[0]["delivery_id"] if deliveries else "dlv_none", key["key_id"]

    own = []
    for project_id in reader.projects:
        workers, assignments, run_id, delivery, key_id = listed(reader, project_id)
        # The gold task and a plain one, each with another of the project's workers.
        own += [{"project_id": project_id, "task_id": task_id, "worker_id": worker, "run_id": run_id,
                 "delivery_id": delivery, "assignment_ids": assignments[:2], "key_id": key_id}
                for task_id, worker in zip(reader.tasks[project_id][:2], itertools.cycle(workers))]
    theirs_project = other.projects[0]
    o_workers, o_assignments, o_run, o_delivery, o_key = listed(other, theirs_project)
    foreign = {"project_id": theirs_project, "task_id": other.tasks[theirs_project][0], "worker_id": o_workers[0],
               "run_id": o_run, "delivery_id": o_delivery, "assignment_ids": o_assignments[:2], "key_id": o_key}
    shared_raw = raw["s1"]
    mixed = [{**own[0], "worker_id": other.alias(shared_raw), "assignment_ids": o_assignments[:1]},
             {**own[0], "worker_id": shared_raw, "task_id": foreign["task_id"], "run_id": o_run,
              "delivery_id": o_delivery, "key_id": o_key}]
    return own + [foreign] + mixed


def walk(api, document, reader: Tenant, other: Tenant, raw: dict) -> tuple[int, list[str], set]:
    problems, calls, covered = [], 0, set()
    binds = bindings(api, reader, other, raw)
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            route = (method.upper(), path)
            if route in NOT_FOR_REQUESTERS:
                assert not set(operation.get("x-roles") or ()) & {"requester", "integrator"}, \
                    f"{route} is callable by requesters: walk it (REQUESTER_BODIES)"
                continue
            if route not in REQUESTER_BODIES:
                problems.append(f"{route} is not classified: add it to REQUESTER_BODIES (a requester "
                                f"calls it) or NOT_FOR_REQUESTERS (with the only role that can)")
                continue
            covered.add(route)
            seen = set()
            for bind in binds:
                concrete = re.sub(r"\{(\w+)\}", lambda m: bind[m.group(1)], path)
                make_body = REQUESTER_BODIES[route]
                body = make_body(bind) if make_body else None
                if (concrete, json.dumps(body, sort_keys=True)) in seen:
                    continue
                seen.add((concrete, json.dumps(body, sort_keys=True)))
                status, data = api.request(method.upper(), concrete, reader.key, body)
                calls += 1
                if status >= 500:
                    problems.append(f"{route} {concrete} as {reader.name}: {status} {data}")
                text = json.dumps(data) + "\n" + (files_of(data) if "results" in path and status == 200 else "")
                sent = concrete + json.dumps(body)
                problems += [f"{method.upper()} {concrete} as {reader.name} {p}"
                             for p in leaks(text, reader, other, raw, sent)]
    return calls, problems, covered


def test_no_route_or_file_shows_a_requester_anything_of_the_other_tenant(api, tenants):
    a, b, raw = tenants
    status, document = api.get("/openapi.json")
    assert status == 200
    problems, total, covered = [], 0, set()
    for reader, other in ((a, b), (b, a)):
        calls, found, routes = walk(api, document, reader, other, raw)
        problems += found
        total += calls
        covered |= routes
    print(f"\ntenant walk: {total} requests over {len(covered)} requester routes, as A and as B; "
          f"{len(NOT_FOR_REQUESTERS)} routes are for workers or admins only")
    by_route = sorted({f"{p.split()[0]} {re.sub(r'p-[0-9a-f]+|tenant-[^/ ]+|wp-[^/ ]+', '*', p.split()[1])}"
                       for p in problems})
    assert not problems, f"{len(set(problems))} leaks on {len(by_route)} routes:\n" + "\n".join(by_route) + \
        "\n\n" + "\n".join(sorted(set(problems))[:40])
    assert len(covered) == len(REQUESTER_BODIES)


def test_pseudonyms_are_stable_for_one_requester_and_differ_between_requesters(api, tenants):
    a, b, raw = tenants
    def names(tenant, project_id):
        return {w["worker_id"] for w in api.get(f"/projects/{project_id}/workers", tenant.key)[1]["items"]}

    a1, a2 = a.projects[:2]
    assert names(a, a1) & names(a, a2) == {a.alias(raw["s1"]), a.alias(raw["a_only"])}  # across A's projects
    assert not names(a, a1) & names(b, b.projects[0])  # s1 and s2 worked for both, under other names
    status, body = api.get(f"/projects/{a1}/workers/{b.alias(raw['s1'])}", a.key)
    assert (status, body["error"]["code"]) == (404, "worker_not_found")


def test_the_cross_project_reliability_is_the_callers_own(api, tenants):
    """B's data moves nothing A sees: s1 answers many more of B's gold tasks, all wrong, and
    B's project is aggregated again; A's figures for s1 stay the same to the last digit."""
    a, b, raw = tenants
    a1 = a.projects[0]
    path = f"/projects/{a1}/workers/{a.alias(raw['s1'])}"
    before = api.get(path, a.key)[1]
    b1 = b.projects[0]
    gold = [{"task_id": f"tenant-b-more-{i}-{secrets.token_hex(2)}", "payload": {}, "known_answer": "heron-b"}
            for i in range(6)]
    assert api.post(f"/projects/{b1}/tasks", b.key, {"tasks": gold})[0] == 200
    s1_key, _ = auth.create_key("worker", raw["s1"])  # a second key of s1
    answer_all(api, s1_key, b1, [t["task_id"] for t in gold], "otter-b")
    run_aggregator(b1)
    after = api.get(path, a.key)[1]
    assert after == before, (before, after)
    b_view = api.get(f"/projects/{b1}/workers/{b.alias(raw['s1'])}", b.key)[1]
    assert b_view["gold_answers"] >= 7 and b_view["global_reliability"] != before["global_reliability"]
