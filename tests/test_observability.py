"""What an operator reads in CloudWatch: one JSON log line per request with its id, route,
caller role and error code, and embedded-metric-format documents CloudWatch turns into the
business metrics (answers accepted, leases granted, errors by code, aggregation time and
publication lag). Locally the same lines as readable text."""
import json

import pytest

from chalicelib import observability
from tests.scheduled import run_aggregator
from tests.test_quality import answer


@pytest.fixture
def lines(capsys, monkeypatch):
    """lines() -> the JSON objects written to stdout since the last call."""
    monkeypatch.setenv("FOULE_LOG_FORMAT", "json")
    capsys.readouterr()

    def read() -> list[dict]:
        out = capsys.readouterr().out
        return [json.loads(line) for line in out.splitlines() if line.startswith("{")]

    return read


def request_line(written: list[dict], route: str) -> dict:
    found = [line for line in written if line.get("message") == "request" and line.get("route") == route]
    assert len(found) == 1, written
    return found[0]


def emf(written: list[dict], metric: str) -> list[dict]:
    """The EMF documents declaring `metric`, checked against the format's rules."""
    found = []
    for doc in written:
        if "_aws" not in doc:
            continue
        (directive,) = doc["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "Foule" and isinstance(doc["_aws"]["Timestamp"], int)
        for names in directive["Dimensions"]:
            assert all(isinstance(doc[name], str) for name in names), doc  # each dimension has a value
        if any(m["Name"] == metric for m in directive["Metrics"]):
            found.append(doc)
    return found


def test_a_request_writes_one_line_with_its_id_route_and_role(api, requester, lines):
    status, project = api.post("/projects", requester, {
        "title": "Cat or dog?", "answer_type": {"kind": "single_choice", "labels": ["cat", "dog"]}})
    assert status == 201, project
    written = lines()
    line = request_line(written, "/projects")
    assert line["method"] == "POST" and line["role"] == "requester" and line["status"] == 201
    assert line["error_code"] is None and line["level"] == "INFO" and line["duration_ms"] >= 0
    assert line["request_id"] and line["key_id"]
    assert requester not in json.dumps(written)  # the API key's secret is never logged
    (duration,) = [d for d in emf(written, "RequestDuration") if d["request_id"] == line["request_id"]]
    assert duration["service"] == "api" and duration["RequestDuration"] == line["duration_ms"]
    assert duration["_aws"]["CloudWatchMetrics"][0]["Metrics"] == [{"Name": "RequestDuration",
                                                                     "Unit": "Milliseconds"}]


def test_an_error_is_logged_and_counted_by_its_code(api, requester, lines):
    status, error = api.get("/projects/p-nobody", requester)
    assert status == 404 and error["error"]["code"] == "project_not_found"
    written = lines()
    line = request_line(written, "/projects/{project_id}")
    assert line["status"] == 404 and line["error_code"] == "project_not_found" and line["role"] == "requester"
    (count,) = emf(written, "Errors")
    assert count["Errors"] == 1 and count["code"] == "project_not_found"
    assert count["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["service", "code"]]
    assert count["request_id"] == line["request_id"]


def test_an_error_chalice_answers_itself_is_logged_with_our_code(api, requester, lines):
    status, error = api.request("POST", "/projects", requester, body=b"x", headers={"Content-Type": "text/plain"})
    assert status == 415 and error["error"]["code"] == "unsupported_media_type"
    written = lines()
    line = request_line(written, "/projects")
    assert line["status"] == 415 and line["error_code"] == "unsupported_media_type"
    assert [d["code"] for d in emf(written, "Errors")] == ["unsupported_media_type"]


def test_leases_and_answers_are_counted_once_each(api, make_project, add_tasks, new_key, lines):
    project_id = make_project(overlap=1)
    add_tasks(project_id, [{"task_id": "t0", "payload": {}}])
    worker, _ = new_key("worker")
    lines()
    answer(api, worker, project_id, "t0", "cat")
    status, _ = api.post(f"/projects/{project_id}/tasks/t0/lease", worker)  # answered: no second lease
    written = lines()
    assert status == 409
    assert [d["route"] for d in emf(written, "LeasesGranted")] == ["/projects/{project_id}/tasks/{task_id}/lease"]
    assert [d["route"] for d in emf(written, "AnswersAccepted")] == ["/leases/{lease_id}/answer"]
    assert [line["role"] for line in written if line.get("message") == "request"] == ["worker"] * 3


def test_a_publication_logs_its_run_time_and_lag(api, requester, make_project, add_tasks, new_key, lines):
    project_id = make_project(overlap=1)
    add_tasks(project_id, [{"task_id": "t0", "payload": {}}])
    worker, _ = new_key("worker")
    answer(api, worker, project_id, "t0", "dog")
    api.post(f"/projects/{project_id}/aggregate", requester)
    lines()
    run_id = run_aggregator(project_id)[project_id]["run_id"]
    written = lines()
    (published,) = [line for line in written if line.get("message") == "published"
                    and line.get("project_id") == project_id]
    assert published["run_id"] == run_id and published["answers"] == 1
    assert 0 <= published["publication_lag_ms"] < 600_000 and published["duration_ms"] > 0
    (lag,) = [d for d in emf(written, "PublicationLag") if d["PublicationLag"] == published["publication_lag_ms"]]
    assert lag["service"] == "scheduler"
    assert lag["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"] == "Milliseconds"


@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
def test_locally_the_same_lines_are_readable(capsys, monkeypatch, level):
    monkeypatch.setenv("FOULE_LOG_FORMAT", "text")
    monkeypatch.setenv("FOULE_LOG_LEVEL", level)
    observability.configure_logging()
    capsys.readouterr()
    try:
        with observability.scope("api", request_id="r-1", route="/projects", role="requester"):
            observability.metric(observability.ERRORS, 1, code="project_not_found")
            observability.log_event("request", status=404, error_code="project_not_found")
    finally:
        monkeypatch.setenv("FOULE_LOG_LEVEL", "INFO")
        observability.configure_logging()
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith("INFO    request request_id=r-1 route=/projects role=requester status=404 "
                           "error_code=project_not_found"), out
    # Metrics, as text, only at DEBUG: the request line already says what they count.
    metric_lines = [line for line in out if "METRIC" in line]
    assert len(metric_lines) == (level == "DEBUG"), out
    assert all(line.endswith("METRIC  Errors=1  service=api code=project_not_found request_id=r-1 "
                             "route=/projects role=requester") for line in metric_lines), out


def test_values_recorded_twice_go_in_one_document():
    docs = observability.emf_documents([("AnswersAccepted", 1, "Count", {}), ("AnswersAccepted", 1, "Count", {}),
                                        ("Errors", 1, "Count", {"code": "a"})], {"service": "api"})
    assert [d.get("AnswersAccepted") for d in docs] == [[1, 1], None]
    assert docs[1]["code"] == "a" and docs[1]["Errors"] == 1
