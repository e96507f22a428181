"""The published snapshot is always complete, whatever fails while the aggregator publishes.

tests/results/test_results_safety.py covers an exception raised at each S3 write, two
aggregators at once and an expired claim. Here:
- S3 answering 500 (at botocore's send): a brief failure is retried and the run publishes;
  a lasting one fails the run, the previous run stays latest and complete, and the next pass
  publishes a complete run;
- the aggregator killed at each step (reading, writing results and reliabilities to DynamoDB,
  publishing, tagging the previous run, marking the project): a killed function runs no
  `finally`, so its claim stays until it expires; at every moment a reader finds the previous
  run or the new one, complete, and the pass after the claim expired publishes every answer.
"""
import gzip
import hashlib

import pytest
import requests


@pytest.fixture
def answered(api, requester, make_project, add_tasks, new_key):
    """A project of 2 tasks answered by 2 workers: (project id, answers count)."""
    project_id = make_project(overlap=2)
    add_tasks(project_id, [{"task_id": f"t{i}", "payload": {"i": i}} for i in range(2)])
    for w in range(2):
        worker, _ = new_key("worker")
        for i in range(2):
            status, lease = api.post(f"/projects/{project_id}/tasks/t{i}/lease", worker)
            assert status == 200
            assert api.post(f"/leases/{lease['lease_id']}/answer", worker, {"answer": "cat"})[0] == 200
    return project_id, 4


def aggregate(project_id):
    from chalicelib.models import Project
    from chalicelib.services import aggregator

    return aggregator.aggregate_project(Project.get(project_id, consistent_read=True))


def latest_complete(api, requester, project_id) -> dict:
    """The latest run as a reader gets it: every file present, of the manifest's size and
    sha256, and the raw answers file holding as many answers as the manifest says."""
    status, results = api.get(f"/projects/{project_id}/results", requester)
    assert status == 200, results
    assert set(results["files"]) == {"results.jsonl", "results.csv", "workers.csv", "answers.jsonl.gz", "report.html"}
    for name, entry in results["files"].items():
        body = requests.get(entry["url"], timeout=10).content
        assert (len(body), hashlib.sha256(body).hexdigest()) == (entry["bytes"], entry["sha256"]), name
        if name == "answers.jsonl.gz":
            assert len(gzip.decompress(body).splitlines()) == results["manifest"]["answers"]
    return results


@pytest.mark.parametrize("name", ["results.jsonl", "latest.json"])
def test_s3_errors_while_publishing_are_retried(api, requester, answered, inject_s3, name):
    project_id, answers = answered
    fault = inject_s3("PUT", name, times=2)
    summary = aggregate(project_id)
    assert fault.seen == 2 and summary["answers"] == answers
    assert latest_complete(api, requester, project_id)["run_id"] == summary["run_id"]


def test_s3_failing_for_good_keeps_the_previous_run_and_the_next_pass_publishes(api, requester, answered,
                                                                                  inject_s3):
    project_id, answers = answered
    first = aggregate(project_id)["run_id"]
    # The pointer, the last write: every file of the new run is in, yet it must stay unseen.
    fault = inject_s3("PUT", "latest.json", times=10**6)
    with pytest.raises(Exception):
        aggregate(project_id)
    assert fault.seen >= 2
    assert latest_complete(api, requester, project_id)["run_id"] == first
    fault.times = 0  # S3 recovers
    again = aggregate(project_id)
    assert again["run_id"] != first and again["answers"] == answers
    assert latest_complete(api, requester, project_id)["run_id"] == again["run_id"]


class Killed(BaseException):
    """The function stops here: not an Exception, so no handler of Foule's catches it."""


STEPS = [("aggregator", "load_answers"), ("aggregator", "store_results"), ("quality", "after_run"),
         ("publishing", "put_json"), ("publishing", "mark_superseded"), ("aggregator", "mark_run")]


@pytest.mark.parametrize("module,step", STEPS)
def test_an_aggregator_killed_at_any_step_leaves_a_complete_snapshot(api, requester, answered, monkeypatch,
                                                                     module, step):
    from chalicelib.models.aggregation_lock import ProjectAggregation
    from chalicelib.models.base import now_ms
    from chalicelib.services import aggregator, publishing, quality

    project_id, answers = answered
    first = aggregate(project_id)["run_id"]
    target = {"aggregator": aggregator, "publishing": publishing, "quality": quality}[module]
    real = getattr(target, step)
    released = aggregator.release

    def killed(*args, **kwargs):
        raise Killed(step)

    monkeypatch.setattr(target, step, killed)
    monkeypatch.setattr(aggregator, "release", lambda *a, **k: None)  # a dead function releases nothing
    with pytest.raises(Killed):
        aggregate(project_id)
    monkeypatch.setattr(target, step, real)
    monkeypatch.setattr(aggregator, "release", released)
    # Whatever the step, a reader finds a complete run: the first, or the new one if the
    # pointer had already moved.
    seen = latest_complete(api, requester, project_id)
    assert seen["run_id"] == first or seen["manifest"]["answers"] == answers
    # The claim of the dead run holds the project until it expires; then the next pass publishes.
    assert aggregate(project_id) is None
    ProjectAggregation(project_id).update(actions=[ProjectAggregation.aggregation_lock_until.set(now_ms() - 1)])
    summary = aggregate(project_id)
    assert summary is not None and summary["answers"] == answers
    assert latest_complete(api, requester, project_id)["run_id"] == summary["run_id"]
