"""CORS for the worker app over real HTTP (`chalice local`, as `make run` serves the API): the
browser's preflight, then the request with the user pool's ID token, from the app's origin."""
import os

import pytest
import requests

from tools import local_stack

pytestmark = pytest.mark.http
APP = "http://127.0.0.1:8766"
OTHER_APP = "http://localhost:8766"


@pytest.fixture(scope="module")
def api_url():
    port = local_stack.free_port()
    process = local_stack.start_chalice_local(port, {**os.environ, "FOULE_APP_ORIGINS": f"{APP}, {OTHER_APP}/"},
                                              quiet=True)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_preflight_then_a_signed_in_request(api_url, id_token):
    preflight = requests.options(f"{api_url}/me/profile", timeout=10, headers={
        "Origin": APP, "Access-Control-Request-Method": "PUT",
        "Access-Control-Request-Headers": "authorization,content-type"})
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == APP
    assert "PUT" in preflight.headers["Access-Control-Allow-Methods"]
    allowed = {h.strip().lower() for h in preflight.headers["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "content-type"} <= allowed

    response = requests.put(f"{api_url}/me/profile", json={"accepted_terms": True}, timeout=10,
                            headers={"Origin": APP, "Authorization": f"Bearer {id_token}"})
    assert response.status_code == 200, response.text
    assert response.headers["Access-Control-Allow-Origin"] == APP
    assert response.json()["accepted_terms"] is True


def test_second_origin_and_errors_carry_cors(api_url):
    """A refused token's 401 must reach the app's code (else the browser hides it)."""
    response = requests.get(f"{api_url}/me", timeout=10,
                            headers={"Origin": OTHER_APP, "Authorization": "Bearer eyJhbGciOiJub25lIn0.e30."})
    assert response.status_code == 401 and response.json()["error"]["code"] == "invalid_token"
    assert response.headers["Access-Control-Allow-Origin"] == OTHER_APP
    assert response.headers["Vary"] == "Origin"


def test_other_origins_are_not_named(api_url, new_key):
    response = requests.get(f"{api_url}/me", timeout=10,
                            headers={"Origin": "https://evil.example", "Authorization": f"Bearer {new_key('worker')[0]}"})
    assert response.status_code == 200
    assert response.headers.get("Access-Control-Allow-Origin") != "https://evil.example"
