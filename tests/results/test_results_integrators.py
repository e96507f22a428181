"""Integrator keys: created by an admin for chosen projects, they read those projects' results
and nothing else (other routes 403 wrong_role, other projects 404)."""
import pytest


@pytest.fixture
def published(answered_project):
    from chalicelib.services import aggregator

    def make(**kwargs):
        from chalicelib.models import Project

        project_id, workers = answered_project(**kwargs)
        return project_id, aggregator.aggregate_project(Project.get(project_id))["run_id"], workers

    return make


def test_an_integrator_reads_only_the_results_of_its_projects(api, admin, requester, published, make_project):
    project_id, run_id, _ = published()
    other_id, other_run, _ = published(answers={"w0": {"t1": "dog"}})
    status, key = api.post("/keys", admin, {"role": "integrator", "project_ids": [project_id], "name": "bi"})
    assert status == 201 and key["role"] == "integrator" and key["project_ids"] == [project_id], key
    assert key["key"].startswith("fk_int_")
    integrator = key["key"]

    status, latest = api.get(f"/projects/{project_id}/results", integrator)
    assert status == 200 and latest["run_id"] == run_id
    status, by_id = api.get(f"/projects/{project_id}/results/{run_id}", integrator)
    assert status == 200 and by_id["manifest"] == latest["manifest"]

    for path in (f"/projects/{other_id}/results", f"/projects/{other_id}/results/{other_run}",
                 "/projects/p-doesnotexist/results"):
        status, body = api.get(path, integrator)
        assert status == 404 and body["error"]["code"] == "project_not_found", (path, body)

    for method, path in (("GET", f"/projects/{project_id}"), ("GET", f"/projects/{project_id}/progress"),
                         ("GET", f"/projects/{project_id}/tasks"), ("GET", f"/projects/{project_id}/tasks/t0"),
                         ("POST", f"/projects/{project_id}/aggregate"), ("PATCH", f"/projects/{project_id}"),
                         ("GET", "/projects"), ("POST", "/projects"), ("POST", "/work/next"), ("GET", "/me"),
                         ("POST", "/keys")):
        status, body = api.request(method, path, integrator, {} if method != "GET" else None)
        assert status == 403 and body["error"]["code"] == "wrong_role", (method, path, body)


def test_the_requester_still_reads_its_results_and_not_others(api, requester, published, new_key):
    project_id, run_id, _ = published()
    assert api.get(f"/projects/{project_id}/results/{run_id}", requester)[0] == 200
    stranger, _ = new_key("requester")
    for path in (f"/projects/{project_id}/results", f"/projects/{project_id}/results/{run_id}"):
        status, body = api.get(path, stranger)
        assert status == 404 and body["error"]["code"] == "project_not_found"
    worker, _ = new_key("worker")
    status, body = api.get(f"/projects/{project_id}/results", worker)
    assert status == 403 and body["error"]["code"] == "wrong_role"


def test_integrator_keys_need_a_scope_and_only_they_have_one(api, admin):
    for body in ({"role": "integrator"}, {"role": "integrator", "project_ids": []},
                 {"role": "requester", "project_ids": ["p-1"]}, {"role": "integrator", "project_ids": ["bad id"]}):
        status, answer = api.post("/keys", admin, body)
        assert status == 400 and answer["error"]["code"] == "validation_error", (body, answer)


def test_a_revoked_integrator_key_reads_nothing(api, admin, published):
    from chalicelib import auth

    project_id, _, _ = published(answers={"w0": {"t1": "dog"}})
    secret = api.post("/keys", admin, {"role": "integrator", "project_ids": [project_id]})[1]["key"]
    assert api.get(f"/projects/{project_id}/results", secret)[0] == 200
    assert auth.revoke_key(secret)
    status, body = api.get(f"/projects/{project_id}/results", secret)
    assert status == 401 and body["error"]["code"] == "key_revoked"
