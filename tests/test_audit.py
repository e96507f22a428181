"""The audit log: money and access actions, once each, newest first, readable by the project's
owner and admins only; entries written with the action or not at all."""
import pytest

from tests.test_http_stack import race
from tests.test_review import answered  # noqa: F401 - the fixture


def log_of(api, key, project_id, **query):
    path = f"/projects/{project_id}/audit" + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")
    status, page = api.get(path, key)
    assert status == 200, page
    return page


def actions(api, key, project_id):
    return [e["action"] for e in log_of(api, key, project_id, limit=100)["items"]]


def test_every_money_and_access_action_is_logged_once_newest_first(api, requester, answered, new_key, alias):
    project_id, done = answered(workers=3, reward_cents=4)
    (_, first, a1), (_, second, a2), (_, third, a3) = done
    # The requester names workers by its pseudonyms for them, and so does the log.
    first, second, third = (alias(requester, w) for w in (first, second, third))
    for _ in range(2):  # retried decisions change nothing, so log nothing more
        api.post("/assignments/approve", requester, {"assignment_ids": [a1], "reason": "good"})
        api.post("/assignments/reject", requester, {"assignment_ids": [a2], "reason": "spam"})
    bonus = {"worker_id": first, "cents": 3, "reason": "thanks", "client_token": "b-1"}
    for _ in range(2):  # the same bonus re-sent is paid, and logged, once
        assert api.post(f"/projects/{project_id}/bonuses", requester, bonus)[0] == 201
    worker = f"/projects/{project_id}/workers/{third}"
    assert api.request("PUT", f"{worker}/block", requester, {"message": "spam"})[0] == 200
    assert api.request("DELETE", f"{worker}/block", requester)[0] == 200
    assert api.request("PUT", f"{worker}/exclude", requester)[0] == 200
    assert api.request("DELETE", f"{worker}/exclude", requester)[0] == 200
    # Refused actions log nothing: a block of someone who never worked here, another's bonus.
    assert api.request("PUT", f"/projects/{project_id}/workers/w-nobody/block", requester, {})[0] == 404
    assert api.post(f"/projects/{project_id}/bonuses", requester, {**bonus, "worker_id": "w-nobody",
                                                                    "client_token": "b-2"})[0] == 404

    entries = log_of(api, requester, project_id, limit=100)["items"]
    assert [e["action"] for e in entries] == ["include", "exclude", "unblock", "block", "bonus", "reject", "approve"]
    assert [e["at"] for e in entries] == sorted((e["at"] for e in entries), reverse=True)
    by_action = {e["action"]: e for e in entries}
    assert (by_action["approve"]["worker_id"], by_action["approve"]["cents"],
            by_action["approve"]["reason"]) == (first, 4, "good")
    assert (by_action["reject"]["worker_id"], by_action["reject"]["reason"]) == (second, "spam")
    assert (by_action["bonus"]["worker_id"], by_action["bonus"]["cents"]) == (first, 3)
    assert by_action["block"]["details"]["message"] == "spam" and by_action["block"]["worker_id"] == third
    from chalicelib.auth import lookup

    owner = lookup(f"Bearer {requester}").owner_id
    assert {(e["actor_id"], e["actor_role"]) for e in entries} == {(owner, "requester")}
    # Paged: two pages of 4 and 3, the same entries.
    page = log_of(api, requester, project_id, limit=4)
    rest = log_of(api, requester, project_id, limit=4, cursor=page["next_cursor"])
    assert page["items"] + rest["items"] == entries and rest["next_cursor"] is None


def test_an_admins_action_is_logged_as_the_admins(api, requester, answered, new_key):
    admin, _ = new_key("admin")
    project_id, [(_, _, assignment_id)] = answered()
    assert api.post("/assignments/approve", admin, {"assignment_ids": [assignment_id]})[1]["items"][0]["ok"]
    [entry] = log_of(api, requester, project_id)["items"]
    assert (entry["action"], entry["actor_role"], entry["actor_id"]) == ("approve", "admin", "admin")
    assert log_of(api, admin, project_id)["items"] == [entry]  # admins read every log


def test_another_requester_reads_nothing_of_a_projects_log(api, requester, answered, new_key):
    project_id, [(_, _, assignment_id)] = answered()
    api.post("/assignments/approve", requester, {"assignment_ids": [assignment_id]})
    other, _ = new_key("requester")
    status, body = api.get(f"/projects/{project_id}/audit", other)
    assert status == 404 and body["error"]["code"] == "project_not_found"
    worker, _ = new_key("worker")
    assert api.get(f"/projects/{project_id}/audit", worker)[1]["error"]["code"] == "wrong_role"


def test_concurrent_retries_of_one_approval_log_one_entry(api, requester, answered):
    project_id, [(_, _, assignment_id)] = answered()
    results = race(6, lambda i: api.post("/assignments/approve", requester, {"assignment_ids": [assignment_id]}))
    assert all(body["items"][0]["ok"] for _, body in results)
    assert actions(api, requester, project_id) == ["approve"]


def test_key_events_are_logged_where_their_owner_reads_them(api, requester, make_project, new_key):
    project_id = make_project()
    status, key = api.post("/keys", requester, {"role": "integrator", "project_ids": [project_id], "name": "etl"})
    assert status == 201
    api.post(f"/keys/{key['key_id']}/rotate", requester, {"grace_seconds": 0})
    api.request("DELETE", f"/keys/{key['key_id']}", requester)
    api.request("DELETE", f"/keys/{key['key_id']}", requester)  # already revoked: nothing more
    entries = log_of(api, requester, project_id)["items"]
    assert [(e["action"], e["key_id"]) for e in entries] == \
        [("key_revoked", key["key_id"]), ("key_rotated", key["key_id"]), ("key_created", key["key_id"])]
    assert entries[1]["details"] == {"role": "integrator", "name": "etl", "grace_seconds": 0}
    # An account's own keys (no project) are in the account's log; only it and admins read it.
    admin, _ = new_key("admin")
    status, own = api.post("/keys", admin, {"role": "requester", "name": "ci"})
    api.request("DELETE", f"/keys/{own['key_id']}", own["key"])
    status, log = api.get("/audit", api.post("/keys", admin, {"role": "requester", "owner_id": own["owner_id"]})[1]["key"])
    assert status == 200 and [e["action"] for e in log["items"]] == ["key_created", "key_revoked", "key_created"]
    assert api.get(f"/audit?account_id={own['owner_id']}", admin)[1] == log
    status, body = api.get(f"/audit?account_id={own['owner_id']}", requester)
    assert status == 403 and body["error"]["code"] == "admin_only"


def test_the_app_never_updates_or_deletes_an_audit_entry(aws_template):
    """IAM: the functions may put and query the audit table, nothing else."""
    from tools import package

    for role in ("ApiHandlerRole", "AggregatorRole", "ApiKeyRole"):
        for statement in package.role_policy(aws_template, role)["Statement"]:
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            if any("AuditTable" in str(r) for r in resources):
                assert set(statement["Action"]) <= {"dynamodb:PutItem", "dynamodb:Query"}, (role, statement)


@pytest.fixture(scope="module")
def aws_template():
    from tools import package

    return package.load_cfn(package.AWS_TEMPLATE)
