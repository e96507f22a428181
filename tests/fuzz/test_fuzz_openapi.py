"""Property-based fuzzing of every operation of the served OpenAPI description.

For each operation, hypothesis draws bodies from its documented request schema (translated
to strategies by `from_schema` below, which covers what pydantic emits) mixed with arbitrary JSON, query parameters from their schemas, and
path parameters among real ids (a project of the caller's, its tasks, live leases) and
arbitrary text. The request is sent with a key of a role the operation allows. Every answer
must be documented: no 5xx, a status code the operation lists, a body that validates against
the schema documented for that status.

The same cases run twice: in-process through chalice.test.Client, and over real HTTP against
`chalice local` (path parameters percent-encoded as a client sends them; the gateway's own
answers must be documented JSON too). Runs use a fixed seed (the same cases each run, so
the suite is stable); FOULE_FUZZ_EXAMPLES and FOULE_FUZZ_HTTP_EXAMPLES set the examples per
operation (12 and 6 here; bench/RESULTS.md gives a longer run), FOULE_FUZZ_SEED explores others.
"""
import collections
import json
import os
import urllib.parse

import jsonschema
import pytest
import requests
from hypothesis import HealthCheck, given, seed, settings, strategies as st

EXAMPLES = int(os.environ.get("FOULE_FUZZ_EXAMPLES", "12"))
HTTP_EXAMPLES = int(os.environ.get("FOULE_FUZZ_HTTP_EXAMPLES", "6"))
SEED = int(os.environ.get("FOULE_FUZZ_SEED", "7"))

JSON_LEAF = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | \
    st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20)
ANY_JSON = st.recursive(JSON_LEAF, lambda inner: st.lists(inner, max_size=4) |
                        st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)


def from_schema(schema: dict, root: dict | None = None, depth: int = 0):
    """A strategy for the JSON Schema subset pydantic emits: $ref, anyOf/oneOf, const, enum,
    object, array, string (lengths, pattern), integer and number (bounds), boolean, null, and
    {} for any value. Sizes are kept small; the limit tests cover the boundaries."""
    root = root or schema
    if "$ref" in schema:
        target = root
        for part in schema["$ref"].lstrip("#/").split("/"):
            target = target[part]
        return from_schema(target, root, depth + 1)
    for combinator in ("anyOf", "oneOf"):
        if combinator in schema:
            return st.one_of([from_schema(s, root, depth + 1) for s in schema[combinator]])
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties", {})
        required = set(schema.get("required", []))
        strategy = st.fixed_dictionaries(
            {k: from_schema(v, root, depth + 1) for k, v in properties.items() if k in required},
            optional={k: from_schema(v, root, depth + 1) for k, v in properties.items() if k not in required})
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict) and not properties:
            values = from_schema(extra, root, depth + 1) if extra else ANY_JSON
            strategy = st.dictionaries(st.text(max_size=10), values, max_size=4)
        return strategy
    if kind == "array":
        low = schema.get("minItems", 0)
        high = min(schema.get("maxItems", low + 4), low + 4)
        return st.lists(from_schema(schema.get("items", {}), root, depth + 1), min_size=low, max_size=high)
    if kind == "string":
        if "pattern" in schema:
            return st.from_regex(schema["pattern"], fullmatch=True).filter(
                lambda t: len(t) <= schema.get("maxLength", 10**9))
        low = schema.get("minLength", 0)
        return st.text(min_size=low, max_size=min(schema.get("maxLength", low + 30), low + 30))
    if kind == "integer":
        return st.integers(schema.get("minimum"), schema.get("maximum")) | st.integers()
    if kind == "number":
        return st.floats(schema.get("minimum"), schema.get("maximum"), allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    return ANY_JSON


@pytest.fixture(scope="module")
def fuzz_world(api, chalice_app):
    """A requester's project with tasks (one gold), workers' live leases, and keys of each role."""
    from chalicelib import auth

    status, document = api.get("/openapi.json")
    assert status == 200
    roles = set(document["components"]["schemas"]["KeyCreate"]["properties"]["role"].get("enum", []))
    keys = {}
    for role in sorted(roles | {"admin", "requester", "worker"}):
        try:
            keys[role] = auth.create_key(role)[0]
        except (TypeError, ValueError):  # a role whose keys need more (e.g. a scope): made below
            pass
    requester = keys["requester"]
    status, project = api.post("/projects", requester, {
        "title": "fuzz", "overlap": 3, "answer_type": {"kind": "single_choice", "labels": ["cat", "dog"]}})
    project_id = project["project_id"]
    tasks = [{"task_id": f"t{i}", "payload": {"i": i}} for i in range(5)]
    tasks.append({"task_id": "gold", "payload": {"i": "g"}, "known_answer": "dog"})
    assert api.post(f"/projects/{project_id}/tasks", requester, {"tasks": tasks})[0] == 200
    leases = []
    for i in range(3):
        status, lease = api.post(f"/projects/{project_id}/tasks/t{i}/lease", keys["worker"])
        assert status == 200
        leases.append(lease["lease_id"])
    if "integrator" in roles and "integrator" not in keys:
        admin = keys["admin"]
        status, created = api.post("/keys", admin, {"role": "integrator", "project_ids": [project_id]})
        if status == 201:
            keys["integrator"] = created["key"]
    ids = {"project_id": [project_id], "task_id": [t["task_id"] for t in tasks], "lease_id": leases}
    return document, keys, ids


def operations():
    """(path, method) of every operation, read from the app's registry at collection time."""
    from app import api as registry  # conftest has set the environment before collection

    return [(r.path, r.method) for r in registry.routes]


def resolve(schema: dict, document: dict) -> dict:
    return {**schema, "components": document["components"]}


def body_strategy(operation: dict, document: dict):
    if "requestBody" not in operation:
        return st.none()
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    documented = from_schema(resolve(schema, document))
    return st.one_of(documented, documented, st.dictionaries(st.text(max_size=12), ANY_JSON, max_size=4))


def path_strategy(path: str, ids: dict):
    names = [p.strip("{}") for p in path.split("/") if p.startswith("{")]
    # API Gateway hands views decoded path parameters; the test client passes them as given, so
    # they are sent raw, less what cannot be in one path segment (";" starts path parameters
    # for the local gateway's URL parser).
    arbitrary = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp"),
                                      blacklist_characters="/?#%;"), min_size=1, max_size=40)
    # Mostly real ids (3 in 4), so that requests get past the lookups to the interesting part.
    def real_or_not(real: list):
        return st.sampled_from([True, True, True, False]).flatmap(
            lambda is_real: st.sampled_from(real) if is_real else arbitrary)

    return st.fixed_dictionaries({n: real_or_not(ids[n]) if n in ids else arbitrary for n in names})


def query_strategy(operation: dict, document: dict):
    params = [p for p in operation.get("parameters", []) if p["in"] == "query"]
    as_text = lambda v: v if isinstance(v, str) else json.dumps(v)  # noqa: E731
    return st.fixed_dictionaries({}, optional={
        p["name"]: st.one_of(from_schema(resolve(p["schema"], document)).map(as_text), st.text(max_size=10))
        for p in params})


def check_response(operation: dict, document: dict, status: int, body, request: str):
    assert status < 500, f"{request} -> {status} {body}"
    documented = operation["responses"]
    assert str(status) in documented, f"{request} -> undocumented status {status} {body}"
    content = documented[str(status)].get("content")
    if content:
        schema = resolve(content["application/json"]["schema"], document)
        try:
            jsonschema.Draft202012Validator(schema).validate(body)
        except jsonschema.ValidationError as error:
            raise AssertionError(f"{request} -> {status}: body does not match its schema: "
                                 f"{error.message} in {body}") from None


CASES = collections.defaultdict(lambda: {"operations": 0, "count": 0, "statuses": collections.Counter()})


def fuzz_operation(client, transport: str, fuzz_world, path: str, method: str, examples: int):
    document, keys, ids = fuzz_world
    operation = document["paths"][path][method.lower()]
    roles = operation.get("x-roles", [])
    key = keys[roles[0]] if roles and roles[0] in keys else (keys["admin"] if roles else None)
    # A worker's erasure revokes its key: each example erases a worker of its own.
    erases_its_caller = (method.upper(), path) == ("DELETE", "/me")

    @seed(SEED)
    @settings(max_examples=examples, deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck))
    @given(params=path_strategy(path, ids), query=query_strategy(operation, document),
           body=body_strategy(operation, document))
    def run(params, query, body):
        concrete = path
        for name, value in params.items():
            concrete = concrete.replace("{%s}" % name, client.path_segment(value))
        if query:
            concrete += "?" + urllib.parse.urlencode(query)
        raw = None if body is None else json.dumps(body)
        if erases_its_caller:
            from chalicelib import auth
            status, answer = client.request(method, concrete, auth.create_key("worker")[0], raw)
        else:
            status, answer = client.request(method, concrete, key, raw)
        CASES[transport]["count"] += 1
        CASES[transport]["statuses"][status] += 1
        check_response(operation, document, status, answer, f"{method} {concrete} {(raw or '')[:300]}")

    run()
    CASES[transport]["operations"] += 1


class InProcess:
    """The test client hands views path parameters as given, as API Gateway hands them decoded."""

    def __init__(self, api):
        self.api = api

    @staticmethod
    def path_segment(value: str) -> str:
        return value

    def request(self, method, path, key, raw):
        return self.api.request(method, path, key, raw)


class OverHttp:
    """Real HTTP to `chalice local`: path parameters percent-encoded, as a client sends them."""

    def __init__(self, url: str):
        self.url, self.session = url, requests.Session()

    @staticmethod
    def path_segment(value: str) -> str:
        return urllib.parse.quote(value, safe="")

    def request(self, method, path, key, raw):
        headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {key}"} if key else {})}
        response = self.session.request(method, self.url + path, data=raw.encode() if raw is not None else None,
                                        headers=headers, timeout=60)
        try:
            return response.status_code, response.json()
        except ValueError:
            raise AssertionError(f"{method} {path} -> {response.status_code}, not JSON: {response.text[:200]}") \
                from None


@pytest.fixture(scope="module")
def chalice_local_url():
    from bench import load

    with load.running_server(dict(os.environ)) as server:
        yield server.api_url


@pytest.mark.parametrize("path,method", operations())
def test_every_operation_answers_as_documented(api, fuzz_world, path, method):
    fuzz_operation(InProcess(api), "in-process", fuzz_world, path, method, EXAMPLES)


@pytest.mark.http
@pytest.mark.xdist_group("fuzz-http")  # one `chalice local` for all of them
@pytest.mark.parametrize("path,method", operations())
def test_every_operation_answers_as_documented_over_http(chalice_local_url, fuzz_world, path, method):
    fuzz_operation(OverHttp(chalice_local_url), "http", fuzz_world, path, method, HTTP_EXAMPLES)


def test_zz_report_fuzz_cases():
    for transport, cases in sorted(CASES.items()):
        print(f"\nfuzz ({transport}): {cases['count']} requests over {cases['operations']} operations "
              f"(seed {SEED}); statuses {dict(sorted(cases['statuses'].items()))}")
    assert all(cases["count"] >= cases["operations"] for cases in CASES.values())  # each got requests
