"""Workers signed in with the Cognito user pool: the check of an ID token (issue 14).

chalicelib.auth hands a bearer token here when it is a JWT (API keys start with "fk_"); this
module, and PyJWT with it, is imported only then, so requests with keys never pay for it.

A token is accepted only if all hold (AWS's "Verifying a JSON Web Token" for user pools):
- its header names RS256 and a `kid` of the pool's JSON Web Key Set (`settings.cognito_jwks_url()`,
  moto server's locally), and its signature verifies against that key. The set is kept for the
  process's life; an unknown `kid` refetches it once (the pool rotated its keys), at most once
  every JWKS_REFETCH_SECONDS, so a stream of forged kids cannot make us hammer the endpoint;
- `iss` is the pool's, `aud` is the app client's, `token_use` is "id" (an access token has no
  `aud` and is refused), `exp` is in the future (LEEWAY_SECONDS of clock skew);
- the user still exists and is enabled in the pool (AdminGetUser, kept settings.cache_seconds):
  as on MTurk or Toloka, deleting or disabling an account shuts it out at once, not when its
  last token expires an hour later.
The worker id is `w-<sub>`: `sub` is the user's stable id in the pool (emails can change).
"""
import json
import re
import threading
import time
import urllib.request

import jwt

from chalicelib.cache import TtlCache
from chalicelib.settings import settings

WORKER_ID_PREFIX = "w-"
# A signed-in worker's id: "w-" and its `sub`, a UUID (a worker key's owner id is "w-" and 16
# hex digits, so the two never meet).
USER_WORKER_ID = re.compile(r"^w-([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$")
LEEWAY_SECONDS = 30
JWKS_REFETCH_SECONDS = 60
JWKS_TIMEOUT_SECONDS = 3
MAX_TOKEN_CHARS = 8192
RETRYABLE_COGNITO_CODES = {"TooManyRequestsException", "InternalErrorException", "ThrottlingException"}


class Refused(Exception):
    """The token is not accepted; `code` is the 401's (see chalicelib.auth.REFUSALS)."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


class Unavailable(Exception):
    """The pool could not be asked (its keys or the user unreachable, or throttled): the
    request is answered 503 with Retry-After, like a busy store (chalicelib.api)."""

    retryable = True


class _KeySet:
    """The pool's signing keys by kid, fetched on first use and again (rate-limited) when a
    token names a kid the set does not have."""

    def __init__(self):
        self.keys: dict[str, jwt.PyJWK] = {}
        self.fetched_at = None
        self.lock = threading.Lock()

    def key(self, kid: str) -> jwt.PyJWK:
        with self.lock:
            if kid not in self.keys and (self.fetched_at is None
                                         or time.monotonic() - self.fetched_at >= JWKS_REFETCH_SECONDS):
                self.keys = self._fetch()
                self.fetched_at = time.monotonic()
            found = self.keys.get(kid)
        if found is None:
            raise Refused("invalid_token")
        return found

    @staticmethod
    def _fetch() -> dict[str, jwt.PyJWK]:
        try:
            with urllib.request.urlopen(settings.cognito_jwks_url(), timeout=JWKS_TIMEOUT_SECONDS) as response:
                document = json.load(response)
        except (OSError, ValueError) as error:
            raise Unavailable(f"the pool's keys could not be read: {error!r}") from None
        return {k["kid"]: jwt.PyJWK(k) for k in document.get("keys", [])
                if k.get("kid") and k.get("kty") == "RSA" and k.get("use", "sig") == "sig"}


_key_set = _KeySet()
# sub -> True while the user exists and is enabled (a refusal is never kept: see TtlCache).
_users = TtlCache()


def worker_id(token: str) -> str:
    """The worker id of a valid ID token of the pool; Refused otherwise."""
    if len(token) > MAX_TOKEN_CHARS or not settings.user_pool_id:
        raise Refused("invalid_token")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise Refused("invalid_token") from None
    if header.get("alg") != "RS256" or not isinstance(header.get("kid"), str):
        raise Refused("invalid_token")
    key = _key_set.key(header["kid"])
    try:
        claims = jwt.decode(token, key.key, algorithms=["RS256"], audience=settings.user_pool_client_id,
                            issuer=settings.cognito_issuer(), leeway=LEEWAY_SECONDS,
                            options={"require": ["exp", "iat", "iss", "aud", "sub", "token_use"]})
    except jwt.ExpiredSignatureError:
        raise Refused("token_expired") from None
    except jwt.PyJWTError:
        raise Refused("invalid_token") from None
    if claims["token_use"] != "id" or not isinstance(claims["sub"], str) or not claims["sub"]:
        raise Refused("invalid_token")
    username = claims.get("cognito:username") or claims["sub"]
    if not _users.get(claims["sub"], lambda: _user_enabled(username)):
        raise Refused("account_disabled")
    return WORKER_ID_PREFIX + claims["sub"]


def delete_user(worker_id: str) -> bool:
    """Delete the user pool account of a signed-in worker (erasure: its email address goes);
    False if the id is not a signed-in worker's or the account is already gone. Its tokens are
    refused from then on (the user no longer exists)."""
    match = USER_WORKER_ID.match(worker_id)
    if not match or not settings.user_pool_id:
        return False
    try:  # with email as the username attribute, the pool's username is the sub
        _cognito().admin_delete_user(UserPoolId=settings.user_pool_id, Username=match.group(1))
    except _cognito().exceptions.UserNotFoundException:
        return False
    _users.forget(match.group(1))
    return True


def _user_enabled(username: str) -> bool | None:
    """True if the user exists and is enabled; None (not cached) otherwise."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        user = _cognito().admin_get_user(UserPoolId=settings.user_pool_id, Username=username)
    except _cognito().exceptions.UserNotFoundException:
        return None
    except (BotoCoreError, ClientError) as error:
        if isinstance(error, ClientError) and error.response["Error"]["Code"] not in RETRYABLE_COGNITO_CODES:
            raise
        raise Unavailable(f"the user could not be read: {error!r}") from None
    return True if user.get("Enabled", True) else None


_client = None


def _cognito():
    global _client
    if _client is None:
        import boto3

        _client = boto3.client("cognito-idp", region_name=settings.region)
    return _client
