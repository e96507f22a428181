"""Key management through the API: list, read, expiry, rotation, revocation by id, and who
may manage which key (requesters their own projects' integrator keys, admins every key)."""
import hashlib
import json

import pytest

from chalicelib.models.base import now_ms


@pytest.fixture
def clock(monkeypatch):
    """clock(ms): the time the authorizer and the key service see from now on."""
    from chalicelib import auth
    from chalicelib.services import keys

    def set_to(ms):
        monkeypatch.setattr(auth, "now_ms", lambda: ms)
        monkeypatch.setattr(keys, "now_ms", lambda: ms)

    return set_to


def make_key(api, caller, **body):
    status, created = api.post("/keys", caller, body)
    assert status == 201, created
    return created


def test_a_listing_shows_every_key_but_never_a_secret_or_its_hash(api, admin, requester, make_project):
    project_id = make_project()
    made = [make_key(api, requester, role="integrator", project_ids=[project_id], name=f"etl {i}")
            for i in range(3)]
    status, page = api.get("/keys?limit=2", requester)
    assert status == 200 and len(page["items"]) == 2 and page["next_cursor"]
    status, rest = api.get(f"/keys?limit=2&cursor={page['next_cursor']}", requester)
    listed = page["items"] + rest["items"]
    # Newest first; the requester's own key is listed too (it is its account's).
    integrators = [k for k in listed if k["role"] == "integrator"]
    assert [k["key_id"] for k in integrators] == [k["key_id"] for k in reversed(made)]
    assert {k["state"] for k in listed} == {"active"}
    text = json.dumps([page, rest]) + json.dumps(api.get(f"/keys/{made[0]['key_id']}", requester)[1])
    for created in made:
        secret = created["key"]
        assert secret not in text and hashlib.sha256(secret.encode()).hexdigest() not in text
        assert "key_hash" not in text and "current_hash" not in text


def test_revoking_by_key_id_refuses_the_key_at_once(api, admin, new_key):
    worker = make_key(api, admin, role="worker")
    assert api.get("/me", worker["key"])[0] == 200
    status, revoked = api.request("DELETE", f"/keys/{worker['key_id']}", admin)
    assert status == 200 and revoked["state"] == "revoked" and revoked["revoked_at"]
    status, body = api.get("/me", worker["key"])
    assert status == 401 and body["error"]["code"] == "key_revoked"
    # Revoking again changes nothing; an unknown id is a 404.
    assert api.request("DELETE", f"/keys/{worker['key_id']}", admin)[1]["revoked_at"] == revoked["revoked_at"]
    status, body = api.request("DELETE", "/keys/key-000000000000", admin)
    assert status == 404 and body["error"]["code"] == "key_not_found"


def test_a_key_is_refused_from_its_expiry_on(api, admin, clock):
    now = now_ms()
    worker = make_key(api, admin, role="worker", expires_at=now + 60_000)
    assert api.get("/me", worker["key"])[0] == 200
    clock(now + 60_000)
    status, body = api.get("/me", worker["key"])
    assert status == 401 and body["error"]["code"] == "key_expired"
    assert api.get(f"/keys/{worker['key_id']}", admin)[1]["state"] == "expired"
    status, body = api.post("/keys", admin, {"role": "worker", "expires_at": now - 1})
    assert status == 400 and body["error"]["code"] == "expires_in_past"


def test_an_expiry_can_be_set_and_lifted_later(api, admin, clock):
    now = now_ms()
    worker = make_key(api, admin, role="worker")
    status, changed = api.patch(f"/keys/{worker['key_id']}", admin, {"expires_at": now + 5_000})
    assert status == 200 and changed["expires_at"] == now + 5_000
    clock(now + 5_000)
    assert api.get("/me", worker["key"])[1]["error"]["code"] == "key_expired"
    clock(now)
    assert api.patch(f"/keys/{worker['key_id']}", admin, {"expires_at": None})[1]["expires_at"] is None
    clock(now + 5_000)
    assert api.get("/me", worker["key"])[0] == 200


def test_rotation_gives_a_new_secret_and_the_old_one_a_grace_period(api, admin, clock):
    now = now_ms()
    worker = make_key(api, admin, role="worker", name="phone")
    old = worker["key"]
    clock(now)
    status, rotated = api.post(f"/keys/{worker['key_id']}/rotate", admin, {"grace_seconds": 600})
    assert status == 200, rotated
    new = rotated["key"]
    assert new != old and rotated["key_id"] == worker["key_id"] and rotated["owner_id"] == worker["owner_id"]
    assert rotated["previous_secret_valid_until"] == now + 600_000
    assert api.get("/me", old)[1]["worker_id"] == api.get("/me", new)[1]["worker_id"] == worker["owner_id"]
    clock(now + 600_000)
    status, body = api.get("/me", old)
    assert status == 401 and body["error"]["code"] == "key_rotated"
    assert api.get("/me", new)[0] == 200
    # A second rotation ends the first one's grace at once: at most two working secrets.
    clock(now + 600_001)
    newer = api.post(f"/keys/{worker['key_id']}/rotate", admin, {"grace_seconds": 600})[1]["key"]
    assert api.get("/me", new)[0] == 200 and api.get("/me", newer)[0] == 200
    api.post(f"/keys/{worker['key_id']}/rotate", admin, {})
    assert api.get("/me", new)[1]["error"]["code"] == "key_rotated"
    # Revoking reaches every working secret; a revoked key cannot be rotated.
    api.request("DELETE", f"/keys/{worker['key_id']}", admin)
    assert api.get("/me", newer)[1]["error"]["code"] == "key_revoked"
    status, body = api.post(f"/keys/{worker['key_id']}/rotate", admin, {})
    assert status == 409 and body["error"]["code"] == "key_revoked"


def test_a_rotated_out_secret_is_purged_by_time_to_live(api, admin):
    from chalicelib import auth
    from chalicelib.models import ApiKey

    worker = make_key(api, admin, role="worker")
    before = now_ms()
    api.post(f"/keys/{worker['key_id']}/rotate", admin, {"grace_seconds": 60})
    retired = ApiKey.get(auth.hash_key(worker["key"]), consistent_read=True)
    assert before + 60_000 <= retired.retired_at <= now_ms() + 60_000
    assert retired.purge_at == retired.retired_at // 1000 + 30 * 86400
    record = auth.get_record(worker["key_id"])
    assert record.purge_at is None and ApiKey.get(record.current_hash).purge_at is None


def test_a_requester_manages_its_own_projects_integrator_keys_only(api, new_key, make_project):
    a, a_id = new_key("requester")
    b, b_id = new_key("requester")
    a_project, b_project = make_project(key=a), make_project(key=b)
    mine = make_key(api, a, role="integrator", project_ids=[a_project])
    assert mine["account_id"] == a_id and mine["created_by"] == a_id
    theirs = make_key(api, b, role="integrator", project_ids=[b_project])
    # The key reads A's project and nothing else.
    assert api.get(f"/projects/{a_project}/results", mine["key"])[1]["error"]["code"] == "no_results_yet"
    assert api.get(f"/projects/{b_project}/results", mine["key"])[1]["error"]["code"] == "project_not_found"
    refused = {
        "B's project": (api.post("/keys", a, {"role": "integrator", "project_ids": [a_project, b_project]}),
                        404, "project_not_found"),
        "another role": (api.post("/keys", a, {"role": "requester"}), 403, "role_not_allowed"),
        "limits": (api.post("/keys", a, {"role": "integrator", "project_ids": [a_project],
                                         "limits": {"rate_limit": 1000, "burst_limit": 2000}}), 403, "admin_only"),
        "an owner": (api.post("/keys", a, {"role": "integrator", "project_ids": [a_project], "owner_id": b_id}),
                     403, "admin_only"),
        "B's listing": (api.get(f"/keys?account_id={b_id}", a), 403, "admin_only"),
        "B's key": (api.get(f"/keys/{theirs['key_id']}", a), 404, "key_not_found"),
        "revoking B's key": (api.request("DELETE", f"/keys/{theirs['key_id']}", a), 404, "key_not_found"),
        "rotating B's key": (api.post(f"/keys/{theirs['key_id']}/rotate", a, {}), 404, "key_not_found"),
        "changing B's key": (api.patch(f"/keys/{theirs['key_id']}", a, {"expires_at": None}), 404, "key_not_found"),
        "own limits": (api.patch(f"/keys/{mine['key_id']}", a, {"limits": None}), 403, "admin_only"),
    }
    for what, ((status, body), want_status, want_code) in refused.items():
        assert (status, body["error"]["code"]) == (want_status, want_code), (what, body)
    listed = {k["key_id"] for k in api.get("/keys", a)[1]["items"]}
    assert mine["key_id"] in listed and theirs["key_id"] not in listed
    # B's key still works: nothing A did touched it.
    assert api.get(f"/projects/{b_project}/results", theirs["key"])[1]["error"]["code"] == "no_results_yet"
    status, revoked = api.request("DELETE", f"/keys/{mine['key_id']}", a)
    assert status == 200 and revoked["state"] == "revoked"
    assert api.get(f"/projects/{a_project}/results", mine["key"])[1]["error"]["code"] == "key_revoked"


def test_an_admin_manages_every_key(api, admin, new_key, make_project):
    a, a_id = new_key("requester")
    project = make_project(key=a)
    theirs = make_key(api, a, role="integrator", project_ids=[project])
    by_admin = make_key(api, admin, role="integrator", project_ids=[project])
    assert by_admin["account_id"] == a_id  # the projects' owner manages it
    assert {theirs["key_id"], by_admin["key_id"]} <= {k["key_id"] for k in api.get(f"/keys?account_id={a_id}", admin)[1]["items"]}
    assert {by_admin["key_id"]} <= {k["key_id"] for k in api.get("/keys", a)[1]["items"]}
    status, changed = api.patch(f"/keys/{theirs['key_id']}", admin,
                                {"limits": {"rate_limit": 5, "burst_limit": 10, "quota_limit": 1000}})
    assert status == 200 and changed["limits"] == {"rate_limit": 5.0, "burst_limit": 10, "quota_limit": 1000,
                                                   "quota_period": "DAY"}
    assert api.request("DELETE", f"/keys/{theirs['key_id']}", admin)[0] == 200
    assert api.get(f"/keys/{theirs['key_id']}", a)[1]["state"] == "revoked"


def test_the_admin_tool_revokes_by_key_id_without_the_secret(api, admin, capsys):
    from tools import admin as admin_tool

    worker = make_key(api, admin, role="worker")
    assert admin_tool.main(["revoke-key", "--key-id", worker["key_id"]]) == 0
    assert api.get("/me", worker["key"])[1]["error"]["code"] == "key_revoked"
    assert admin_tool.main(["revoke-key", "--key-id", "key-000000000000"]) == 1
    assert admin_tool.main(["create-key", "--role", "worker"]) == 0
    created = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert api.get("/me", created["key"])[0] == 200
    assert admin_tool.main(["revoke-key", "--key", created["key"]]) == 0
    assert api.get("/me", created["key"])[1]["error"]["code"] == "key_revoked"


def test_a_rotation_racing_a_revocation_leaves_no_working_secret(new_key):
    """Threads rotate and revoke one key at once (each its own connection to moto server):
    whatever the order, once the revocation is through, every secret ever issued is refused."""
    from chalicelib import auth
    from chalicelib.errors import Conflict
    from tests.test_http_stack import race

    for _ in range(3):
        secret, record = auth.create_key("worker")
        issued = [secret]

        def act(i):
            if i == 0:
                return auth.revoke(auth.get_record(record.key_id))
            try:
                issued.append(auth.rotate(auth.get_record(record.key_id), 600)[0])
            except Conflict as refused:
                return refused.code

        race(5, act)
        final = auth.get_record(record.key_id)
        assert final.revoked_at
        # Every secret refused: revoked, or already retired by a later rotation; the current one revoked.
        refusals = {auth.hash_key(s): auth.lookup(f"Bearer {s}").refusal for s in issued}
        assert set(refusals.values()) <= {"key_revoked", "key_rotated"}, refusals
        assert refusals[final.current_hash] == "key_revoked"


def test_an_expired_key_cannot_be_rotated_back_to_life(api, admin, clock):
    now = now_ms()
    worker = make_key(api, admin, role="worker", expires_at=now + 60_000)
    clock(now + 60_000)
    status, body = api.post(f"/keys/{worker['key_id']}/rotate", admin, {})
    assert status == 409 and body["error"]["code"] == "key_expired"
