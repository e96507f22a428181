"""The OpenAPI description, API keys, and the error shape of requests refused early."""
import dataclasses

import jsonschema
from openapi_spec_validator import validate


def test_the_description_is_valid_openapi_and_lists_every_route(api, chalice_app):
    status, document = api.get("/openapi.json")
    assert status == 200
    validate(document)
    documented = {(path, method.upper()) for path, ops in document["paths"].items() for method in ops}
    served = {(path, method) for path, methods in chalice_app.routes.items() for method in methods}
    assert documented == served


def test_responses_match_their_documented_schemas(api, make_project, add_tasks, new_key):
    status, document = api.get("/openapi.json")
    project_id = make_project()
    add_tasks(project_id, [{"task_id": "t", "payload": {"text": "x"}}])
    worker, _ = new_key("worker")
    status, lease = api.post("/work/next", worker, {"project_id": project_id})
    status, error = api.post("/leases/nope/answer", worker, {"answer": "cat"})
    _validate(lease, "LeaseOut", document)
    _validate(error, "ErrorBody", document)


def _validate(body, name, document):
    # Resolve "#/components/schemas/X" references against the whole document.
    schema = {"$ref": f"#/components/schemas/{name}", **{"components": document["components"]}}
    jsonschema.Draft202012Validator(schema).validate(body)


def test_admin_creates_keys_and_others_cannot(api, new_key):
    admin, _ = new_key("admin")
    status, created = api.post("/keys", admin, {"role": "worker", "name": "phone"})
    assert status == 201 and created["key"].startswith("fk_wrk_") and created["role"] == "worker"
    assert api.get("/me", created["key"])[0] == 200
    requester, _ = new_key("requester")
    status, body = api.post("/keys", requester, {"role": "admin"})
    assert status == 403 and body["error"]["code"] == "role_not_allowed"
    worker, _ = new_key("worker")
    status, body = api.post("/keys", worker, {"role": "worker"})
    assert status == 403 and body["error"]["code"] == "wrong_role"


def test_keys_are_stored_only_as_hashes(new_key):
    from chalicelib.models import ApiKey

    secret, owner = new_key("requester")
    stored = [k for k in ApiKey.scan() if k.owner_id == owner]
    assert sorted(k.is_record for k in stored) == [False, True]  # its secret item and its record
    assert all(secret not in str(k.attribute_values) for k in stored)


def test_a_revoked_key_stops_working_at_once(api, new_key):
    from chalicelib import auth

    worker, _ = new_key("worker")
    assert api.get("/me", worker)[0] == 200
    assert auth.revoke_key(worker)
    status, body = api.get("/me", worker)
    assert status == 401 and body["error"]["code"] == "key_revoked"


def test_a_missing_key_is_refused(api):
    # Refused by the gateway before the app runs (in AWS, infra gives it Foule's JSON shape).
    assert api.get("/projects")[0] == 401


def test_an_oversized_body_is_a_413(api, requester, monkeypatch):
    import chalicelib.api as api_module

    monkeypatch.setattr(api_module, "settings", dataclasses.replace(api_module.settings, max_body_bytes=1000))
    status, body = api.post("/projects", requester, {"title": "x" * 2000})
    assert status == 413 and body["error"]["code"] == "body_too_large"


def test_non_json_bodies_are_a_clear_4xx(api, requester):
    status, body = api.request("POST", "/projects", requester, body="[1, 2]")
    assert status == 400 and body["error"]["code"] == "invalid_json"
    status, body = api.request("POST", "/projects", requester, body="title=x",
                               headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 415 and body["error"]["code"] == "unsupported_media_type"
