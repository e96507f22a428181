"""/work/next without a project: fair between live projects and between tenants, at a bounded
cost per request however many projects are live.

Each test gets a live index of its own (services.live's PREFIX, set before its projects are
created): the store holds every other test's live projects too, and the figures asserted here
are about the projects a test made.
"""
import collections
import random
import uuid

import pytest

from chalicelib.services import live, open_tasks, work
from chalicelib.settings import settings

# auth 1 + live window (2 queries, live_shards + 1 when walking empty shards) + gates 1 +
# per project tried (3): gold look-up (none here) + open-task sample (open_shards + 1 at most)
# + LEASES_PER_PROJECT transactions.
MAX_CALLS = 1 + (settings.live_shards + 1) + 1 + \
    work.PROJECTS_PER_REQUEST * ((settings.open_task_shards + 1) + work.LEASES_PER_PROJECT)


@pytest.fixture
def own_live_index(monkeypatch):
    monkeypatch.setattr(live, "PREFIX", f"live-{uuid.uuid4().hex[:8]}")
    monkeypatch.setattr(work, "rng", random.Random(12))


@pytest.fixture
def calls(monkeypatch):
    """DynamoDB requests sent through botocore, counted as bench/work_path_calls.py does."""
    import botocore.client

    counted = collections.Counter()
    original = botocore.client.BaseClient._make_api_call

    def counting(self, operation, params):
        counted[operation] += 1
        return original(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", counting)
    return counted


def live_projects(make_project, add_tasks, owner_key, count, priority=0, tasks=1):
    ids = []
    for _ in range(count):
        project_id = make_project(key=owner_key, overlap=1, priority=priority)
        add_tasks(project_id, [{"task_id": f"t{i}", "payload": {}} for i in range(tasks)], key=owner_key)
        ids.append(project_id)
    return ids


def served_projects(api, worker, requests, calls=None):
    """The project of each lease /work/next gives (asked again, a project gives the worker its
    live lease back: it stays eligible everywhere), and the most store calls one request made."""
    served, most = [], 0
    for _ in range(requests):
        if calls is not None:
            calls.clear()
        status, lease = api.post("/work/next", worker, {})
        if calls is not None:
            most = max(most, sum(calls.values()))
        assert status == 200, lease
        served.append(lease["project_id"])
    return served, most


def test_weights_share_a_window_equally_between_tenants_and_by_priority_within_one():
    class P:
        def __init__(self, project_id, owner_id, priority):
            self.project_id, self.owner_id, self.priority = project_id, owner_id, priority

    window = [P(f"a{i}", "A", 1000) for i in range(50)] + [P("b", "B", -1000), P("c-hi", "C", 5), P("c-lo", "C", 1)]
    weight = live.weights(window)
    assert weight["b"] == pytest.approx(1.0)  # alone in its tenant: the tenant's whole share
    assert sum(weight[f"a{i}"] for i in range(50)) == pytest.approx(1.0)  # 50 projects share one
    assert weight["c-hi"] == pytest.approx(live.MAX_BOOST * weight["c-lo"])  # priority: within C
    order = [live.weighted_order(window, random.Random(seed))[0].owner_id for seed in range(600)]
    shares = {owner: order.count(owner) / len(order) for owner in "ABC"}
    assert all(0.25 < share < 0.42 for share in shares.values()), shares


def test_a_project_is_served_among_many_live_ones_at_a_bounded_cost(api, make_project, add_tasks, new_key,
                                                                     own_live_index, calls):
    requesters = [new_key("requester")[0] for _ in range(4)]
    for i in range(24):
        live_projects(make_project, add_tasks, requesters[i % 4], 1, priority=1000)
    last = live_projects(make_project, add_tasks, new_key("requester")[0], 1, priority=-1000)[0]
    worker, _ = new_key("worker")
    served, most = served_projects(api, worker, 60, calls)
    # Before: the first 20 live projects by priority, 10 of them tried: `last` never served.
    assert last in served
    assert len(set(served)) > 15  # most of the 25, not a fixed few
    assert most <= MAX_CALLS, most


def test_fifty_high_priority_projects_of_one_tenant_cannot_starve_another_tenants_one(
        api, make_project, add_tasks, new_key, own_live_index, monkeypatch):
    monkeypatch.setattr(live, "WINDOW", 64)  # every project of the test in the window
    greedy, modest = new_key("requester")[0], new_key("requester")[0]
    live_projects(make_project, add_tasks, greedy, 50, priority=1000)
    theirs = live_projects(make_project, add_tasks, modest, 1, priority=-1000)[0]
    worker, _ = new_key("worker")
    served, _ = served_projects(api, worker, 40)
    # Each tenant weighs the same: about half the requests go to the one project.
    assert served.count(theirs) >= 10, collections.Counter(served)


def test_priority_orders_one_requesters_own_projects(api, make_project, add_tasks, new_key, requester,
                                                     own_live_index):
    low = live_projects(make_project, add_tasks, requester, 1, priority=-5)[0]
    high = live_projects(make_project, add_tasks, requester, 1, priority=7)[0]
    worker, _ = new_key("worker")
    served, _ = served_projects(api, worker, 40)
    assert served.count(high) > 2 * served.count(low) and low in served  # 8:1 expected, never 40:0


def test_every_open_task_of_a_sharded_project_is_found(api, make_project, add_tasks, new_key):
    """Tasks spread over the open-task shards: a worker still gets every one of them, and none
    twice, and then hears there is no more work."""
    project_id = make_project(overlap=1)
    tasks = [{"task_id": f"t{i}", "payload": {}} for i in range(9)]
    add_tasks(project_id, tasks[:3])  # a small project: one shard
    assert open_tasks.shards(work.projects.get(project_id)) == 1
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(open_tasks, "TASKS_PER_SHARD", 2)  # as if it had grown large
        add_tasks(project_id, tasks[3:])
    from chalicelib.models import Task
    keys = {t.open_project for t in Task.query(project_id)}
    assert len(keys) > 2 and project_id in keys  # spread over shards, the first ones in shard 0
    worker, _ = new_key("worker")
    got = []
    for _ in range(9):
        status, lease = api.post("/work/next", worker, {"project_id": project_id})
        assert status == 200, lease
        got.append(lease["task_id"])
        assert api.post(f"/leases/{lease['lease_id']}/answer", worker, {"answer": "cat"})[0] == 200
    assert sorted(got) == [f"t{i}" for i in range(9)]
    assert api.post("/work/next", worker, {"project_id": project_id})[0] == 404


def test_an_answer_that_meets_another_transaction_is_retried_and_counted_once(api, make_project, add_tasks,
                                                                                new_key, requester, monkeypatch):
    """Many workers of a popular project meet on its counter items: DynamoDB cancels such a
    transaction (TransactionConflict, nothing written), which moto never does. The answer is
    written again, not a 500, and counted once."""
    from pynamodb.connection import Connection
    from pynamodb.exceptions import CancellationReason, TransactWriteError, VerboseClientError

    project_id = make_project(overlap=1, reward_cents=3)
    add_tasks(project_id, [{"task_id": "t", "payload": {}}])
    worker, _ = new_key("worker")
    lease = api.post("/work/next", worker, {"project_id": project_id})[1]
    original, cancelled = Connection.transact_write_items, []
    error = VerboseClientError({"Error": {"Code": "TransactionCanceledException", "Message": "conflict"}},
                               "TransactWriteItems", cancellation_reasons=[
                                   None, None, CancellationReason(code="TransactionConflict")])

    def twice_in_conflict(self, *args, **kwargs):
        if len(cancelled) < 2:
            cancelled.append(1)
            raise TransactWriteError("Failed to write transaction items", error)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Connection, "transact_write_items", twice_in_conflict)
    monkeypatch.setattr(work.time, "sleep", lambda seconds: None)
    status, receipt = api.post(f"/leases/{lease['lease_id']}/answer", worker, {"answer": "cat"})
    assert status == 200 and receipt["reward_cents"] == 3 and len(cancelled) == 2
    progress = api.get(f"/projects/{project_id}/progress", requester)[1]
    assert progress["answers"] == 1 and progress["rewards_cents"] == 3 and progress["tasks_complete"] == 1
