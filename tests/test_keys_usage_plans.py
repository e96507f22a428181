"""Each Foule key mirrored in API Gateway's usage plans (moto's apigateway, where
tools/local_stack.py created the plans of infra/aws.yaml): a new key's API key is in its
role's plan, the authorizer names it, own limits move it to a plan of its own and back, a
revocation removes it, rotation keeps it, and a mirror left half-done is completed by
re-sending the request. moto enforces no plan: the 429s are tests/test_rate_limits.py's."""
import boto3
import pytest
from chalice.app import AuthRequest

from chalicelib.api import Api
from chalicelib.services import usage_plans

ARN = "arn:aws:execute-api:us-east-1:123456789012:abcdef/api/GET/projects"


@pytest.fixture(scope="module")
def gateway(moto_endpoint):
    return boto3.client("apigateway", endpoint_url=moto_endpoint)


def api_key(gateway, key_id):
    """The API key mirroring a Foule key (None if there is none)."""
    name = usage_plans.identifier(key_id)
    found = [k for k in gateway.get_api_keys(nameQuery=name, includeValues=True)["items"] if k["name"] == name]
    return found[0] if found else None


def plans_of(gateway, api_key_id) -> dict[str, dict]:
    return {p["name"]: p for p in gateway.get_usage_plans(keyId=api_key_id)["items"]}


def plan_names(gateway) -> set[str]:
    return {p["name"] for p in gateway.get_usage_plans()["items"]}


def verdict(secret: str) -> dict:
    """What the authorizer answers API Gateway for this bearer token."""
    request = AuthRequest("TOKEN", f"Bearer {secret}", ARN)
    return Api._authorize(request).to_dict(request)


def create(api, caller, **body):
    status, created = api.post("/keys", caller, body)
    assert status == 201, created
    return created


def test_a_new_key_is_in_its_roles_plan_and_the_authorizer_names_it(api, admin, gateway):
    worker, integrator_owner = create(api, admin, role="worker"), create(api, admin, role="requester")
    mirror = api_key(gateway, worker["key_id"])
    assert mirror["enabled"] and mirror["value"] == f"foule-local-{worker['key_id']}"
    assert set(plans_of(gateway, mirror["id"])) == {"foule-local-worker"}
    assert set(plans_of(gateway, api_key(gateway, integrator_owner["key_id"])["id"])) == {"foule-local-requester"}
    assert verdict(worker["key"])["usageIdentifierKey"] == mirror["value"]


def test_a_refused_or_missing_key_is_counted_on_the_anonymous_key(api, admin, gateway):
    revoked = create(api, admin, role="worker")
    api.request("DELETE", f"/keys/{revoked['key_id']}", admin)
    anonymous = api_key(gateway, "anonymous")
    assert set(plans_of(gateway, anonymous["id"])) == {"foule-local-anonymous"}
    for token in (revoked["key"], "fk_wrk_guessed", ""):
        answer = verdict(token)
        assert answer["usageIdentifierKey"] == anonymous["value"] == "foule-local-anonymous"
        assert answer["context"]["role"] == "anonymous"  # the view still answers Foule's 401


def test_a_revoked_keys_api_key_leaves_its_plan_and_is_deleted(api, admin, gateway):
    key = create(api, admin, role="worker", limits={"rate_limit": 3, "burst_limit": 6})
    mirror = api_key(gateway, key["key_id"])
    assert set(plans_of(gateway, mirror["id"])) == {usage_plans.own_plan_name(key["key_id"])}
    assert api.request("DELETE", f"/keys/{key['key_id']}", admin)[0] == 200
    assert api_key(gateway, key["key_id"]) is None
    assert not plans_of(gateway, mirror["id"])
    assert usage_plans.own_plan_name(key["key_id"]) not in plan_names(gateway)  # its own plan went too
    assert api.request("DELETE", f"/keys/{key['key_id']}", admin)[0] == 200  # re-sent: nothing left to do


def test_own_limits_move_the_key_to_a_plan_of_its_own_and_back(api, admin, gateway):
    key = create(api, admin, role="integrator", project_ids=["p-any"])
    mirror = api_key(gateway, key["key_id"])
    own = usage_plans.own_plan_name(key["key_id"])

    limits = {"rate_limit": 5, "burst_limit": 10, "quota_limit": 100, "quota_period": "MONTH"}
    assert api.patch(f"/keys/{key['key_id']}", admin, {"limits": limits})[0] == 200
    plan = plans_of(gateway, mirror["id"])
    assert set(plan) == {own}
    assert plan[own]["throttle"] == {"rateLimit": 5, "burstLimit": 10}
    assert plan[own]["quota"] == {"limit": 100, "period": "MONTH"}

    # Changed in place (the same plan: its usage so far still counts); no quota of its own is
    # the deployment's, its role plan's.
    assert api.patch(f"/keys/{key['key_id']}", admin, {"limits": {"rate_limit": 7, "burst_limit": 14}})[0] == 200
    changed = plans_of(gateway, mirror["id"])[own]
    assert changed["id"] == plan[own]["id"]
    assert changed["throttle"] == {"rateLimit": 7, "burstLimit": 14}
    assert changed["quota"] == {"limit": 50000, "period": "DAY"}  # the integrator plan's (infra/aws.yaml, local)

    assert api.patch(f"/keys/{key['key_id']}", admin, {"limits": None})[0] == 200
    assert set(plans_of(gateway, mirror["id"])) == {"foule-local-integrator"}
    assert own not in plan_names(gateway)
    assert verdict(key["key"])["usageIdentifierKey"] == mirror["value"]  # the same API key throughout


def test_rotation_keeps_the_key_and_its_usage_in_one_api_key(api, admin, gateway):
    key = create(api, admin, role="requester")
    mirror = api_key(gateway, key["key_id"])
    status, rotated = api.post(f"/keys/{key['key_id']}/rotate", admin, {"grace_seconds": 60})
    assert status == 200, rotated
    # Both working secrets count against one API key: rotating never resets a quota.
    assert verdict(key["key"])["usageIdentifierKey"] == verdict(rotated["key"])["usageIdentifierKey"] == mirror["value"]
    assert set(plans_of(gateway, mirror["id"])) == {"foule-local-requester"}
    assert api_key(gateway, key["key_id"])["id"] == mirror["id"]


def test_a_revocation_interrupted_before_its_mirror_is_completed_by_resending_it(api, admin, gateway, monkeypatch):
    key = create(api, admin, role="worker")

    def unreachable(*args, **kwargs):
        raise RuntimeError("API Gateway unreachable")

    with monkeypatch.context() as patched:
        patched.setattr(usage_plans, "sync", unreachable)
        assert api.request("DELETE", f"/keys/{key['key_id']}", admin)[0] >= 500
    assert verdict(key["key"])["context"]["refusal"] == "key_revoked"  # revoked all the same
    assert api_key(gateway, key["key_id"]) is not None  # the mirror is left behind ...
    assert api.request("DELETE", f"/keys/{key['key_id']}", admin)[0] == 200
    assert api_key(gateway, key["key_id"]) is None  # ... until the revocation is re-sent


def test_a_limit_change_interrupted_half_way_is_completed_by_resending_it(api, admin, gateway):
    key = create(api, admin, role="worker")
    mirror = api_key(gateway, key["key_id"])
    limits = {"limits": {"rate_limit": 2, "burst_limit": 4}}
    assert api.patch(f"/keys/{key['key_id']}", admin, limits)[0] == 200
    own = plans_of(gateway, mirror["id"])[usage_plans.own_plan_name(key["key_id"])]
    # As if the sync had stopped after the key left its old plan, before it joined the new one.
    gateway.delete_usage_plan_key(usagePlanId=own["id"], keyId=mirror["id"])
    assert not plans_of(gateway, mirror["id"])
    assert api.patch(f"/keys/{key['key_id']}", admin, limits)[0] == 200
    assert set(plans_of(gateway, mirror["id"])) == {usage_plans.own_plan_name(key["key_id"])}


def test_a_key_whose_mirror_cannot_be_made_is_never_handed_out(api, admin, gateway, monkeypatch):
    before = {k["key_id"] for k in api.get("/keys?limit=100", admin)[1]["items"]}

    def unreachable(*args, **kwargs):
        raise RuntimeError("API Gateway unreachable")

    monkeypatch.setattr(usage_plans, "sync", unreachable)
    status, body = api.post("/keys", admin, {"role": "worker"})
    assert status >= 500 and "key" not in body
    assert {k["key_id"] for k in api.get("/keys?limit=100", admin)[1]["items"]} == before


def test_the_admin_tool_restores_a_missing_mirror(api, admin, gateway, capsys):
    """Keys made before keys were mirrored (or a mirror deleted by hand): tools.admin puts them back."""
    from tools import admin as admin_tool

    key = create(api, admin, role="worker")
    mirror = api_key(gateway, key["key_id"])
    gateway.delete_usage_plan_key(usagePlanId=next(iter(plans_of(gateway, mirror["id"]).values()))["id"],
                                  keyId=mirror["id"])
    gateway.delete_api_key(apiKey=mirror["id"])
    assert admin_tool.main(["sync-usage-plans", "--key-id", key["key_id"]]) == 0
    assert '"synced": 1' in capsys.readouterr().out
    restored = api_key(gateway, key["key_id"])
    assert restored["value"] == verdict(key["key"])["usageIdentifierKey"]
    assert set(plans_of(gateway, restored["id"])) == {"foule-local-worker"}
