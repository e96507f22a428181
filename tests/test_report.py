"""A run's report.html (issue 17): served by GET /projects/{id}/report[/{run_id}] as a presigned
URL, listed in the manifest with its checksum, in the requester's language, grouped by the
payload fields it names, every requester string escaped, workers by pseudonym only."""
import hashlib
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
import requests

from tests.scheduled import run_aggregator

ATTACK = "</script><script>alert(1)</script>"
# What a successful injection would leave in the rendered page (an alert cannot be seen headless).
DOM_ATTACK = '</script><script>document.documentElement.setAttribute("data-pwned","1")</script>'
REGIONS = ["north", "south", "east"]


def answer(api, worker_key, project_id, task_id, value):
    status, lease = api.post(f"/projects/{project_id}/tasks/{task_id}/lease", worker_key)
    assert status == 200, lease
    status, receipt = api.post(f"/leases/{lease['lease_id']}/answer", worker_key, {"answer": value})
    assert status == 200, receipt


def published(api, key, project_id, new_key, labels, answers_of, tasks):
    """Tasks added, three workers answer every one (`answers_of(worker, task index)`), one run."""
    status, data = api.post(f"/projects/{project_id}/tasks", key, {"tasks": tasks})
    assert status == 200, data
    workers = [new_key("worker") for _ in range(3)]
    for w, (secret, _) in enumerate(workers):
        for i, task in enumerate(tasks):
            answer(api, secret, project_id, task["task_id"], answers_of(w, i))
    run_aggregator(project_id)
    return workers


def fetch(entry: dict) -> str:
    response = requests.get(entry["url"], timeout=10)
    assert response.status_code == 200
    assert len(response.content) == entry["bytes"]
    assert hashlib.sha256(response.content).hexdigest() == entry["sha256"]
    assert response.headers["Content-Type"].startswith("text/html")
    return response.content.decode()


@pytest.fixture
def french_project(api, requester, new_key):
    status, project = api.post("/projects", requester, {
        "title": "Chats ou chiens ?", "overlap": 3, "reward_cents": 5, "budget_cents": 10_000,
        "answer_type": {"kind": "single_choice", "labels": ["chat", "chien"]},
        "report": {"language": "fr", "group_by": ["region"]}})
    assert status == 201, project
    assert project["report"] == {"language": "fr", "group_by": ["region"]}
    project_id = project["project_id"]
    tasks = [{"task_id": f"t{i}", "payload": {"region": REGIONS[i % 3], "text": f"photo {i}"}} for i in range(9)]
    tasks[0]["known_answer"] = "chat"
    workers = published(api, requester, project_id, new_key, ["chat", "chien"],
                        lambda w, i: "chat" if (i % 3 == 0 or (w == 2 and i == 4)) else "chien", tasks)
    return project_id, workers


def test_each_run_publishes_its_report_listed_with_its_checksum(api, requester, new_key, french_project, alias):
    project_id, workers = french_project
    status, report = api.get(f"/projects/{project_id}/report", requester)
    assert status == 200, report
    status, results = api.get(f"/projects/{project_id}/results", requester)
    assert report["run_id"] == results["run_id"] and report["latest"]
    entry = results["manifest"]["files"]["report.html"]
    assert {k: report[k] for k in ("key", "bytes", "sha256")} == entry
    page = fetch(report)
    # The same run by id; an integrator key of the project reads it too, another requester does not.
    status, by_id = api.get(f"/projects/{project_id}/report/{report['run_id']}", requester)
    assert status == 200 and by_id["sha256"] == entry["sha256"]
    status, integrator = api.post("/keys", requester, {"role": "integrator", "project_ids": [project_id],
                                                       "name": "bi"})
    assert status == 201, integrator
    assert api.get(f"/projects/{project_id}/report", integrator["key"])[0] == 200
    stranger = new_key("requester")[0]
    for path in (f"/projects/{project_id}/report", f"/projects/{project_id}/report/{report['run_id']}"):
        status, body = api.get(path, stranger)
        assert status == 404 and body["error"]["code"] == "project_not_found"
    status, body = api.get(f"/projects/{project_id}/report", workers[0][0])
    assert status == 403 and body["error"]["code"] == "wrong_role"
    status, missing = api.get(f"/projects/{project_id}/report/20200101T000000Z-nope", requester)
    assert status == 404 and missing["error"]["code"] == "run_not_found"

    # Offline: no resource is fetched from anywhere (no src=, no href= to a stylesheet or script).
    markup = re.sub(r"<script>.*?</script>", "<script></script>", page, flags=re.S)  # the code's own strings aside
    assert not re.search(r"<(script|link|img|iframe)[^>]*\s(src|href)=", markup)
    assert 'name="viewport"' in page and "echarts" in page
    # In French, with the figures of the run: 8 results (one gold task), 27 answers by 3 workers.
    assert '<html lang="fr">' in page and "En bref" in page and "Tâches les plus incertaines" in page
    assert "8 résultats tirés de 27 réponses de 3 contributeurs" in page
    # Results by subject: one row per region; "south" holds t1, t4 and t7.
    assert "Par region" in page
    south = re.search(r"<tr><td class=\"text\">south</td>(.*?)</tr>", page).group(1)
    assert re.findall(r'class="num">([^<]*)<', south)[0] == "3"
    # The crowd by the requester's pseudonyms, never by worker id.
    for secret, worker_id in workers:
        assert worker_id not in page
        assert alias(requester, worker_id) in page


def test_the_report_is_in_english_by_default_and_settings_change_by_patch(api, requester, make_project):
    project_id = make_project()
    status, project = api.get(f"/projects/{project_id}", requester)
    assert project["report"] == {"language": "en", "group_by": []}
    status, project = api.patch(f"/projects/{project_id}", requester, {"report": {"group_by": ["city", "kind"]}})
    assert status == 200 and project["report"] == {"language": "en", "group_by": ["city", "kind"]}
    status, error = api.patch(f"/projects/{project_id}", requester, {"report": {"language": "de"}})
    assert status == 400, error
    for group_by in (["a", "a"], [ATTACK]):  # twice the same field; not a field name
        status, error = api.patch(f"/projects/{project_id}", requester, {"report": {"group_by": group_by}})
        assert status == 400, error
    # No run yet: no report.
    status, error = api.get(f"/projects/{project_id}/report", requester)
    assert status == 404 and error["error"]["code"] == "no_results_yet"


def test_a_run_published_without_a_report_answers_no_report(api, requester, french_project):
    from chalicelib.services import publishing

    project_id, _ = french_project
    run_id = api.get(f"/projects/{project_id}/report", requester)[1]["run_id"]
    key = publishing.manifest_key(project_id, run_id)
    manifest = publishing.get_json(key)
    del manifest["files"]["report.html"]  # as runs published before reports existed
    publishing.put_json(key, manifest)
    status, error = api.get(f"/projects/{project_id}/report", requester)
    assert status == 404 and error["error"]["code"] == "no_report"


@pytest.fixture
def attacked_report(api, requester, new_key):
    """A project whose title, labels and payload values (grouped by) are script injections."""
    labels = [ATTACK, DOM_ATTACK]
    status, project = api.post("/projects", requester, {
        "title": f"Title {ATTACK}", "overlap": 3,
        "answer_type": {"kind": "single_choice", "labels": labels},
        "report": {"group_by": ["region"]}})
    assert status == 201, project
    project_id = project["project_id"]
    tasks = [{"task_id": f"x{i}", "payload": {"region": DOM_ATTACK if i % 2 else ATTACK, "text": ATTACK}}
             for i in range(4)]
    published(api, requester, project_id, new_key, labels, lambda w, i: labels[(w + i) % 2], tasks)
    return fetch(api.get(f"/projects/{project_id}/report", requester)[1])


def test_requester_strings_cannot_inject_script(attacked_report):
    page = attacked_report
    assert "alert(1)" in page  # the strings are in the page ...
    assert ATTACK not in page and DOM_ATTACK not in page  # ... never as markup
    assert "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in page  # escaped in the HTML
    assert "\\u003c/script\\u003e\\u003cscript\\u003ealert(1)" in page  # and in the charts' JSON
    # Only the page's own three script elements.
    assert len(re.findall(r"<script\b", page, flags=re.I)) == 3


@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="needs Debian's chromium")
def test_the_report_renders_offline_in_chromium_without_running_injected_script(attacked_report, tmp_path):
    path = tmp_path / "report.html"
    path.write_text(attacked_report)
    dom = subprocess.run(["/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu",
                          "--virtual-time-budget=3000", "--dump-dom", path.as_uri()],
                         capture_output=True, text=True, timeout=60).stdout
    assert "</html>" in dom
    assert not re.search(r"<html[^>]*data-pwned", dom)  # the injected script never ran
    assert dom.count("<canvas") >= 4  # the charts were drawn (ECharts inlined, nothing fetched)


# Each kind but single choice: its equivalent of the label distribution.
KIND_CHART = {"multiple_choice": "Results per answer", "number": "Histogram of the answers",
              "rating": "Histogram of the answers", "text": "Results per answer",
              "pairwise": "Ranking of the items", "boxes": "Results per answer"}


@pytest.mark.parametrize("kind", list(KIND_CHART))
def test_a_project_of_each_kind_publishes_its_report(kind, api, requester, new_key):
    from tests.test_kinds_api import CASES

    answer_type, payloads, truth, gold, answer_of, _ = CASES[kind]
    status, project = api.post("/projects", requester, {"title": f"A {kind} project", "overlap": 3,
                                                        "answer_type": answer_type})
    assert status == 201, project
    project_id = project["project_id"]
    tasks = [{"task_id": t, "payload": p, **({"known_answer": truth[t]} if t in gold else {})}
             for t, p in payloads.items()]
    published(api, requester, project_id, new_key, None,
              lambda w, i: answer_of(tasks[i]["task_id"], truth[tasks[i]["task_id"]], w), tasks)
    status, report = api.get(f"/projects/{project_id}/report", requester)
    assert status == 200, report
    page = fetch(report)
    n = len(payloads)
    assert f"{n - len(gold)} results from {3 * n} answers by 3 workers" in page
    assert KIND_CHART[kind] in page and "Tasks most in doubt" in page


def test_the_lambda_package_carries_the_chart_library(tmp_path):
    """`make assets` copies the pinned ECharts next to the template; the zip must hold both."""
    from tools import package

    if shutil.which("npm") is None and not (package.ROOT / "chalicelib/templates/echarts.min.js").exists():
        pytest.skip("npm is not installed")
    package.package("dev", tmp_path, template_only=True)
    with zipfile.ZipFile(tmp_path / "build-template-only" / "chalice-out" / "deployment.zip") as archive:
        names = set(archive.namelist())
    assert {"chalicelib/templates/report.html", "chalicelib/templates/echarts.min.js"} <= names
