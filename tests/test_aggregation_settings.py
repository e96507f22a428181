"""A project's aggregation settings (issue 15, items 2 and 3): its method at creation and by
PATCH, validated against its kind's methods and recorded in each run's manifest; rejected
answers left out of the aggregation unless the project keeps them."""
import pytest

from chalicelib.kinds import AGGREGATION_METHODS
from tests.scheduled import run_aggregator
from tests.test_quality import answer, published_labels


def manifest(api, requester, project_id) -> dict:
    status, results = api.get(f"/projects/{project_id}/results", requester)
    assert status == 200, results
    return results["manifest"]


def lease_and_answer(api, worker, project_id, task_id, label) -> str:
    """The assignment id (the lease id) of the worker's answer."""
    status, lease = api.post(f"/projects/{project_id}/tasks/{task_id}/lease", worker)
    assert status == 200, lease
    assert api.post(f"/leases/{lease['lease_id']}/answer", worker, {"answer": label})[0] == 200
    return lease["lease_id"]


def test_the_api_lists_the_methods_the_aggregation_has():
    """The API validates with a numpy-free copy of the method names: it must not drift."""
    from chalicelib.aggregation import by_kind

    assert {kind: list(names) for kind, names in AGGREGATION_METHODS.items()} == \
        {kind: by_kind.methods(kind) for kind in by_kind.KINDS}


def test_a_rejected_spammer_no_longer_decides_a_result(api, requester, make_project, add_tasks, new_key):
    project_id = make_project(overlap=3)
    add_tasks(project_id, [{"task_id": "t1", "payload": {}}])
    honest, spam1, spam2 = (new_key("worker")[0] for _ in range(3))
    answer(api, honest, project_id, "t1", "cat")
    rejected = [lease_and_answer(api, spam, project_id, "t1", "dog") for spam in (spam1, spam2)]
    status, out = api.post("/assignments/reject", requester, {"assignment_ids": rejected, "reason": "spam"})
    assert status == 200 and all(item["ok"] for item in out["items"]), out

    summary = run_aggregator(project_id)[project_id]
    assert summary["answers"] == 1
    assert published_labels(api, requester, project_id) == {"t1": "cat"}
    parameters = manifest(api, requester, project_id)["parameters"]
    assert parameters["aggregation"] == {"method": None, "include_rejected": False}
    assert parameters["rejected_answers_left_out"] == 2
    # The rejected answers were read: the project is not due again for them.
    assert project_id not in run_aggregator(project_id)

    # A requester who wants them back keeps them.
    status, project = api.request("PATCH", f"/projects/{project_id}", requester,
                                  {"aggregation": {"include_rejected": True}})
    assert status == 200 and project["aggregation"] == {"method": None, "include_rejected": True}
    assert api.post(f"/projects/{project_id}/aggregate", requester)[0] == 202
    assert run_aggregator(project_id)[project_id]["answers"] == 3
    assert published_labels(api, requester, project_id) == {"t1": "dog"}
    parameters = manifest(api, requester, project_id)["parameters"]
    assert parameters["aggregation"]["include_rejected"] is True and parameters["rejected_answers_left_out"] == 0


def test_a_project_publishes_with_its_method_and_patch_changes_it(api, requester, make_project, add_tasks,
                                                                   new_key):
    project_id = make_project(overlap=1, aggregation={"method": "mv"})
    status, project = api.get(f"/projects/{project_id}", requester)
    assert status == 200 and project["aggregation"] == {"method": "mv", "include_rejected": False}
    add_tasks(project_id, [{"task_id": "t", "payload": {}}])
    answer(api, new_key("worker")[0], project_id, "t", "cat")
    run_aggregator(project_id)
    first = manifest(api, requester, project_id)
    assert first["method"] == "mv" and first["parameters"]["aggregation"]["method"] == "mv"

    status, project = api.request("PATCH", f"/projects/{project_id}", requester, {"aggregation": {"method": "wawa"}})
    assert status == 200 and project["aggregation"] == {"method": "wawa", "include_rejected": False}
    api.post(f"/projects/{project_id}/aggregate", requester)
    run_aggregator(project_id)
    assert manifest(api, requester, project_id)["method"] == "wawa"

    # null: back to the kind's default.
    status, project = api.request("PATCH", f"/projects/{project_id}", requester, {"aggregation": {"method": None}})
    assert status == 200 and project["aggregation"]["method"] is None
    api.post(f"/projects/{project_id}/aggregate", requester)
    run_aggregator(project_id)
    assert manifest(api, requester, project_id)["method"] == "ds"


@pytest.mark.parametrize("answer_type, method", [
    ({"kind": "single_choice", "labels": ["cat", "dog"]}, "median"),
    ({"kind": "number", "min": 0, "max": 10}, "ds"),
])
def test_an_unknown_method_is_a_clear_400(api, requester, make_project, answer_type, method):
    body = {"title": "t", "answer_type": answer_type, "aggregation": {"method": method}}
    status, error = api.post("/projects", requester, body)
    assert status == 400 and error["error"]["code"] == "unknown_method", error
    assert error["error"]["details"]["methods"] == list(AGGREGATION_METHODS[answer_type["kind"]])
    assert all(name in error["error"]["message"] for name in AGGREGATION_METHODS[answer_type["kind"]])

    project_id = make_project(answer_type=answer_type)
    status, error = api.request("PATCH", f"/projects/{project_id}", requester, {"aggregation": {"method": method}})
    assert status == 400 and error["error"]["code"] == "unknown_method", error
    assert api.get(f"/projects/{project_id}", requester)[1]["aggregation"]["method"] is None


def test_the_settings_are_in_the_openapi_description(api):
    status, spec = api.get("/openapi.json", None)
    assert status == 200
    settings = spec["components"]["schemas"]["AggregationSettings"]["properties"]
    assert set(settings) == {"method", "include_rejected"}
    assert all(name in settings["method"]["description"] for names in AGGREGATION_METHODS.values()
               for name in names)


def test_rejected_answers_leave_the_aggregation_of_other_kinds_too(api, requester, make_project, add_tasks,
                                                                   new_key):
    project_id = make_project(overlap=2, answer_type={"kind": "number", "min": 0, "max": 100})
    add_tasks(project_id, [{"task_id": "t1", "payload": {}}])
    lease_and_answer(api, new_key("worker")[0], project_id, "t1", 10)
    rejected = lease_and_answer(api, new_key("worker")[0], project_id, "t1", 90)
    assert api.post("/assignments/reject", requester, {"assignment_ids": [rejected], "reason": "no"})[0] == 200
    assert run_aggregator(project_id)[project_id]["answers"] == 1
    published = manifest(api, requester, project_id)
    assert published["answers"] == 1 and published["parameters"]["rejected_answers_left_out"] == 1


def test_an_excluded_workers_answers_do_not_make_the_project_due_again(api, requester, make_project, add_tasks,
                                                                       new_key, alias, monkeypatch):
    import dataclasses

    from chalicelib.services import aggregator

    # No minimum interval between runs: only the answers decide whether the project is due.
    monkeypatch.setattr(aggregator, "settings",
                        dataclasses.replace(aggregator.settings, aggregation_min_interval_seconds=0))
    project_id = make_project(overlap=3)
    add_tasks(project_id, [{"task_id": "t1", "payload": {}}])
    (honest, _), (other, _), (spammer, spammer_id) = (new_key("worker") for _ in range(3))
    for key, label in ((honest, "cat"), (other, "cat"), (spammer, "dog")):
        answer(api, key, project_id, "t1", label)
    status, _ = api.request("PUT", f"/projects/{project_id}/workers/{alias(requester, spammer_id)}/exclude", requester)
    assert status == 200
    assert run_aggregator(project_id)[project_id]["answers"] == 2
    # The excluded worker's answer was read: it does not make the project due on every pass.
    assert project_id not in run_aggregator(project_id)
