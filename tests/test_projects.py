"""Requesters manage their projects; nobody else sees them."""


def test_create_and_read_back(api, requester, make_project):
    project_id = make_project(overlap=3, reward_cents=7, priority=5)
    status, project = api.get(f"/projects/{project_id}", requester)
    assert status == 200
    assert project["overlap"] == 3 and project["reward_cents"] == 7 and project["priority"] == 5
    assert project["status"] == "active"
    assert project["answer_type"] == {"kind": "single_choice", "labels": ["cat", "dog"]}


def test_another_requester_gets_404_not_403(api, new_key, make_project):
    project_id = make_project()
    stranger, _ = new_key("requester")
    for path in (f"/projects/{project_id}", f"/projects/{project_id}/progress",
                 f"/projects/{project_id}/tasks", f"/projects/{project_id}/results"):
        status, body = api.get(path, stranger)
        assert status == 404, path
        assert body["error"]["code"] == "project_not_found"
    status, listing = api.get("/projects", stranger)
    assert status == 200 and listing["items"] == []


def test_listing_pages_newest_first_with_an_opaque_cursor(api, new_key, make_project):
    owner, _ = new_key("requester")
    created = [make_project(key=owner, title=f"p{i}") for i in range(3)]
    status, first = api.get("/projects?limit=2", owner)
    assert status == 200 and len(first["items"]) == 2 and first["next_cursor"]
    status, second = api.get(f"/projects?limit=2&cursor={first['next_cursor']}", owner)
    assert status == 200
    seen = [p["project_id"] for p in first["items"] + second["items"]]
    assert seen == list(reversed(created))
    # Someone else's cursor is refused rather than used.
    other, _ = new_key("requester")
    status, body = api.get(f"/projects?cursor={first['next_cursor']}", other)
    assert status == 400 and body["error"]["code"] == "invalid_cursor"


def test_pause_resume_close(api, requester, make_project, add_tasks, new_key):
    project_id = make_project()
    add_tasks(project_id, [{"task_id": "t1", "payload": {"text": "meow"}}])
    worker, _ = new_key("worker")
    status, body = api.patch(f"/projects/{project_id}", requester, {"status": "paused"})
    assert status == 200 and body["status"] == "paused"
    status, body = api.post("/work/next", worker, {"project_id": project_id})
    assert status == 409 and body["error"]["code"] == "project_not_active"
    assert api.patch(f"/projects/{project_id}", requester, {"status": "active"})[0] == 200
    assert api.post("/work/next", worker, {"project_id": project_id})[0] == 200
    assert api.patch(f"/projects/{project_id}", requester, {"status": "closed"})[0] == 200
    status, body = api.patch(f"/projects/{project_id}", requester, {"status": "active"})
    assert status == 409 and body["error"]["code"] == "project_closed"


def test_invalid_project_fields_are_reported_by_path(api, requester):
    status, body = api.post("/projects", requester, {
        "title": "", "answer_type": {"kind": "single_choice", "labels": ["a", "a"]}, "overlap": 0})
    assert status == 400
    assert body["error"]["code"] == "validation_error"
    paths = {f["path"] for f in body["error"]["details"]["fields"]}
    assert {"title", "overlap", "answer_type.single_choice.labels"} <= paths


def test_unknown_fields_and_answer_kinds_are_refused(api, requester):
    status, body = api.post("/projects", requester, {
        "title": "x", "answer_type": {"kind": "single_choice", "labels": ["a", "b"]}, "overlapp": 3})
    assert status == 400 and body["error"]["details"]["fields"][0]["path"] == "overlapp"
    status, body = api.post("/projects", requester, {"title": "x", "answer_type": {"kind": "essay"}})
    assert status == 400 and body["error"]["code"] == "validation_error"
