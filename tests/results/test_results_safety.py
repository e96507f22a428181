"""Safe to crash, safe to run twice at once, nothing to do for an unchanged project."""
import threading

import pytest

from conftest import download

# A data file (the others are written by the same loop), the last data file, the manifest, the pointer.
FILES = ("results.csv", "report.html", "manifest.json", "latest.json")


class FlakyS3:
    """The real S3 client, except that the first put of an object whose key ends with `name` fails."""

    def __init__(self, client, name):
        self.client, self.name, self.failed = client, name, False

    def put_object(self, **kwargs):
        if not self.failed and kwargs["Key"].endswith("/" + self.name):
            self.failed = True
            raise ConnectionError(f"simulated crash writing {self.name}")
        return self.client.put_object(**kwargs)

    def __getattr__(self, name):
        return getattr(self.client, name)


def run(project_id):
    from chalicelib.models import Project
    from chalicelib.services import aggregator

    return aggregator.aggregate_project(Project.get(project_id, consistent_read=True))


def complete(api, requester, project_id, run_id=None):
    """The run (latest if None) as the API gives it, every file downloaded and checked."""
    path = f"/projects/{project_id}/results" + (f"/{run_id}" if run_id else "")
    status, results = api.get(path, requester)
    assert status == 200, results
    assert set(results["files"]) == {"results.jsonl", "results.csv", "workers.csv", "answers.jsonl.gz",
                                     "report.html"}
    for entry in results["files"].values():
        download(entry)
    return results


@pytest.mark.parametrize("crash_at", FILES)
def test_a_crash_at_any_write_leaves_a_complete_run_and_a_rerun_publishes(api, requester, answered_project,
                                                                          monkeypatch, crash_at):
    from chalicelib.services import publishing

    project_id, _ = answered_project()
    first_run = run(project_id)["run_id"]

    flaky = FlakyS3(publishing.s3(), crash_at)
    monkeypatch.setattr(publishing, "s3", lambda: flaky)
    with pytest.raises(ConnectionError):
        run(project_id)
    assert flaky.failed
    # Meanwhile the pointer still names the first run, complete.
    assert complete(api, requester, project_id)["run_id"] == first_run

    rerun = run(project_id)["run_id"]  # the claim was released: the rerun goes at once
    latest = complete(api, requester, project_id)
    assert latest["run_id"] == rerun != first_run and latest["manifest"]["answers"] == 12
    assert complete(api, requester, project_id, first_run)["latest"] is False


def test_a_run_without_its_manifest_is_invisible(api, requester, answered_project, monkeypatch):
    from chalicelib.models import Project
    from chalicelib.services import aggregator, publishing

    project_id, _ = answered_project()
    flaky = FlakyS3(publishing.s3(), "manifest.json")
    monkeypatch.setattr(publishing, "s3", lambda: flaky)
    with pytest.raises(ConnectionError):
        aggregator.aggregate_project(Project.get(project_id), run_id="20260101T000000Z-orphan")
    status, body = api.get(f"/projects/{project_id}/results/20260101T000000Z-orphan", requester)
    assert status == 404 and body["error"]["code"] == "run_not_found"
    status, body = api.get(f"/projects/{project_id}/results", requester)
    assert status == 404 and body["error"]["code"] == "no_results_yet"


def test_a_run_in_progress_holds_the_project_and_a_second_run_skips_it(api, requester, answered_project,
                                                                       monkeypatch):
    from chalicelib.models import Project
    from chalicelib.services import aggregator, publishing

    project_id, _ = answered_project()
    inside, go_on = threading.Event(), threading.Event()
    publish = publishing.publish_run

    def slow_publish(*args, **kwargs):
        inside.set()
        assert go_on.wait(30)
        return publish(*args, **kwargs)

    monkeypatch.setattr(publishing, "publish_run", slow_publish)
    project = Project.get(project_id, consistent_read=True)
    stale = Project.get(project_id, consistent_read=True)  # read before any run (the run updates `project`)
    outcome = {}
    first = threading.Thread(target=lambda: outcome.update(first=aggregator.aggregate_project(project)))
    first.start()
    assert inside.wait(30)
    # Same project read, while the first run holds the claim: skipped, nothing published.
    assert aggregator.aggregate_project(Project.get(project_id, consistent_read=True)) is None
    go_on.set()
    first.join(30)
    assert outcome["first"]["project_id"] == project_id
    # The first run has published: a run that read the project before that does not publish again.
    assert aggregator.aggregate_project(stale) is None
    assert complete(api, requester, project_id)["run_id"] == outcome["first"]["run_id"]


def test_aggregators_racing_on_one_project_publish_exactly_once(api, requester, answered_project):
    from chalicelib.models import Project
    from chalicelib.services import aggregator

    project_id, _ = answered_project()
    barrier = threading.Barrier(4)
    outcomes, errors = [], []

    def run():
        project = Project.get(project_id, consistent_read=True)
        barrier.wait(30)
        try:
            outcomes.append(aggregator.aggregate_project(project))
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    published = [o for o in outcomes if o is not None]
    assert len(outcomes) == 4 and len(published) == 1, outcomes
    assert complete(api, requester, project_id)["run_id"] == published[0]["run_id"]


def test_an_expired_claim_is_taken_over(answered_project):
    from chalicelib.models import Project
    from chalicelib.models.aggregation_lock import ProjectAggregation
    from chalicelib.models.base import now_ms
    from chalicelib.services import aggregator

    project_id, _ = answered_project()
    ProjectAggregation(project_id).update(actions=[
        ProjectAggregation.aggregation_lock_until.set(now_ms() + 60_000),
        ProjectAggregation.aggregation_lock_owner.set("crashed-run")])
    assert aggregator.aggregate_project(Project.get(project_id)) is None  # held
    ProjectAggregation(project_id).update(actions=[ProjectAggregation.aggregation_lock_until.set(now_ms() - 1)])
    summary = aggregator.aggregate_project(Project.get(project_id))  # expired: taken over
    assert summary["answers"] == 12
    lock = ProjectAggregation.get(project_id, consistent_read=True)
    assert lock.aggregation_lock_until is None and lock.aggregation_lock_owner is None


def test_a_project_with_no_change_is_left_alone(api, requester, answered_project, monkeypatch):
    from chalicelib.services import aggregator

    project_id, _ = answered_project()
    assert project_id in {s["project_id"] for s in aggregator.run_due_projects()}
    latest = complete(api, requester, project_id)["run_id"]
    calls = []
    monkeypatch.setattr(aggregator, "aggregate_project", lambda project, **kw: calls.append(project.project_id))
    aggregator.run_due_projects()
    assert project_id not in calls
    assert complete(api, requester, project_id)["run_id"] == latest


def test_a_failing_project_does_not_stop_the_pass_and_the_pass_reports_it(answered_project, monkeypatch):
    from chalicelib.services import aggregator

    broken, _ = answered_project(answers={"w0": {"t1": "dog"}})
    fine, _ = answered_project(answers={"w0": {"t1": "dog"}})
    aggregate = aggregator.aggregate_project
    published = []

    def flaky(project, **kwargs):
        if project.project_id == broken:
            raise ConnectionError("simulated")
        summary = aggregate(project, **kwargs)
        published.append(summary["project_id"])
        return summary

    monkeypatch.setattr(aggregator, "aggregate_project", flaky)
    with pytest.raises(aggregator.AggregationFailed, match=broken):
        aggregator.run_due_projects()
    assert fine in published
