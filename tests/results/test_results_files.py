"""The files of a run: exact formats (golden files from a deterministic run), checksums,
pseudonymous workers, the manifest, older runs by id, and the ResultsPublished event."""
import csv
import gzip
import io
import json
import os
from pathlib import Path

import pytest

from conftest import ANSWERS, LABELS, TASKS, download  # noqa: F401  (tests/results/conftest.py)

GOLDEN = Path(__file__).parent / "golden"
RUN_ID, CREATED_AT = "20260101T000000Z-golden", 1767225600000  # 2026-01-01T00:00:00Z
FILES = ["results.jsonl", "results.csv", "workers.csv", "answers.jsonl.gz", "report.html"]


def run_fixed(project_id, run_id=RUN_ID, created_at=CREATED_AT):
    from chalicelib.models import Project
    from chalicelib.services import aggregator

    return aggregator.aggregate_project(Project.get(project_id, consistent_read=True), run_id=run_id,
                                        created_at=created_at)


def check_golden(name: str, body: bytes):
    path = GOLDEN / name
    if os.environ.get("FOULE_REGENERATE_GOLDEN"):
        path.write_bytes(body)
    assert body.decode() == path.read_text(), f"{name} differs from {path} (FOULE_REGENERATE_GOLDEN=1 rewrites it)"


def test_a_deterministic_run_writes_the_documented_files(api, requester, answered_project, alias):
    from chalicelib.models import Project

    project_id, workers = answered_project()
    # Majority vote: exact fractions, so the golden files do not move with a numerical change
    # of an iterative method.
    Project(project_id).update(actions=[Project.aggregation_method.set("mv")])
    summary = run_fixed(project_id)
    assert summary == {"project_id": project_id, "run_id": RUN_ID, "answers": 12, "tasks": 4}

    status, results = api.get(f"/projects/{project_id}/results", requester)
    assert status == 200, results
    assert results["run_id"] == RUN_ID and results["created_at"] == CREATED_AT and results["latest"]
    assert sorted(results["files"]) == sorted(FILES)
    manifest = results["manifest"]
    assert {k: manifest[k] for k in ("format_version", "project_id", "run_id", "created_at", "created_at_iso",
                                     "answers", "tasks", "workers")} == {
        "format_version": 1, "project_id": project_id, "run_id": RUN_ID, "created_at": CREATED_AT,
        "created_at_iso": "2026-01-01T00:00:00.000Z", "answers": 12, "tasks": 4, "workers": 3}
    assert manifest["parameters"]["labels"] == LABELS and manifest["parameters"]["gold_tasks"] == 1
    assert manifest["files"] == {name: {k: v for k, v in entry.items() if k != "url"}
                                 for name, entry in results["files"].items()}
    bodies = {name: download(entry) for name, entry in results["files"].items()}

    # results.jsonl and results.csv: byte for byte (task ids, payloads, labels and the run are fixed).
    check_golden("results.jsonl", bodies["results.jsonl"])
    check_golden("results.csv", bodies["results.csv"])
    rows = [json.loads(line) for line in bodies["results.jsonl"].decode().splitlines()]
    assert [r["task_id"] for r in rows] == ["t0", "t1", "t2", "t3"]
    assert rows[0]["gold"] is True and rows[0]["label"] == "cat"
    assert rows[2]["payload"] == TASKS[2]["payload"]
    assert all(set(r["posterior"]) == set(LABELS) and r["method"] == manifest["method"] for r in rows)

    # workers.csv and answers.jsonl.gz: workers only as the requester's pseudonyms.
    alias = {alias(requester, worker_id): name for name, (_, worker_id) in workers.items()}
    raw_ids = [worker_id for _, worker_id in workers.values()]
    for name in ("workers.csv", "answers.jsonl.gz"):
        text = (gzip.decompress(bodies[name]) if name.endswith(".gz") else bodies[name]).decode()
        assert not any(worker_id in text for worker_id in raw_ids), f"{name} leaks a worker id"
    table = list(csv.DictReader(io.StringIO(bodies["workers.csv"].decode())))
    assert list(table[0]) == ["worker", "answers", "gold_answers", "gold_correct", "gold_accuracy", "reliability"]
    by_name = {alias[r["worker"]]: r for r in table}
    assert {n: (r["answers"], r["gold_answers"], r["gold_correct"], r["gold_accuracy"]) for n, r in by_name.items()} \
        == {"w0": ("4", "1", "1", "1.0"), "w1": ("4", "1", "1", "1.0"), "w2": ("4", "1", "0", "0.0")}
    assert float(by_name["w0"]["reliability"]) > float(by_name["w2"]["reliability"])
    assert gzip.decompress(bodies["answers.jsonl.gz"])  # a real gzip stream
    answers = [json.loads(line) for line in gzip.decompress(bodies["answers.jsonl.gz"]).decode().splitlines()]
    assert len(answers) == 12 and list(answers[0]) == ["task_id", "worker", "answer", "submitted_at", "time_spent_ms"]
    assert sorted((alias[a["worker"]], a["task_id"], a["answer"]) for a in answers) == \
        sorted((w, t, label) for w, by_task in ANSWERS.items() for t, label in by_task.items())
    assert all(a["time_spent_ms"] == 1002 and a["submitted_at"] > 0 for a in answers)


def test_files_name_workers_as_the_requesters_api_does(api, requester, answered_project):
    project_id, _ = answered_project()
    run_fixed(project_id)
    files = api.get(f"/projects/{project_id}/results", requester)[1]["files"]
    in_file = {r["worker"] for r in csv.DictReader(io.StringIO(download(files["workers.csv"]).decode()))}
    listed = {w["worker_id"] for w in api.get(f"/projects/{project_id}/workers", requester)[1]["items"]}
    assert in_file == listed and len(listed) == 3  # a requester joins its files with its listings


def test_an_older_run_stays_readable_by_id(api, requester, answered_project):
    project_id, _ = answered_project()
    run_fixed(project_id, run_id="20260101T000000Z-first")
    run_fixed(project_id, run_id="20260102T000000Z-second", created_at=CREATED_AT + 86_400_000)
    status, latest = api.get(f"/projects/{project_id}/results", requester)
    assert status == 200 and latest["run_id"] == "20260102T000000Z-second"
    status, older = api.get(f"/projects/{project_id}/results/20260101T000000Z-first", requester)
    assert status == 200 and older["run_id"] == "20260101T000000Z-first" and older["latest"] is False
    for entry in older["files"].values():
        download(entry)  # still there, checksums intact (tagged superseded for the lifecycle rule)
    status, same = api.get(f"/projects/{project_id}/results/20260102T000000Z-second", requester)
    assert status == 200 and same["latest"] is True
    for missing in ("20990101T000000Z-nope", "..%2Flatest"):
        status, body = api.get(f"/projects/{project_id}/results/{missing}", requester)
        assert status == 404 and body["error"]["code"] == "run_not_found", body


def test_a_corrupted_download_is_caught_by_the_manifest_checksum(api, requester, answered_project):
    from chalicelib.services import publishing
    from chalicelib.settings import settings

    project_id, _ = answered_project()
    run_fixed(project_id)
    entry = api.get(f"/projects/{project_id}/results", requester)[1]["files"]["results.jsonl"]
    publishing.s3().put_object(Bucket=settings.results_bucket, Key=entry["key"], Body=b"tampered\n")
    with pytest.raises(AssertionError):
        download(entry)


def events_queue():
    """An SQS queue (in moto) that a rule on the default bus fills with foule's events; returns
    received(project_id) -> that project's events."""
    import boto3

    from chalicelib.settings import settings

    sqs = boto3.client("sqs", region_name=settings.region)
    events = boto3.client("events", region_name=settings.region)
    queue_url = sqs.create_queue(QueueName="foule-results-events-test")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="foule-results-test", EventPattern=json.dumps(
        {"source": ["foule"], "detail-type": ["ResultsPublished"]}))
    events.put_targets(Rule="foule-results-test", Targets=[{"Id": "queue", "Arn": queue_arn}])
    seen = []

    def received(project_id, polls=5):
        for _ in range(polls):
            for message in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10,
                                               WaitTimeSeconds=1).get("Messages", []):
                seen.append(json.loads(message["Body"]))
            if any(e["detail"]["project_id"] == project_id for e in seen):
                break
        return [e for e in seen if e["detail"]["project_id"] == project_id]

    return received


def test_each_publication_sends_a_results_published_event(api, requester, answered_project):
    from chalicelib.settings import settings

    received = events_queue()
    project_id, _ = answered_project()
    run_fixed(project_id)
    ours = received(project_id)
    assert len(ours) == 1, ours
    assert ours[0]["source"] == "foule" and ours[0]["detail-type"] == "ResultsPublished"
    assert ours[0]["detail"]["run_id"] == RUN_ID
    assert ours[0]["detail"]["manifest_key"].endswith(f"/{project_id}/runs/{RUN_ID}/manifest.json")
    assert ours[0]["detail"]["bucket"] == settings.results_bucket


class RefusingEvents:
    """The real EventBridge client, except that the first `refusals` PutEvents calls answer
    200 with the entry refused (FailedEntryCount 1), as EventBridge does under throttling."""

    def __init__(self, client, refusals):
        self.client, self.refusals, self.calls = client, refusals, 0

    def put_events(self, **kwargs):
        self.calls += 1
        if self.refusals:
            self.refusals -= 1
            return {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "InternalFailure", "ErrorMessage": "simulated"}]}
        return self.client.put_events(**kwargs)


def test_a_refused_event_entry_is_sent_again(answered_project, monkeypatch):
    from chalicelib.services import publishing

    received = events_queue()
    refusing = RefusingEvents(publishing.events(), refusals=2)
    monkeypatch.setattr(publishing, "events", lambda: refusing)
    monkeypatch.setattr(publishing, "ANNOUNCE_PAUSE_SECONDS", 0.01)
    project_id, _ = answered_project()
    run_fixed(project_id)
    assert refusing.calls == 3
    assert [e["detail"]["run_id"] for e in received(project_id)] == [RUN_ID]


def test_a_5xx_from_eventbridge_is_retried_by_botocore(answered_project):
    """The real client, its first HTTP answer replaced by a 500: botocore sends it again."""
    from botocore.awsrequest import AWSResponse

    from chalicelib.services import publishing

    received = events_queue()
    answered = []

    class Body:
        def stream(self, **kwargs):
            yield b'{"__type": "InternalException", "message": "simulated"}'

    def fail_first(request, **kwargs):
        answered.append(request.url)
        if len(answered) == 1:
            return AWSResponse(request.url, 500, {"Content-Type": "application/x-amz-json-1.1"}, Body())
        return None  # sent for real

    client = publishing.events()
    client.meta.events.register("before-send.events.PutEvents", fail_first)
    try:
        project_id, _ = answered_project()
        run_fixed(project_id)
    finally:
        client.meta.events.unregister("before-send.events.PutEvents", fail_first)
    assert len(answered) == 2
    assert [e["detail"]["run_id"] for e in received(project_id)] == [RUN_ID]


@pytest.mark.parametrize("failure", ["refused every time", "unreachable"])
def test_an_event_that_cannot_be_sent_never_fails_the_run(api, requester, answered_project, monkeypatch, failure):
    from botocore.exceptions import EndpointConnectionError

    from chalicelib.services import publishing

    class Broken:
        calls = 0

        def put_events(self, **kwargs):
            Broken.calls += 1
            if failure == "unreachable":
                raise EndpointConnectionError(endpoint_url="https://events.us-east-1.amazonaws.com")
            return {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "ThrottlingException"}]}

    monkeypatch.setattr(publishing, "events", lambda: Broken())
    monkeypatch.setattr(publishing, "ANNOUNCE_PAUSE_SECONDS", 0.01)
    project_id, _ = answered_project()
    summary = run_fixed(project_id)
    assert summary["run_id"] == RUN_ID
    assert Broken.calls == (publishing.ANNOUNCE_ATTEMPTS if failure == "refused every time" else 1)
    status, results = api.get(f"/projects/{project_id}/results", requester)
    assert status == 200 and results["run_id"] == RUN_ID and results["latest"]
    from chalicelib.models import Project

    assert Project.get(project_id, consistent_read=True).last_run_id == RUN_ID  # the run is committed
