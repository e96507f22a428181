"""The worker app in a real browser: Debian's headless Chromium driven by Playwright.

One browser, one `chalice local` and one static server for the whole session (the xdist group
"browser" keeps every test here on one worker); each test opens its own context (its own
storage: IndexedDB, localStorage, service worker). Without /usr/bin/chromium every test here
is skipped, saying how to install it.

FOULE_SCREENSHOTS=DIR saves the main screens there as the tests pass them (the README's).
"""
import os
from pathlib import Path

import pytest

from tools import local_stack, web_server

CHROMIUM = Path("/usr/bin/chromium")
AXE = Path(__file__).resolve().parents[2] / "web" / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
PHONE = {"width": 390, "height": 844}


def pytest_collection_modifyitems(items):
    here = Path(__file__).parent
    for item in items:
        if Path(item.fspath).is_relative_to(here):
            item.add_marker(pytest.mark.xdist_group("browser"))


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium: install it with `apt-get install chromium chromium-driver`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def app_port() -> int:
    return local_stack.free_port()


@pytest.fixture(scope="session")
def api_url(app_port):
    """`chalice local` answering CORS for the app's origin."""
    port = local_stack.free_port()
    env = {**os.environ, "FOULE_APP_ORIGINS": f"http://127.0.0.1:{app_port}"}
    process = local_stack.start_chalice_local(port, env, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def app_url(app_port, api_url, moto_endpoint):
    server = web_server.serve(app_port, web_server.app_config(api_url, local_stack.cognito_config(dict(os.environ))))
    try:
        yield f"http://127.0.0.1:{app_port}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def page(browser, app_url):
    """A phone-sized page of the app in a fresh context, English unless a test says otherwise."""
    context = browser.new_context(viewport=PHONE, locale="en-US", has_touch=True, is_mobile=True)
    context.set_default_timeout(8000)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: print(f"[console.{message.type}] {message.text}"))  # shown on failure
    yield page
    context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


def sign_in_with_key(page, app_url, key):
    page.goto(app_url + "#/signin")
    page.get_by_text("Sign in with a worker key").click()
    page.get_by_label("Worker key").fill(key)
    page.locator("details").get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Projects open to you").wait_for()


def axe_violations(page) -> list[dict]:
    """axe-core's serious and critical violations on the page as it is now."""
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: `make web-deps` installs it (npm ci in web/)")
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [{"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:3]}
            for v in result["violations"] if v["impact"] in ("serious", "critical")]


def screenshot(page, name: str) -> None:
    folder = os.environ.get("FOULE_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"))


def stored(api, requester, project_id) -> list[dict]:
    """The project's answers as the requester's API lists them."""
    status, data = api.get(f"/projects/{project_id}/assignments?limit=100", requester)
    assert status == 200, data
    return data["items"]



