"""Input limits: every oversized, malformed or hostile input is a 4xx with a stable code.

Never a 500, never a RecursionError, never a value silently changed on its way to the store.
"""
import dataclasses
import json
import re

import pytest

LABELS = {"kind": "single_choice", "labels": ["cat", "dog"]}


def project_body(**fields):
    return {"title": "Limits", "answer_type": LABELS, **fields}


@pytest.fixture
def project(make_project):
    return make_project()


def tasks_raw(payload_json: str, task_id="t1") -> str:
    return '{"tasks": [{"task_id": "%s", "payload": {"x": %s}}]}' % (task_id, payload_json)


def error_code(response):
    status, body = response
    assert 400 <= status < 500, (status, body)
    return status, body["error"]["code"]


# --- size -------------------------------------------------------------------------------
def test_body_size(api, requester, monkeypatch):
    import chalicelib.api as api_module

    monkeypatch.setattr(api_module, "settings", dataclasses.replace(api_module.settings, max_body_bytes=1000))
    assert error_code(api.post("/projects", requester, project_body(title="x" * 2000))) == (413, "body_too_large")


def test_batch_size_and_task_size(api, requester, project):
    too_many = {"tasks": [{"task_id": f"t{i}", "payload": {}} for i in range(1001)]}
    assert error_code(api.post(f"/projects/{project}/tasks", requester, too_many)) == (400, "validation_error")
    big = {"tasks": [{"task_id": "big", "payload": {"text": "x" * 70_000}}, {"task_id": "ok", "payload": {}}]}
    status, result = api.post(f"/projects/{project}/tasks", requester, big)
    assert status == 200 and result["created"] == 1
    assert [(e["index"], e["code"]) for e in result["errors"]] == [(0, "task_too_large")]


def test_label_count_and_string_lengths(api, requester):
    many = {"kind": "single_choice", "labels": [f"l{i}" for i in range(101)]}
    cases = [project_body(answer_type=many), project_body(title=""), project_body(title="x" * 201),
             project_body(instructions="x" * 20_001),
             project_body(answer_type={"kind": "single_choice", "labels": ["x" * 201, "b"]}),
             project_body(answer_type={"kind": "single_choice", "labels": ["", "b"]})]
    for body in cases:
        status, data = api.post("/projects", requester, body)
        assert (status, data["error"]["code"]) == (400, "validation_error"), body
    status, _ = api.get("/projects?cursor=" + "a" * 2049, requester)
    assert status == 400


# --- unicode ------------------------------------------------------------------------------
@pytest.mark.parametrize("raw", [
    '{"title": "\\ud800", "answer_type": {"kind": "single_choice", "labels": ["a", "b"]}}',
    '{"title": "ok", "answer_type": {"kind": "single_choice", "labels": ["\\udfff", "b"]}}',
    '{"title": "a\\u0000b", "answer_type": {"kind": "single_choice", "labels": ["a", "b"]}}',
    '{"title": "ok", "answer_type": {"kind": "single_choice", "labels": ["a\\u0000", "b"]}}',
])
def test_lone_surrogates_and_nul_in_titles_and_labels(api, requester, raw):
    assert error_code(api.request("POST", "/projects", requester, body=raw)) == (400, "invalid_unicode")


@pytest.mark.parametrize("raw", [tasks_raw('"\\ud800"'), tasks_raw('{"\\udc00": 1}'), tasks_raw('"a\\u0000"'),
                                 tasks_raw('{"\\u0000": [1]}'), tasks_raw('{"ok": {"\\ud800": {}}}'),
                                 '{"tasks": [{"task_id": "a\\u0000", "payload": {}}]}'])
def test_lone_surrogates_and_nul_in_tasks(api, requester, project, raw):
    assert error_code(api.request("POST", f"/projects/{project}/tasks", requester, body=raw)) == \
        (400, "invalid_unicode")


def test_valid_unicode_is_kept_exactly(api, requester, project):
    text = "chat 🐱 — 猫, é\u200b"
    status, result = api.post(f"/projects/{project}/tasks", requester,
                              {"tasks": [{"task_id": "u", "payload": {"text": text, "🐶": [1, 2.5]}}]})
    assert status == 200 and result["created"] == 1
    status, task = api.get(f"/projects/{project}/tasks/u", requester)
    assert status == 200 and task["payload"] == {"text": text, "🐶": [1, 2.5]}


def test_ids_with_nul_control_or_huge_length_are_404_not_500(api, requester, new_key):
    worker, _ = new_key("worker")
    # (API Gateway hands views decoded path parameters; the test client passes them as given.)
    for bad in ["a\x00b", "a\x1fb", "x" * 5000]:
        status, body = api.get(f"/projects/{bad}", requester)
        assert (status, body["error"]["code"]) == (404, "project_not_found")
        status, body = api.post(f"/leases/{bad}/answer", worker, {"answer": "cat"})
        assert (status, body["error"]["code"]) == (404, "lease_not_found")


# --- numbers -------------------------------------------------------------------------------
@pytest.mark.parametrize("fields", [{"overlap": -1}, {"overlap": 0}, {"overlap": 2**63}, {"reward_cents": -1},
                                    {"reward_cents": 2**63}, {"lease_seconds": 2**64}, {"priority": -(2**63)},
                                    {"overlap": 1.5}, {"overlap": [3]}, {"overlap": None}])
def test_integers_out_of_range(api, requester, fields):
    status, body = api.post("/projects", requester, project_body(**fields))
    assert (status, body["error"]["code"]) == (400, "validation_error"), fields


@pytest.mark.parametrize("number", ["1e309", "-1e309", "NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_are_refused_not_stored_as_null(api, requester, project, number):
    assert error_code(api.request("POST", f"/projects/{project}/tasks", requester, body=tasks_raw(number))) == \
        (400, "invalid_number")
    raw = '{"title": "x", "overlap": %s, "answer_type": {"kind": "single_choice", "labels": ["a", "b"]}}' % number
    assert error_code(api.request("POST", "/projects", requester, body=raw)) == (400, "invalid_number")


def test_query_numbers_out_of_range(api, requester):
    for limit in ["0", "-1", "1001", str(2**63), "1e309", "NaN", "abc"]:
        status, body = api.get(f"/projects?limit={limit}", requester)
        assert (status, body["error"]["code"]) == (400, "validation_error"), limit


def test_time_spent_out_of_range(api, new_key):
    worker, _ = new_key("worker")
    for value in [-1, 2**63, 86_400_001]:
        status, body = api.post("/leases/nope/answer", worker, {"answer": "cat", "time_spent_ms": value})
        assert (status, body["error"]["code"]) == (400, "validation_error")


# --- nesting ---------------------------------------------------------------------------------
@pytest.mark.parametrize("depth", [33, 100, 500, 990, 10_000, 100_000])
def test_deep_nesting_is_a_400_too_deep(api, requester, project, new_key, depth):
    status, code = error_code(api.request("POST", f"/projects/{project}/tasks", requester,
                                          body=tasks_raw("[" * depth + "]" * depth)))
    assert (status, code) == (400, "too_deep")
    nested_objects = '{"a":' * depth + "1" + "}" * depth
    assert error_code(api.request("POST", f"/projects/{project}/tasks", requester,
                                  body=tasks_raw(nested_objects, "t2"))) == (400, "too_deep")
    worker, _ = new_key("worker")
    assert error_code(api.request("POST", "/work/next", worker, body="[" * depth + "]" * depth)) == \
        (400, "too_deep")
    status, code = error_code(api.request("POST", "/leases/x/answer", worker,
                                          body='{"answer": ' + "[" * depth + "]" * depth + "}"))
    assert (status, code) == (400, "too_deep")


def test_nesting_within_the_limit_is_stored_and_read_back(api, requester, project):
    # The body itself is 4 levels ({"tasks": [{"payload": {...}}]}): 28 more are allowed.
    value = 1
    for _ in range(27):
        value = [value]
    status, result = api.post(f"/projects/{project}/tasks", requester,
                              {"tasks": [{"task_id": "deep", "payload": {"x": value}}]})
    assert status == 200 and result == {"created": 1, "unchanged": 0, "errors": []}
    status, task = api.get(f"/projects/{project}/tasks/deep", requester)
    assert status == 200 and task["payload"] == {"x": value}


# --- content type and JSON ----------------------------------------------------------------------
def test_wrong_content_type_and_bad_json(api, requester):
    status, body = api.request("POST", "/projects", requester, body="title=x",
                               headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert (status, body["error"]["code"]) == (415, "unsupported_media_type")
    for raw in ["[1, 2]", "{", '"x"', "null", "\xff", '{"title": 1e99999999}', "1" * 5000]:
        status, body = api.request("POST", "/projects", requester, body=raw)
        assert status == 400 and body["error"]["code"] in ("invalid_json", "invalid_number"), raw


# --- cursors ------------------------------------------------------------------------------------
def _cursor(key: dict) -> str:
    """A cursor sealed with the deployment's key (an insider's forgery): still checked."""
    from chalicelib import sealing
    from chalicelib.services import paging

    return sealing.seal(paging.PURPOSE, json.dumps(key).encode())


@pytest.mark.parametrize("extra", [{"task_id": {"N": "1"}}, {"task_id": {"BOGUS": "a"}}, {"task_id": "plain"},
                                   {}, {"task_id": {"S": "a"}, "other": {"S": "x"}}])
def test_a_forged_cursor_is_a_400(api, requester, project, add_tasks, extra):
    add_tasks(project, [{"task_id": "a", "payload": {}}, {"task_id": "b", "payload": {}}])
    cursor = _cursor({"project_id": {"S": project}, **extra})
    status, body = api.get(f"/projects/{project}/tasks?limit=1&cursor={cursor}", requester)
    assert (status, body["error"]["code"]) == (400, "invalid_cursor")
    status, body = api.get(f"/projects/{project}/tasks?limit=1&cursor=not-sealed{cursor}", requester)
    assert (status, body["error"]["code"]) == (400, "invalid_cursor")


# --- the bulk check agrees with the exact walk ----------------------------------------------------
def test_the_bulk_json_check_agrees_with_the_exact_walk():
    from hypothesis import given, settings, strategies as st

    from chalicelib import api as api_module
    from chalicelib.errors import BadRequest

    text = st.text(alphabet=st.sampled_from(["a", "é", "\x00", "\ud800", "\udc31", "🐱"]), max_size=4)
    leaf = st.none() | st.integers() | st.floats() | text  # floats include nan and inf
    value = st.recursive(leaf, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
                         max_leaves=20)

    def nest(v, depth):
        for _ in range(depth):
            v = [v]
        return v

    @settings(max_examples=300, deadline=None, database=None, derandomize=True)
    @given(value, st.integers(0, 40))
    def agree(v, depth):
        data = {"x": nest(v, depth)}
        try:
            api_module._find_problem(data)
            exact = True
        except BadRequest:
            exact = False
        assert api_module._looks_clean(data) == exact

    agree()


def test_every_path_id_with_control_characters_gets_its_own_not_found_code(api, new_key):
    """Each kind of id in a path answers like an unknown id of that kind (run_not_found,
    delivery_not_found, ...), the codes the services use, so a client handles both alike."""
    admin, _ = new_key("admin")
    status, document = api.get("/openapi.json")
    checked = set()
    for path, operations in document["paths"].items():
        names = re.findall(r"{(\w+)}", path)
        for method in operations:
            for name in names:
                url = path
                for other in names:
                    url = url.replace("{" + other + "}", "a\x1fb" if other == name else "x")
                status, body = api.request(method.upper(), url, admin, {} if method in ("post", "put", "patch") else None)
                assert (status, body["error"]["code"]) == (404, f"{name.removesuffix('_id')}_not_found"), (method, path)
                checked.add(name)
    assert checked >= {"project_id", "task_id", "lease_id", "run_id", "delivery_id", "worker_id"}
