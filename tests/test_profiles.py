"""A worker's profile, the terms gate, projects' audiences and GET /work/projects (issue 14)."""
import uuid

import pytest

from chalicelib.services import live

TASKS = [{"task_id": f"t{i}", "payload": {"text": f"item {i}"}} for i in range(3)]


def put_profile(api, key, **fields):
    status, body = api.request("PUT", "/me/profile", key, fields)
    assert status == 200, body
    return body


@pytest.fixture
def open_project(make_project, add_tasks):
    def make(**fields):
        project_id = make_project(**fields)
        add_tasks(project_id, TASKS)
        return project_id

    return make


def test_profile_round_trip_and_normalised(api, id_token):
    status, empty = api.get("/me/profile", id_token)
    assert status == 200 and empty["accepted_terms"] is False and empty["terms_accepted_at"] is None
    body = put_profile(api, id_token, display_name="  Ana  ", languages=["FR", "en", "fr"], country="fr")
    assert (body["display_name"], body["languages"], body["country"]) == ("Ana", ["fr", "en"], "FR")
    assert body["accepted_terms"] is False
    accepted = put_profile(api, id_token, accepted_terms=True)
    assert accepted["accepted_terms"] and accepted["terms_accepted_at"] > 0
    assert accepted["display_name"] == "Ana"  # fields not given are left as they are
    again = put_profile(api, id_token, accepted_terms=True)
    assert again["terms_accepted_at"] == accepted["terms_accepted_at"]  # the first acceptance is kept
    assert api.get("/me/profile", id_token)[1] == again


@pytest.mark.parametrize("fields", [{"languages": ["fra"]}, {"country": "France"}, {"display_name": "x" * 61},
                                    {"languages": "fr"}, {"nickname": "x"}, {"accepted_terms": "yes"}])
def test_profile_refuses_bad_fields(api, id_token, fields):
    status, body = api.request("PUT", "/me/profile", id_token, fields)
    assert status == 400 and body["error"]["code"] == "validation_error", body


def test_terms_gate_for_signed_in_workers(api, id_token, open_project):
    project_id = open_project()
    for path in ("/work/next", f"/projects/{project_id}/tasks/t0/lease"):
        status, body = api.post(path, id_token, {"project_id": project_id} if path == "/work/next" else {})
        assert status == 403 and body["error"]["code"] == "terms_not_accepted", (path, body)
    put_profile(api, id_token, accepted_terms=True)
    status, lease = api.post("/work/next", id_token, {"project_id": project_id})
    assert status == 200 and lease["project_id"] == project_id, lease
    assert api.post(f"/leases/{lease['lease_id']}/answer", id_token, {"answer": "cat"})[0] == 200
    other = next(t["task_id"] for t in TASKS if t["task_id"] != lease["task_id"])
    assert api.post(f"/projects/{project_id}/tasks/{other}/lease", id_token)[0] == 200
    put_profile(api, id_token, accepted_terms=False)  # withdrawn: no more work
    assert api.post("/work/next", id_token, {"project_id": project_id})[1]["error"]["code"] == "terms_not_accepted"


def test_api_key_workers_need_no_profile(api, new_key, open_project):
    worker = new_key("worker")[0]
    project_id = open_project()
    assert api.post("/work/next", worker, {"project_id": project_id})[0] == 200


def test_audience_by_language_and_country(api, new_key, open_project):
    project_id = open_project(audience={"languages": ["fr", "de"], "countries": ["FR", "BE"]})
    worker = new_key("worker")[0]
    status, body = api.post("/work/next", worker, {"project_id": project_id})
    assert status == 403 and body["error"]["code"] == "not_in_audience", body  # no profile yet
    put_profile(api, worker, languages=["en", "de"], country="US")
    assert api.post(f"/projects/{project_id}/tasks/t0/lease", worker)[1]["error"]["code"] == "not_in_audience"
    put_profile(api, worker, country="be")
    assert api.post("/work/next", worker, {"project_id": project_id})[0] == 200


def test_audience_skipped_silently_without_a_project(api, new_key, open_project, monkeypatch):
    project_id = open_project(audience={"languages": ["fr"]})
    from chalicelib.models import Project

    monkeypatch.setattr(live, "window", lambda rng: [Project.get(project_id)])
    worker = new_key("worker")[0]
    put_profile(api, worker, languages=["en"])
    status, body = api.post("/work/next", worker, {})
    assert status == 404 and body["error"]["code"] == "no_task_available", body
    put_profile(api, worker, languages=["en", "fr"])
    status, lease = api.post("/work/next", worker, {})
    assert status == 200 and lease["project_id"] == project_id


def test_audience_is_set_changed_and_cleared(api, requester, make_project):
    project_id = make_project(audience={"languages": ["FR"], "countries": []})
    assert api.get(f"/projects/{project_id}", requester)[1]["audience"] == {"languages": ["fr"], "countries": []}
    status, body = api.patch(f"/projects/{project_id}", requester, {"audience": {"countries": ["JP"]}})
    assert status == 200 and body["audience"] == {"languages": [], "countries": ["JP"]}
    assert api.patch(f"/projects/{project_id}", requester, {"audience": None})[1]["audience"] is None
    status, body = api.patch(f"/projects/{project_id}", requester, {"audience": {"languages": ["french"]}})
    assert status == 400 and body["error"]["code"] == "validation_error"


@pytest.fixture
def own_live_index(monkeypatch):
    """A live-projects index of this test's projects only (as tests/test_fair_serving.py)."""
    monkeypatch.setattr(live, "PREFIX", f"live-{uuid.uuid4().hex[:8]}")


def all_open(api, key, limit=2):
    """Every page of GET /work/projects: {project_id: item}."""
    found, cursor, pages = {}, None, 0
    while True:
        status, page = api.get("/work/projects" + (f"?limit={limit}&cursor={cursor}" if cursor else f"?limit={limit}"),
                               key)
        assert status == 200, page
        assert len(page["items"]) <= limit
        for item in page["items"]:
            assert item["project_id"] not in found  # no project twice
            found[item["project_id"]] = item
        pages += 1
        cursor = page["cursor"]
        if cursor is None:
            return found
        assert pages < 50


def test_open_projects_lists_what_next_would_serve(api, requester, new_key, make_project, open_project,
                                                   own_live_index):
    everyone = open_project(title="Cats", instructions="Look **closely**", reward_cents=7, lease_seconds=120)
    french = open_project(audience={"languages": ["fr"]})
    empty = make_project()
    paused = open_project()
    assert api.patch(f"/projects/{paused}", requester, {"status": "paused"})[0] == 200
    blocked_here = open_project()
    worker, worker_id = new_key("worker")
    assert api.post("/work/next", worker, {"project_id": blocked_here})[0] == 200
    status, body = api.request("PUT", f"/projects/{blocked_here}/workers/{_alias(requester, worker_id)}/block",
                               requester, {"message": "test"})
    assert status == 200, body
    put_profile(api, worker, languages=["en"])

    found = all_open(api, worker)
    assert set(found) == {everyone, empty}
    assert found[everyone] == {"project_id": everyone, "title": "Cats", "reward_cents": 7, "lease_seconds": 120,
                               "instructions": "Look **closely**", "kind": "single_choice", "tasks_available": True}
    assert found[empty]["tasks_available"] is False
    assert french not in found and paused not in found and blocked_here not in found

    french_worker = new_key("worker")[0]
    put_profile(api, french_worker, languages=["fr"])
    assert set(all_open(api, french_worker, limit=50)) == {everyone, empty, french, blocked_here}
    assert set(all_open(api, french_worker, limit=1)) == {everyone, empty, french, blocked_here}


def _alias(requester_key, worker_id):
    from chalicelib import auth
    from chalicelib.services import pseudonyms

    return pseudonyms.for_requester(auth.lookup(f"Bearer {requester_key}").owner_id, worker_id)


def test_open_projects_refuses_a_forged_cursor(api, new_key):
    status, body = api.get("/work/projects?cursor=abc", new_key("worker")[0])
    assert status == 400 and body["error"]["code"] == "invalid_cursor"


def test_erasure_drops_the_profile(api, id_token, cognito):
    name = f"Ana {uuid.uuid4().hex}"
    put_profile(api, id_token, display_name=name, languages=["fr"], country="FR", accepted_terms=True)
    worker_id = api.get("/me", id_token)[1]["worker_id"]
    status, erased = api.request("DELETE", "/me", id_token)
    assert status == 200 and erased["account_deleted"] is True and erased["records"] == 1, erased
    from chalicelib.models import WorkerStats

    assert list(WorkerStats.query(worker_id, consistent_read=True)) == []
    assert list(WorkerStats.scan(WorkerStats.display_name == name)) == []  # not moved to the tombstone
    assert api.get("/me", id_token)[1]["error"]["code"] == "account_disabled"  # the account is gone
    with pytest.raises(cognito["client"].exceptions.UserNotFoundException):
        cognito["client"].admin_get_user(UserPoolId=cognito["user_pool_id"], Username=worker_id[2:])
