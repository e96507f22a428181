"""How a task is shown: a project's view and payload_schema, checked on upload, carried by leases."""
import pytest

SCHEMA = {"type": "object", "additionalProperties": False, "required": ["text", "lang"],
          "properties": {"text": {"type": "string", "maxLength": 50},
                         "lang": {"type": "string", "enum": ["fr", "en"]},
                         "stars": {"type": "integer", "minimum": 1, "maximum": 5},
                         "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
                         "source": {"type": "string"}}}
VIEW = [{"type": "text", "value": "## Read this\nIs the review **positive**?"},
        {"type": "text", "field": "text", "label": "Review"},
        {"type": "link", "field": "source", "label": "Source"}]


def task(task_id, **payload):
    return {"task_id": task_id, "payload": payload}


def test_a_project_declares_its_view_and_schema_and_reads_them_back(api, requester, make_project):
    project_id = make_project(view=VIEW, payload_schema={"$schema": "https://json-schema.org/draft/2020-12/schema",
                                                          **SCHEMA}, instructions="# Hello\n*be kind*")
    status, project = api.get(f"/projects/{project_id}", requester)
    assert status == 200
    assert project["view"] == VIEW  # as given: no nulls for absent options
    assert project["payload_schema"] == SCHEMA  # the "$schema" URI is dropped
    assert project["instructions"] == "# Hello\n*be kind*"


@pytest.mark.parametrize("view, where", [
    ([{"type": "text", "field": "a", "value": "b"}], "exactly one"),
    ([{"type": "text"}], "exactly one"),
    ([{"type": "html", "value": "<script>alert(1)</script>"}], "view.0"),
    ([{"type": "image", "value": "javascript:alert(1)"}], "https"),
    ([{"type": "link", "value": "http://example.com"}], "https"),
    ([{"type": "text", "field": "a b"}], "view.0.text.field"),
    ([{"type": "text", "value": "x", "colour": "red"}], "view.0.text.colour"),
    ([{"type": "text", "value": "x"}] * 31, "view"),
    ([], "view"),
])
def test_a_bad_view_is_a_clear_400(api, requester, view, where):
    body = {"title": "t", "answer_type": {"kind": "single_choice", "labels": ["a", "b"]}, "view": view}
    status, error = api.post("/projects", requester, body)
    assert status == 400 and error["error"]["code"] == "validation_error", error
    assert where in str(error["error"]["details"]), error


@pytest.mark.parametrize("schema", [
    {"type": "object", "properties": {"a": {"type": "object", "properties": {}}}},  # nested objects
    {"type": "object", "properties": {"a": {"type": "string", "pattern": "^x"}}},
    {"type": "object", "properties": {"a": {"type": "string", "format": "email"}}},
    {"type": "object", "properties": {"a": {"$ref": "#/defs/x"}}},
    {"type": "object", "properties": {"a": {"oneOf": [{"type": "string"}]}}},
    {"type": "object", "properties": {}, "allOf": []},
    {"type": "array", "items": {"type": "string"}},
    {"type": "object", "properties": {"a": {"type": "array"}}},  # items required
    {"type": "object", "properties": {"a": {"type": "array", "items": {"type": "array", "items": {}}}}},
    {"type": "object", "properties": {"a": {"type": "string", "minimum": 1}}},
    {"type": "object", "properties": {"a": {"type": "boolean", "enum": [True]}}},
    {"type": "object", "properties": {"a": {"type": "integer", "minimum": 5, "maximum": 1}}},
    {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["b"]},
])
def test_schema_features_outside_the_subset_are_refused(api, requester, schema):
    body = {"title": "t", "answer_type": {"kind": "single_choice", "labels": ["a", "b"]}, "payload_schema": schema}
    status, error = api.post("/projects", requester, body)
    assert status == 400 and error["error"]["code"] == "validation_error", error
    assert all(f["path"].startswith("payload_schema") for f in error["error"]["details"]["fields"]), error


@pytest.mark.parametrize("view", [[{"type": "text", "field": "missing"}],
                                  [{"type": "image", "field": "stars"}],
                                  [{"type": "text", "field": "tags"}]])
def test_a_view_naming_what_the_schema_does_not_declare_is_refused(api, requester, view):
    body = {"title": "t", "answer_type": {"kind": "single_choice", "labels": ["a", "b"]},
            "payload_schema": SCHEMA, "view": view}
    status, error = api.post("/projects", requester, body)
    assert status == 400 and error["error"]["code"] == "view_schema_mismatch", error
    assert error["error"]["details"]["block"] == 0


def test_upload_refuses_by_index_each_task_its_schema_or_view_refuses(api, requester, make_project, add_tasks):
    project_id = make_project(view=VIEW, payload_schema=SCHEMA)
    ok = dict(text="great", lang="fr", source="https://example.com/r/1")
    result = add_tasks(project_id, [
        task("good1", **ok),
        task("no-lang", text="x", source="https://e.com"),                   # required
        task("bad-enum", **{**ok, "lang": "de"}),                             # enum
        task("too-long", **{**ok, "text": "x" * 51}),                         # maxLength
        task("too-many-stars", **ok, stars=6),                                # maximum
        task("float-stars", **ok, stars=2.5),                                 # type integer
        task("bool-stars", **ok, stars=True),                                 # a boolean is no integer
        task("extra", **ok, colour="red"),                                    # additionalProperties
        task("tags", **ok, tags=["a", 2]),                                    # items
        task("no-source", text="x", lang="en"),                               # the view's link field
        task("http-source", **{**ok, "source": "http://e.com"}),              # links are https
        task("js-source", **{**ok, "source": "javascript:alert(1)"}),
        task("good2", **{**ok, "stars": 5, "tags": ["a", "b"]}),
    ])
    assert result["created"] == 2
    errors = {e["task_id"]: (e["index"], e["code"], e["details"].get("constraint")) for e in result["errors"]}
    assert errors == {
        "no-lang": (1, "invalid_payload", "required"), "bad-enum": (2, "invalid_payload", "enum"),
        "too-long": (3, "invalid_payload", "maxLength"), "too-many-stars": (4, "invalid_payload", "maximum"),
        "float-stars": (5, "invalid_payload", "type"), "bool-stars": (6, "invalid_payload", "type"),
        "extra": (7, "invalid_payload", "additionalProperties"), "tags": (8, "invalid_payload", "type"),
        "no-source": (9, "unrenderable_payload", None), "http-source": (10, "unrenderable_payload", None),
        "js-source": (11, "unrenderable_payload", None)}
    tags_error = next(e for e in result["errors"] if e["task_id"] == "tags")
    assert tags_error["details"]["path"] == "tags.1" and "payload.tags.1" in tags_error["message"]
    status, page = api.get(f"/projects/{project_id}/tasks", requester)
    assert sorted(t["task_id"] for t in page["items"]) == ["good1", "good2"]  # the others never stored


def test_a_text_block_cannot_show_an_object_and_a_missing_field_is_named(api, requester, make_project, add_tasks):
    project_id = make_project(view=[{"type": "text", "field": "body"}])
    result = add_tasks(project_id, [task("a", body={"html": "<b>"}), task("b", other="x"), task("c", body=3)])
    assert result["created"] == 1
    assert [(e["index"], e["code"], e["details"]) for e in result["errors"]] == [
        (0, "unrenderable_payload", {"block": 0, "field": "body"}),
        (1, "unrenderable_payload", {"block": 0, "field": "body"})]
    assert "'body' is missing" in result["errors"][1]["message"]


def test_a_lease_carries_title_view_and_media_with_the_default_view(api, make_project, add_tasks, new_key):
    project_id = make_project(title="Sentiment", instructions="**Read** carefully")
    add_tasks(project_id, [task("t1", text="hello", n=3)])
    worker, _ = new_key("worker")
    status, lease = api.post("/work/next", worker, {"project_id": project_id})
    assert status == 200, lease
    assert lease["title"] == "Sentiment" and lease["instructions"] == "**Read** carefully"
    assert lease["view"] == [{"type": "text", "field": "text", "label": "text"},
                             {"type": "text", "field": "n", "label": "n"}]
    assert lease["media"] == {}


def test_lease_by_id_and_asked_again_carry_the_declared_view(api, make_project, add_tasks, new_key):
    project_id = make_project(view=VIEW, payload_schema=SCHEMA, overlap=1)
    add_tasks(project_id, [task("t1", text="hi", lang="en", source="https://e.com/1")])
    worker, _ = new_key("worker")
    status, lease = api.post(f"/projects/{project_id}/tasks/t1/lease", worker)
    assert status == 200 and lease["view"] == VIEW and lease["title"] == "Is it a cat?"
    status, again = api.post(f"/projects/{project_id}/tasks/t1/lease", worker)  # the live lease, asked again
    assert status == 200 and again["lease_id"] == lease["lease_id"] and again["view"] == VIEW


def test_patch_changes_or_removes_the_view_and_keeps_the_pair_consistent(api, requester, make_project, add_tasks,
                                                                         new_key):
    project_id = make_project(payload_schema=SCHEMA)
    new_view = [{"type": "text", "field": "text", "label": "Text"}]
    status, project = api.patch(f"/projects/{project_id}", requester, {"view": new_view})
    assert status == 200 and project["view"] == new_view and project["payload_schema"] == SCHEMA
    # A schema that no longer declares the view's field is refused, and nothing changes.
    status, error = api.patch(f"/projects/{project_id}", requester,
                              {"payload_schema": {"type": "object", "properties": {"other": {"type": "string"}}}})
    assert status == 400 and error["error"]["code"] == "view_schema_mismatch"
    assert api.get(f"/projects/{project_id}", requester)[1]["payload_schema"] == SCHEMA
    # Removing the schema: uploads are checked by the view alone.
    status, project = api.patch(f"/projects/{project_id}", requester, {"payload_schema": None})
    assert status == 200 and project["payload_schema"] is None and project["view"] == new_view
    assert add_tasks(project_id, [task("free", text="x", anything=[1, {"a": 2}])])["created"] == 1
    # Removing the view: leases show the default one.
    status, project = api.patch(f"/projects/{project_id}", requester, {"view": None})
    assert status == 200 and project["view"] is None
    worker, _ = new_key("worker")
    lease = api.post("/work/next", worker, {"project_id": project_id})[1]
    assert [b["field"] for b in lease["view"]] == ["text", "anything"]


def test_openapi_describes_typed_blocks(api):
    status, spec = api.get("/openapi.json")
    assert status == 200
    schemas = spec["components"]["schemas"]
    view = schemas["LeaseOut"]["properties"]["view"]["items"]
    assert view["discriminator"]["propertyName"] == "type"
    assert set(view["discriminator"]["mapping"]) == {"text", "image", "audio", "video", "link"}
    assert "MediaUploadOut" in schemas and "PayloadSchema" in schemas
    assert "/projects/{project_id}/media" in spec["paths"]
