"""One moto server for the whole session, with infra/template.yaml deployed into it.

The environment that names the tables is set in pytest_configure, before any test module
imports the app or the models (pynamodb reads table names when a model class is defined).
Tests isolate themselves by creating their own keys and projects (random ids), so the store
is never wiped between tests.
"""
import json
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATASETS = ROOT.parent / "shared" / "datasets"
sys.path.insert(0, str(ROOT))

from tools import local_stack  # noqa: E402

_moto = None


def pytest_configure(config):
    global _moto
    if getattr(config, "workerinput", None) is None and config.getoption("numprocesses", None):
        return  # the xdist controller runs no test; each worker starts its own moto server
    for name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL")]:
        del os.environ[name]
    # Tests count and break each store call a request makes: the short-lived caches of
    # chalicelib/cache.py would hide some. tests/test_caches.py turns them on to test them.
    os.environ["FOULE_CACHE_SECONDS"] = "0"
    port = local_stack.free_port()
    _moto = local_stack.start_moto(port)
    os.environ.update(local_stack.deploy_stack(f"http://127.0.0.1:{port}"))


def pytest_unconfigure(config):
    if _moto is not None:
        _moto.terminate()
        _moto.wait(timeout=10)


@pytest.fixture(scope="session")
def moto_endpoint() -> str:
    return os.environ["AWS_ENDPOINT_URL"]


@pytest.fixture(scope="session")
def chalice_app():
    from app import app

    return app


@pytest.fixture(scope="session")
def api(chalice_app):
    """A small JSON client over chalice.test.Client: api.post(path, key, body) -> (status, json)."""
    from chalice.test import Client

    with Client(chalice_app, stage_name="local", project_dir=str(ROOT)) as client:
        yield JsonClient(client)


class JsonClient:
    def __init__(self, client):
        self.client = client

    def request(self, method: str, path: str, key: str | None = None, body=None, headers=None):
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        if key:
            all_headers["Authorization"] = f"Bearer {key}"
        raw = body if isinstance(body, (bytes, str)) else (json.dumps(body) if body is not None else b"")
        response = self.client.http.request(method, path, headers=all_headers,
                                            body=raw.encode() if isinstance(raw, str) else raw)
        data = json.loads(response.body) if response.body else None
        return response.status_code, data

    def get(self, path, key=None, **kw):
        return self.request("GET", path, key, **kw)

    def post(self, path, key=None, body=None, **kw):
        return self.request("POST", path, key, body if body is not None else {}, **kw)

    def patch(self, path, key=None, body=None, **kw):
        return self.request("PATCH", path, key, body, **kw)


@pytest.fixture
def new_key(chalice_app):
    """new_key(role) -> (secret, owner_id)."""
    from chalicelib import auth

    def make(role: str, owner_id: str | None = None):
        secret, key = auth.create_key(role, owner_id)
        return secret, key.owner_id

    return make


@pytest.fixture
def alias(chalice_app):
    """alias(requester_key, worker_id) -> the pseudonym under which that requester sees the worker."""
    from chalicelib import auth
    from chalicelib.services import pseudonyms

    def make(requester_key: str, worker_id: str) -> str:
        return pseudonyms.for_requester(auth.lookup(f"Bearer {requester_key}").owner_id, worker_id)

    return make


@pytest.fixture
def requester(new_key):
    return new_key("requester")[0]


@pytest.fixture
def admin(new_key):
    return new_key("admin")[0]


@pytest.fixture
def make_project(api, requester):
    """make_project(**fields) -> project id, owned by the `requester` fixture's key."""

    def make(key=None, **fields):
        body = {"title": "Is it a cat?", "answer_type": {"kind": "single_choice", "labels": ["cat", "dog"]},
                "overlap": 2, "reward_cents": 5, **fields}
        status, data = api.post("/projects", key or requester, body)
        assert status == 201, data
        return data["project_id"]

    return make


@pytest.fixture
def add_tasks(api, requester):
    def add(project_id, tasks, key=None):
        status, data = api.post(f"/projects/{project_id}/tasks", key or requester, {"tasks": tasks})
        assert status == 200, data
        return data

    return add


@pytest.fixture(scope="session")
def datasets_dir() -> Path:
    if not (DATASETS / "rte" / "answers.csv").exists():
        pytest.skip("../shared/datasets is not present")
    return DATASETS


# --- Workers' sign-in: the user pool the local stack created in moto (chalicelib/identity.py) ---
@pytest.fixture(scope="session")
def cognito() -> dict:
    """Where the worker app signs up and in: {endpoint, region, user_pool_id, client_id, client}
    (client: a boto3 cognito-idp client on moto server)."""
    import boto3

    return {"endpoint": os.environ["FOULE_COGNITO_ENDPOINT"], "region": os.environ["AWS_REGION"],
            "user_pool_id": os.environ["FOULE_USER_POOL_ID"],
            "client_id": os.environ["FOULE_USER_POOL_CLIENT_ID"],
            "client": boto3.client("cognito-idp", endpoint_url=os.environ["FOULE_COGNITO_ENDPOINT"])}


@pytest.fixture
def sign_up(cognito):
    """sign_up(email=None, password=..., client_id=None) -> the sign-in result (IdToken,
    AccessToken, RefreshToken) of a new confirmed user, as the app gets it: SignUp,
    ConfirmSignUp (moto accepts any code), InitiateAuth USER_PASSWORD_AUTH."""
    import secrets

    def make(email: str | None = None, password: str = "Correct-horse-9", client_id: str | None = None,
             cognito_client=None) -> dict:
        client, client_id = cognito_client or cognito["client"], client_id or cognito["client_id"]
        email = email or f"worker-{secrets.token_hex(6)}@example.org"
        client.sign_up(ClientId=client_id, Username=email, Password=password,
                       UserAttributes=[{"Name": "email", "Value": email}])
        client.confirm_sign_up(ClientId=client_id, Username=email, ConfirmationCode="123456")
        return client.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                                    AuthParameters={"USERNAME": email, "PASSWORD": password})["AuthenticationResult"]

    return make


@pytest.fixture
def id_token(sign_up) -> str:
    """The ID token of a new signed-up worker (send it as 'Authorization: Bearer <token>')."""
    return sign_up()["IdToken"]
