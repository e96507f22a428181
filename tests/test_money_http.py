"""Money over real HTTP (moto server + `chalice local`), with concurrent clients racing.

The invariants are checked afterwards from the store and the worker's ledger, not from what
the clients were told."""
import pytest

from tests.test_http_stack import api_url, call, race  # noqa: F401 - api_url is a fixture

pytestmark = pytest.mark.http


def test_workers_racing_against_a_budget_for_four_answers_get_four_leases(api_url, requester,  # noqa: F811
                                                                          make_project, add_tasks, new_key):
    project_id = make_project(overlap=4, reward_cents=10, budget_cents=40)
    add_tasks(project_id, [{"task_id": f"t{i}", "payload": {}} for i in range(3)])
    workers = [new_key("worker")[0] for _ in range(10)]

    def lease(i):
        for _ in range(4):  # a worker that lost a slot race asks again
            status, body = call("POST", f"{api_url}/work/next", workers[i], {"project_id": project_id})
            if status == 200:
                return body["lease_id"]
        return body["error"]["code"]

    outcomes = race(len(workers), lease)
    leases = [o for o in outcomes if o != "no_task_available"]
    assert len(set(leases)) == 4, outcomes
    status, progress = call("GET", f"{api_url}/projects/{project_id}/progress", requester)
    assert (progress["budget_reserved_cents"], progress["budget_remaining_cents"]) == (40, 0)


def test_approve_and_reject_racing_over_http_pay_exactly_the_winners(api_url, requester, make_project,  # noqa: F811
                                                                    add_tasks, new_key):
    project_id = make_project(overlap=1, reward_cents=6)
    add_tasks(project_id, [{"task_id": f"t{i}", "payload": {}} for i in range(4)])
    worker, _ = new_key("worker")
    ids = []
    for _ in range(4):
        status, lease = call("POST", f"{api_url}/work/next", worker, {"project_id": project_id})
        assert call("POST", f"{api_url}/leases/{lease['lease_id']}/answer", worker, {"answer": "cat"})[0] == 200
        ids.append(lease["lease_id"])

    def review(i):
        action, body = ("approve", {}) if i % 2 else ("reject", {"reason": "no"})
        status, data = call("POST", f"{api_url}/assignments/{action}", requester,
                            {"assignment_ids": [ids[i % 4]], **body})
        assert status == 200, data
        return action, data["items"][0]

    outcomes = race(16, review)
    status, page = call("GET", f"{api_url}/projects/{project_id}/assignments", requester)
    final = {a["assignment_id"]: a["state"] for a in page["items"]}
    for action, item in outcomes:
        assert item["ok"] == (final[item["assignment_id"]] == {"approve": "approved", "reject": "rejected"}[action])
    approved = sum(state == "approved" for state in final.values())
    status, ledger = call("GET", f"{api_url}/me/ledger", worker)
    assert len(ledger["items"]) == approved and sum(e["cents"] for e in ledger["items"]) == 6 * approved
    assert ledger["balance"] == {"pending_cents": 0, "earned_cents": 6 * approved}


def test_a_bonus_sent_eight_times_at_once_over_http_pays_once(api_url, requester, make_project,  # noqa: F811
                                                              add_tasks, new_key):
    project_id = make_project(overlap=1, reward_cents=1)
    add_tasks(project_id, [{"task_id": "t", "payload": {}}])
    worker, worker_id = new_key("worker")
    status, lease = call("POST", f"{api_url}/work/next", worker, {"project_id": project_id})
    assert call("POST", f"{api_url}/leases/{lease['lease_id']}/answer", worker, {"answer": "cat"})[0] == 200
    body = {"assignment_id": lease["lease_id"], "cents": 50, "reason": "fast and right", "client_token": "once"}
    answers = race(8, lambda i: call("POST", f"{api_url}/projects/{project_id}/bonuses", requester, body))
    assert {status for status, _ in answers} == {201}
    assert all(data == answers[0][1] for _, data in answers)
    status, ledger = call("GET", f"{api_url}/me/ledger", worker)
    assert [(e["kind"], e["cents"]) for e in ledger["items"]] == [("bonus", 50)]
    assert ledger["balance"]["earned_cents"] == 50
