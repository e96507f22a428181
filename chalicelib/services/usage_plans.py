"""Each Foule key mirrored by an API Gateway API key in a usage plan: API Gateway's per-key
throttle and quota (infra/aws.yaml declares the plans; tools/local_stack.py creates the same
ones in moto).

- The API key's name and value are both `<prefix>-<key_id>` (prefix: settings.usage_plans,
  e.g. `foule-prod`). The API's key source is AUTHORIZER: clients never send an API key; the
  authorizer returns this value as `usageIdentifierKey` for the caller's Foule key. It is an
  identifier, not a credential, so the authorizer derives it and makes no call.
- A key is in the plan of its role (`<prefix>-worker`, `-requester`, `-integrator`, `-admin`)
  or, when an admin gave it limits of its own, in a plan of its own (`<prefix>-<key_id>`)
  with them (the role plan's for what it leaves unset), on the same API stages.
- A revoked key's API key leaves its plan and is deleted, its own plan with it. Rotation keeps
  the key id, so both secrets of a rotation count against the same API key: rotating never
  resets a quota. An expired key stays in its plan; the authorizer refuses it.
- A refused or missing key is let through to the view (for Foule's JSON 401) counted on the
  shared `<prefix>-anonymous` API key, whose plan bounds how fast anyone can guess keys.

`sync` makes API Gateway agree with a key's record whatever it finds there: every step is
skipped when already done, so a sync interrupted half-way is completed by the next one and is
safe to retry. API Gateway allows one plan per API key and stage: a move leaves the old plan
before joining the new one. moto stores plans and keys but enforces nothing: locally the
limits are services.rate_limits' (settings.rate_limiter), which is off in AWS.
"""
import functools

from chalicelib.settings import settings

ANONYMOUS = "anonymous"
SIGNED_IN = "signed-in"
ROLES = ("admin", "requester", "worker", "integrator")
DESCRIPTION = "Mirrors the Foule key of the same id (chalicelib/services/usage_plans.py)"


def identifier(key_id: str) -> str:
    """The API key (name and value) of a Foule key, as the authorizer returns it; "" when
    keys are not mirrored (settings.usage_plans empty)."""
    return f"{settings.usage_plans}-{key_id}" if settings.usage_plans else ""


def identifier_of(caller) -> str:
    """The API key the authorizer names for a caller (chalicelib.auth.Caller): its Foule key's;
    for a worker signed in with the user pool, who has no Foule key, the one key all of them
    share (`<prefix>-signed-in`, whose plan bounds the crowd as a whole: one API key per worker
    would run into API Gateway's limit on API keys per account; services.rate_limits counts
    each of them in AWS too); the anonymous one for a refused or missing key."""
    if caller.signed_in:
        return identifier(SIGNED_IN)
    return identifier(caller.key_id or ANONYMOUS)


def role_plan_name(role: str) -> str:
    return f"{settings.usage_plans}-{role}"


def own_plan_name(key_id: str) -> str:
    return identifier(key_id)  # plans and API keys have names of their own


@functools.cache
def _client():
    import boto3  # here: the authorizer imports this module and never calls API Gateway

    return boto3.client("apigateway", region_name=settings.region)


def _all(method, **params) -> list[dict]:
    return [item for page in _client().get_paginator(method).paginate(**params) for item in page["items"]]


@functools.cache
def _role_plans() -> dict[str, dict]:
    """The role plans by role: created with the stack, read once per process."""
    plans = {plan["name"]: plan for plan in _all("get_usage_plans")}
    missing = [role_plan_name(r) for r in ROLES if role_plan_name(r) not in plans]
    if missing:
        raise RuntimeError(f"usage plans {missing} do not exist: infra/aws.yaml declares them "
                           "(tools/local_stack.py creates them in moto)")
    return {role: plans[role_plan_name(role)] for role in ROLES}


def _api_key(name: str, create: bool) -> dict | None:
    """The API key named `name`, created (enabled) if asked and missing."""
    found = next((k for k in _all("get_api_keys", nameQuery=name) if k["name"] == name), None)
    if found is not None or not create:
        return found
    client = _client()
    try:
        return client.create_api_key(name=name, value=name, enabled=True, description=DESCRIPTION)
    except client.exceptions.ConflictException:  # a concurrent sync made it meanwhile
        return _api_key(name, create=False)


def _plan_limits(role_plan: dict, limits) -> dict:
    """A plan's throttle and quota: the key's own limits, the role plan's for the rest."""
    throttle = dict(role_plan.get("throttle") or {})
    if limits.rate_limit is not None:
        throttle["rateLimit"] = limits.rate_limit
    if limits.burst_limit is not None:
        throttle["burstLimit"] = limits.burst_limit
    quota = dict(role_plan.get("quota") or {})
    if limits.quota_limit is not None:
        quota = {"limit": limits.quota_limit, "period": limits.quota_period or "DAY"}
    return {"throttle": throttle, "quota": quota}


def _patch_value(value) -> str:
    """A patch value as API Gateway reads it: 7, not 7.0 (moto reads throttle values as ints)."""
    if isinstance(value, str):
        return value
    return str(int(value)) if float(value).is_integer() else str(value)


def _own_plan(existing: dict | None, key_id: str, role_plan: dict, limits) -> dict:
    """The key's own plan with these limits: created, or changed in place (a changed limit
    keeps the usage counted so far)."""
    wanted = _plan_limits(role_plan, limits)
    if existing is None:
        return _client().create_usage_plan(name=own_plan_name(key_id), description=f"Own limits of Foule key {key_id}",
                                           apiStages=role_plan.get("apiStages") or [],
                                           **{k: v for k, v in wanted.items() if v})
    operations = [{"op": "replace", "path": f"/{part}/{field}", "value": _patch_value(value)}
                  for part in ("throttle", "quota") for field, value in wanted[part].items()
                  if (existing.get(part) or {}).get(field) != value]
    if existing.get("quota") and not wanted["quota"]:
        operations.append({"op": "remove", "path": "/quota"})
    return _client().update_usage_plan(usagePlanId=existing["id"], patchOperations=operations) if operations else existing


def _delete_plan(plan: dict) -> None:
    """Delete a key's own plan (after its key left it): its API stages first, as AWS asks."""
    operations = [{"op": "remove", "path": "/apiStages", "value": f"{s['apiId']}:{s['stage']}"}
                  for s in plan.get("apiStages") or []]
    if operations:
        _client().update_usage_plan(usagePlanId=plan["id"], patchOperations=operations)
    _client().delete_usage_plan(usagePlanId=plan["id"])


def sync(key_id: str, role: str, limits=None, *, revoked: bool = False, new: bool = False) -> None:
    """Make the key's API key and plan agree with its record: `limits` are the key's own
    (chalicelib.auth.KeyLimits, None for its role's), `revoked` deletes the mirror. `new`: the
    key id was just made, so nothing of it can exist yet (two calls instead of five)."""
    if not settings.usage_plans:
        return
    client = _client()
    role_plan = _role_plans()[role]
    if new and limits is None:
        api_key = client.create_api_key(name=identifier(key_id), value=identifier(key_id), enabled=True,
                                        description=DESCRIPTION)
        client.create_usage_plan_key(usagePlanId=role_plan["id"], keyId=api_key["id"], keyType="API_KEY")
        return
    own = next((p for p in _all("get_usage_plans") if p["name"] == own_plan_name(key_id)), None)
    api_key = _api_key(identifier(key_id), create=not revoked)
    target = None if revoked else _own_plan(own, key_id, role_plan, limits) if limits else role_plan
    if api_key is not None:
        member_of = {p["id"] for p in _all("get_usage_plans", keyId=api_key["id"])}
        for plan_id in member_of - ({target["id"]} if target else set()):
            client.delete_usage_plan_key(usagePlanId=plan_id, keyId=api_key["id"])
        if target is not None and target["id"] not in member_of:
            client.create_usage_plan_key(usagePlanId=target["id"], keyId=api_key["id"], keyType="API_KEY")
        if revoked:
            client.delete_api_key(apiKey=api_key["id"])
    if own is not None and (revoked or not limits):
        _delete_plan(own)
