"""Workers signed in with the Cognito user pool (moto server): the API accepts the pool's ID
tokens and nothing that merely looks like one (chalicelib/identity.py).

Forged tokens are signed with moto's own signing key (the private half of the JWKS it serves),
so each refusal below is for the one claim or header the test changed: the same forgery with
nothing changed is accepted (test_forged_token_with_every_claim_right_is_accepted).
"""
import base64
import dataclasses
import gzip
import json
import re
import time
from importlib import resources

import jwt
import pytest

from chalicelib import identity


@pytest.fixture(scope="module")
def moto_signing_key():
    jwk = json.loads(gzip.decompress((resources.files("moto") / "cognitoidp/resources/jwks-private.json.gz")
                                     .read_bytes()))
    return jwk["kid"], jwt.PyJWK(jwk).key


@pytest.fixture
def forge(cognito, moto_signing_key, id_token):
    """forge(**claim_changes, kid=..., alg=...) -> a token signed with the pool's key whose
    claims are those of a real ID token (a real user) with the changes applied."""
    claims = jwt.decode(id_token, options={"verify_signature": False})

    def make(kid=None, **changes):
        kid_default, key = moto_signing_key
        payload = {**claims, **changes}
        return jwt.encode({k: v for k, v in payload.items() if v is not None}, key, algorithm="RS256",
                          headers={"kid": kid or kid_default})

    return make


def refused(api, token, code="invalid_token", path="/me"):
    status, body = api.get(path, token)
    assert status == 401, body
    assert set(body) == {"error"} and body["error"]["code"] == code and body["error"]["message"], body
    return body


def test_sign_up_confirm_sign_in_then_me(api, cognito, sign_up):
    result = sign_up()
    sub = jwt.decode(result["IdToken"], options={"verify_signature": False})["sub"]
    status, me = api.get("/me", result["IdToken"])
    assert status == 200, me
    assert me["worker_id"] == f"w-{sub}"
    # The same user signing in again is the same worker.
    claims = jwt.decode(result["IdToken"], options={"verify_signature": False})
    again = cognito["client"].initiate_auth(
        ClientId=cognito["client_id"], AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": claims["email"], "PASSWORD": "Correct-horse-9"})["AuthenticationResult"]
    assert api.get("/me", again["IdToken"])[1]["worker_id"] == f"w-{sub}"


def test_forged_token_with_every_claim_right_is_accepted(api, forge):
    """The control of the forgeries below: moto's key and a real user's claims pass."""
    assert api.get("/me", forge())[0] == 200


def test_tampered_signature(api, id_token):
    header, payload, signature = id_token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = "someone-else"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    refused(api, f"{header}.{forged}.{signature}")
    flipped = signature[:-4] + ("AAAA" if not signature.endswith("AAAA") else "BBBB")
    refused(api, f"{header}.{payload}.{flipped}")


def test_alg_none(api, id_token, moto_signing_key):
    claims = jwt.decode(id_token, options={"verify_signature": False})
    unsigned = jwt.encode(claims, None, algorithm="none", headers={"kid": moto_signing_key[0]})
    refused(api, unsigned)
    refused(api, unsigned + "c2ln")  # with a made-up signature


def test_hs256_with_the_public_key_as_secret(api, id_token, moto_signing_key):
    """The classic confusion: a token MACed with the (public) key text must not pass."""
    claims = jwt.decode(id_token, options={"verify_signature": False})
    header = base64.urlsafe_b64encode(json.dumps({"alg": "HS256", "kid": moto_signing_key[0]}).encode())
    body = base64.urlsafe_b64encode(json.dumps(claims).encode())
    refused(api, f"{header.rstrip(b'=').decode()}.{body.rstrip(b'=').decode()}.c2lnbmF0dXJl")


def test_expired(api, forge):
    now = int(time.time())
    refused(api, forge(iat=now - 7200, exp=now - 3600), code="token_expired")


def test_wrong_pool(api, cognito, sign_up):
    """A real ID token of another pool (same moto signing key, its own issuer and client)."""
    client = cognito["client"]
    pool = client.create_user_pool(PoolName="another-pool", UsernameAttributes=["email"])["UserPool"]["Id"]
    other_client = client.create_user_pool_client(UserPoolId=pool, ClientName="other",
                                                  ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"])
    token = sign_up(client_id=other_client["UserPoolClient"]["ClientId"])["IdToken"]
    assert jwt.decode(token, options={"verify_signature": False})["iss"].endswith(pool)
    refused(api, token)


def test_wrong_pool_even_with_our_client_id(api, forge):
    refused(api, forge(iss="https://cognito-idp.us-east-1.amazonaws.com/us-east-1_other"))


def test_wrong_client(api, cognito, sign_up):
    other = cognito["client"].create_user_pool_client(UserPoolId=cognito["user_pool_id"], ClientName="not-the-app",
                                                      ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"])
    refused(api, sign_up(client_id=other["UserPoolClient"]["ClientId"])["IdToken"])


def test_access_token_where_an_id_token_is_expected(api, sign_up):
    refused(api, sign_up()["AccessToken"])


def test_id_claims_with_token_use_access(api, forge):
    refused(api, forge(token_use="access"))


def test_missing_claims(api, forge):
    refused(api, forge(exp=None))
    refused(api, forge(aud=None))


def test_unknown_kid_refetches_the_key_set_once(api, forge, monkeypatch):
    fetches = []
    real_fetch = identity._KeySet._fetch

    def counting_fetch():
        fetches.append(1)
        return real_fetch()

    monkeypatch.setattr(identity._KeySet, "_fetch", staticmethod(counting_fetch))
    monkeypatch.setattr(identity._key_set, "fetched_at", None)
    refused(api, forge(kid="rotated-away"))
    assert len(fetches) == 1
    refused(api, forge(kid="another-unknown"))  # within JWKS_REFETCH_SECONDS: no new fetch
    assert len(fetches) == 1
    assert api.get("/me", forge())[0] == 200  # the known kid is served from the kept set
    assert len(fetches) == 1


def test_new_key_of_the_pool_is_found_by_one_refetch(api, forge, moto_signing_key, monkeypatch):
    """After the pool rotates its keys, a token with the new kid is accepted (one refetch)."""
    real_fetch = identity._KeySet._fetch

    def rotated():
        keys = real_fetch()
        return {**keys, "new-kid": keys[moto_signing_key[0]]}

    monkeypatch.setattr(identity._key_set, "fetched_at", None)
    monkeypatch.setattr(identity._key_set, "keys", {})
    monkeypatch.setattr(identity._KeySet, "_fetch", staticmethod(rotated))
    assert api.get("/me", forge(kid="new-kid"))[0] == 200


def test_deleted_user(api, cognito, sign_up):
    result = sign_up()
    assert api.get("/me", result["IdToken"])[0] == 200
    email = jwt.decode(result["IdToken"], options={"verify_signature": False})["email"]
    cognito["client"].admin_delete_user(UserPoolId=cognito["user_pool_id"], Username=email)
    refused(api, result["IdToken"], code="account_disabled")


def test_disabled_user(api, cognito, sign_up):
    result = sign_up()
    email = jwt.decode(result["IdToken"], options={"verify_signature": False})["email"]
    cognito["client"].admin_disable_user(UserPoolId=cognito["user_pool_id"], Username=email)
    refused(api, result["IdToken"], code="account_disabled")
    cognito["client"].admin_enable_user(UserPoolId=cognito["user_pool_id"], Username=email)
    assert api.get("/me", result["IdToken"])[0] == 200


def test_garbage_that_looks_like_a_jwt(api):
    refused(api, "eyJhbGciOiJSUzI1NiJ9.not-base64!.x")
    refused(api, "eyJ" + "A" * 9000)


def test_a_token_works_only_where_a_worker_key_does(api, id_token, requester):
    assert api.get("/projects", id_token)[0] == 403
    assert api.get("/projects", id_token)[1]["error"]["code"] == "wrong_role"
    assert api.get("/keys", id_token)[1]["error"]["code"] == "wrong_role"


def test_a_token_opens_every_worker_route_and_no_other(api, chalice_app, id_token, forge, monkeypatch):
    from app import api as foule_api
    from chalicelib.services import live

    monkeypatch.setattr(live, "window", lambda rng: [])  # /work/next must not lease other tests' tasks

    assert api.request("PUT", "/me/profile", id_token, {"accepted_terms": True})[0] == 200
    protected = [r for r in foule_api.routes if r.roles]
    # DELETE /me erases the account: last.
    protected.sort(key=lambda r: (r.path, r.method) == ("/me", "DELETE"))
    expired = forge(exp=int(time.time()) - 3600)
    worker_routes = 0
    for route in protected:
        path = re.sub(r"{\w+}", "x-none", route.path)
        body = {} if route.body is not None else None
        assert api.request(route.method, path, expired, body)[0] == 401, route.path
        status, data = api.request(route.method, path, id_token, body)
        code = (data or {}).get("error", {}).get("code") if status >= 400 else None
        if "worker" in route.roles:
            worker_routes += 1
            assert status != 401 and code != "wrong_role", (route.method, route.path, status, data)
        else:
            assert (status, code) == (403, "wrong_role"), (route.method, route.path, status, data)
    assert worker_routes >= 12
    assert api.get("/me", id_token)[1]["error"]["code"] == "account_disabled"  # DELETE /me deleted it


def test_unreachable_key_set_is_a_503_to_retry_not_a_401(api, id_token, monkeypatch):
    """A token cannot be judged while the pool's keys cannot be read: retry, don't sign out."""
    from chalicelib.settings import settings

    monkeypatch.setattr(identity._key_set, "fetched_at", None)
    monkeypatch.setattr(identity._key_set, "keys", {})
    monkeypatch.setattr(identity, "settings", dataclasses.replace(settings, cognito_endpoint="http://127.0.0.1:9"))  # nothing listens on the discard port
    status, body = api.get("/me", id_token)
    assert status == 503 and body["error"]["code"] == "store_unavailable", body
    monkeypatch.setattr(identity, "settings", settings)
    assert api.get("/me", id_token)[0] == 200  # the failed fetch did not start the refetch delay
