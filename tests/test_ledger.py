"""Money: the budget bounds leases and bonuses, bonuses pay once per client token, and the
ledger adds up to what the workers were paid."""
import json

import pytest

from chalicelib.auth import Caller
from tests.test_http_stack import race
from tests.test_review import money, review


def caller(worker_id):
    return Caller("worker", worker_id, "key-test", ())


def lease_or_code(worker_id, project_id, attempts=5):
    """A lease id, or the error code of the last of a few attempts (workers racing for the
    same free slot may lose it and ask again)."""
    from chalicelib.errors import FouleError
    from chalicelib.services import work

    for _ in range(attempts):
        try:
            return work.next_lease(caller(worker_id), project_id).lease_id
        except FouleError as error:
            code = error.code
    return code


def test_a_budget_for_n_answers_grants_exactly_n_leases_to_racing_workers(api, requester, make_project,
                                                                          add_tasks, new_key):
    project_id = make_project(overlap=5, reward_cents=7, budget_cents=7 * 6 + 3)
    add_tasks(project_id, [{"task_id": f"t{i}", "payload": {}} for i in range(4)])  # 20 slots
    workers = [new_key("worker")[1] for _ in range(16)]  # enough to take 16 of the 20 slots
    outcomes = race(len(workers), lambda i: lease_or_code(workers[i], project_id))
    granted = [o for o in outcomes if o != "no_task_available"]
    assert len(granted) == 6 and len(set(granted)) == 6
    progress = api.get(f"/projects/{project_id}/progress", requester)[1]
    assert (progress["budget_reserved_cents"], progress["budget_remaining_cents"]) == (42, 3)
    # A specific lease says why, and a project's own budget never stops other projects' work.
    late = new_key("worker")[0]
    status, body = api.post(f"/projects/{project_id}/tasks/t0/lease", late)
    assert status == 409 and body["error"]["code"] == "budget_exhausted"


def test_returned_leases_and_rejections_give_the_budget_back(api, requester, make_project, add_tasks, new_key):
    project_id = make_project(overlap=2, reward_cents=5, budget_cents=10)
    add_tasks(project_id, [{"task_id": "a", "payload": {}}, {"task_id": "b", "payload": {}}])
    first, second, third = (new_key("worker")[0] for _ in range(3))
    lease1 = api.post("/work/next", first, {"project_id": project_id})[1]
    lease2 = api.post("/work/next", second, {"project_id": project_id})[1]
    assert api.post("/work/next", third, {"project_id": project_id})[0] == 404
    assert api.post(f"/leases/{lease1['lease_id']}/release", first)[0] == 200
    lease3 = api.post("/work/next", third, {"project_id": project_id})[1]
    assert "lease_id" in lease3, lease3
    assert api.post(f"/leases/{lease2['lease_id']}/answer", second, {"answer": "cat"})[0] == 200
    assert api.post("/work/next", first, {"project_id": project_id})[0] == 404
    review(api, requester, "reject", [lease2["lease_id"]], reason="no")
    status, lease4 = api.post("/work/next", first, {"project_id": project_id})
    assert status == 200, lease4
    # A reversal needs the budget again: none is left, so it is refused and pays nothing.
    [item] = review(api, requester, "approve", [lease2["lease_id"]], override_rejection=True)
    assert (item["ok"], item["error"]["code"]) == (False, "budget_exhausted")
    assert money(api, second) == (0, 0)


def test_the_requester_raises_the_budget_but_not_below_what_is_committed(api, requester, make_project,
                                                                        add_tasks, new_key):
    project_id = make_project(overlap=3, reward_cents=4, budget_cents=4)
    add_tasks(project_id, [{"task_id": "a", "payload": {}}])
    workers = [new_key("worker")[0] for _ in range(3)]
    assert api.post("/work/next", workers[0], {"project_id": project_id})[0] == 200
    assert api.post("/work/next", workers[1], {"project_id": project_id})[0] == 404
    status, body = api.patch(f"/projects/{project_id}", requester, {"budget_cents": 3})
    assert status == 409 and body["error"]["code"] == "budget_below_committed"
    assert body["error"]["details"]["committed_cents"] == 4
    status, project = api.patch(f"/projects/{project_id}", requester, {"budget_cents": 8})
    assert status == 200 and (project["budget_cents"], project["budget_remaining_cents"]) == (8, 4)
    assert api.post("/work/next", workers[1], {"project_id": project_id})[0] == 200
    assert api.post("/work/next", workers[2], {"project_id": project_id})[0] == 404
    unlimited = make_project()
    status, body = api.patch(f"/projects/{unlimited}", requester, {"budget_cents": 100})
    assert status == 409 and body["error"]["code"] == "budget_not_set"


@pytest.fixture
def worked(api, requester, make_project, add_tasks, new_key, alias):
    """A project (reward 5) where one worker answered one task: (project, key, the worker's
    pseudonym for the requester, assignment)."""

    def make(**fields):
        project_id = make_project(overlap=1, reward_cents=5, **fields)
        add_tasks(project_id, [{"task_id": "t", "payload": {}}])
        key, worker_id = new_key("worker")
        lease = api.post("/work/next", key, {"project_id": project_id})[1]
        assert api.post(f"/leases/{lease['lease_id']}/answer", key, {"answer": "cat"})[0] == 200
        return project_id, key, alias(requester, worker_id), lease["lease_id"]

    return make


def test_a_bonus_sent_twice_at_once_pays_once_with_the_same_answer(api, requester, worked):
    from chalicelib.auth import lookup
    from chalicelib.schemas.ledger import BonusIn
    from chalicelib.services import ledger, projects

    project_id, key, worker_id, _ = worked()
    owner = lookup(f"Bearer {requester}")
    body = BonusIn(worker_id=worker_id, cents=25, reason="Great work", client_token="tok-1")
    results = race(8, lambda i: ledger.send_bonus(projects.get_owned(owner, project_id), body, owner))
    assert len({r.model_dump_json() for r in results}) == 1
    assert money(api, key) == (5, 25)
    status, again = api.post(f"/projects/{project_id}/bonuses", requester, body.model_dump())
    assert status == 201 and again == results[0].model_dump()
    [entry] = api.get("/me/ledger", key)[1]["items"]
    assert (entry["kind"], entry["cents"], entry["reason"]) == ("bonus", 25, "Great work")
    status, body = api.post(f"/projects/{project_id}/bonuses", requester,
                            {**body.model_dump(), "cents": 30})
    assert status == 409 and body["error"]["code"] == "client_token_reused"
    progress = api.get(f"/projects/{project_id}/progress", requester)[1]
    assert (progress["paid_cents"], progress["bonus_cents"]) == (25, 25)


def test_bonuses_only_for_the_projects_workers_and_within_the_budget(api, requester, worked, new_key):
    project_id, key, worker_id, assignment_id = worked(budget_cents=20)
    stranger = new_key("worker")[1]  # a raw id, and a worker who never answered here
    send = lambda **b: api.post(f"/projects/{project_id}/bonuses", requester,  # noqa: E731
                                {"cents": 5, "reason": "thanks", **b})
    status, body = send(worker_id=stranger, client_token="s")
    assert status == 404 and body["error"]["code"] == "worker_not_found"
    status, body = send(assignment_id=assignment_id, client_token="a", cents=15)
    assert status == 201 and (body["worker_id"], body["assignment_id"]) == (worker_id, assignment_id)
    status, body = send(worker_id=worker_id, client_token="over", cents=1)  # 5 reserved + 15 paid
    assert status == 409 and body["error"]["code"] == "budget_exhausted"
    status, body = send(client_token="none")
    assert status == 400 and body["error"]["code"] == "validation_error"
    other = new_key("requester")[0]
    status, body = api.post(f"/projects/{project_id}/bonuses", other,
                            {"worker_id": worker_id, "cents": 1, "reason": "x", "client_token": "o"})
    assert status == 404 and body["error"]["code"] == "project_not_found"
    assert money(api, key) == (5, 15)


def test_the_ledger_adds_up_to_approved_rewards_and_bonuses(api, requester, make_project, add_tasks, new_key,
                                                           alias):
    project_id = make_project(overlap=2, reward_cents=3)
    add_tasks(project_id, [{"task_id": f"t{i}", "payload": {}} for i in range(4)])
    key, worker_id = new_key("worker")
    ids = []
    for _ in range(4):
        lease = api.post("/work/next", key, {"project_id": project_id})[1]
        assert api.post(f"/leases/{lease['lease_id']}/answer", key, {"answer": "dog"})[0] == 200
        ids.append(lease["lease_id"])
    raw_id, worker_id = worker_id, alias(requester, worker_id)
    review(api, requester, "approve", ids[:2])
    review(api, requester, "reject", ids[2:3], reason="no")
    for token, cents in (("x", 10), ("y", 4)):
        api.post(f"/projects/{project_id}/bonuses", requester,
                 {"worker_id": worker_id, "cents": cents, "reason": "bonus", "client_token": token})
    entries, cursor = [], None
    while True:
        status, page = api.get("/me/ledger?limit=2" + (f"&cursor={cursor}" if cursor else ""), key)
        assert status == 200, page
        entries += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(entries) == 4
    assert [e["created_at"] for e in entries] == sorted((e["created_at"] for e in entries), reverse=True)
    assert sum(e["cents"] for e in entries) == 2 * 3 + 10 + 4
    assert page["balance"] == {"pending_cents": 3, "earned_cents": 20}
    # The requester sees the same payments, and the progress the same total.
    payments, cursor = [], None
    while True:
        status, page = api.get(f"/projects/{project_id}/payments?limit=3" + (f"&cursor={cursor}" if cursor else ""),
                               requester)
        assert status == 200, page
        payments += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    # The worker's own entries name it by its id; the requester's, by its pseudonym only.
    assert sorted(p["entry_id"] for p in payments) == sorted(e["entry_id"].replace(raw_id, worker_id)
                                                             for e in entries)
    assert {p["worker_id"] for p in payments} == {worker_id} and raw_id not in json.dumps(payments)
    assert api.get(f"/projects/{project_id}/progress", requester)[1]["paid_cents"] == 20
    status, body = api.get("/me/ledger?cursor=abc", key)
    assert status == 400 and body["error"]["code"] == "invalid_cursor"


@pytest.fixture
def conflicts(monkeypatch):
    """conflicts() -> calls: from then on, every odd-numbered transaction is cancelled by DynamoDB
    for meeting another one on the same item (TransactionConflict), which moto never does."""
    from pynamodb.connection import Connection
    from pynamodb.exceptions import CancellationReason, TransactWriteError, VerboseClientError

    original, calls = Connection.transact_write_items, []
    cancelled = VerboseClientError({"Error": {"Code": "TransactionCanceledException", "Message": "conflict"}},
                                   "TransactWriteItems",
                                   cancellation_reasons=[None, CancellationReason(code="TransactionConflict")])

    def conflict_every_other(self, *args, **kwargs):
        calls.append(1)
        if len(calls) % 2:
            raise TransactWriteError("Failed to write transaction items", cancelled)
        return original(self, *args, **kwargs)

    def start():
        monkeypatch.setattr(Connection, "transact_write_items", conflict_every_other)
        return calls

    return start


def test_a_transaction_conflict_is_retried_not_a_server_error(api, requester, worked, conflicts):
    project_id, key, worker_id, assignment_id = worked()
    calls = conflicts()
    status, bonus = api.post(f"/projects/{project_id}/bonuses", requester,
                             {"worker_id": worker_id, "cents": 2, "reason": "r", "client_token": "c"})
    assert status == 201, bonus
    [item] = review(api, requester, "approve", [assignment_id])
    assert item["ok"] and len(calls) == 4  # each tried twice
    assert money(api, key) == (0, 7)


def test_a_lease_meeting_another_on_the_budget_is_retried(api, make_project, add_tasks, new_key, conflicts):
    project_id = make_project(overlap=1, reward_cents=5, budget_cents=5)
    add_tasks(project_id, [{"task_id": "t", "payload": {}}])
    worker = new_key("worker")[0]
    calls = conflicts()
    status, lease = api.post(f"/projects/{project_id}/tasks/t/lease", worker)
    assert status == 200 and len(calls) == 2, lease
