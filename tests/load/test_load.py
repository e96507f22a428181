"""Load, short form: many workers at once over real HTTP, then every invariant checked.

The same phases as bench/load.py (the long form, with the figures in bench/RESULTS.md), at a
size the test suite can afford: `chalice local` with the store meter on (tools/chalice_local.py)
against this session's moto server. What a user would notice is asserted: every acknowledged
answer is stored once and published once, no task gets more answers than its overlap, no
worker answers a task twice, projects' and workers' money equals the receipts, and once
approved (by racing clients) the ledger pays each answer exactly once, and what an
answer costs in DynamoDB calls does not grow with the project.
"""
import json
import os

import pytest

from bench import load
from bench.load_invariants import check_invariants, check_ledger, check_published

pytestmark = [pytest.mark.http, pytest.mark.load, pytest.mark.xdist_group("load")]

OVERLAP, REWARD = 3, 4
MAX_CALLS_PER_ANSWER = 7


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with load.running_server(dict(os.environ), tmp_path_factory.mktemp("meter") / "meter.json") as server:
        yield server


@pytest.fixture(scope="module")
def crowd():
    return load.new_workers(8)


def run_and_check(server, moto_endpoint, requester, crowd, project_ids, name):
    figures, phase = load.measure(server, moto_endpoint, name,
                                  lambda: load.run_workers(server.api_url, crowd, project_ids))
    assert not phase.failures, phase.failures
    figures["checked"] = check_invariants(server.api_url, requester, crowd, project_ids, OVERLAP, REWARD,
                                          phase.acks)
    figures["checked"]["published_answers"] = check_published(server.api_url, requester, project_ids, phase.acks)
    # Approved by several clients at once: the ledger pays each answer once.
    figures["checked"]["paid_cents"] = check_ledger(server.api_url, requester, crowd, project_ids, phase.acks)
    print("\nload:", json.dumps(figures))
    return figures


def test_many_workers_on_one_project_fill_every_task_exactly(server, moto_endpoint, requester, crowd):
    project_ids = load.create_projects(server.api_url, requester, 1, 8, OVERLAP, REWARD)
    figures = run_and_check(server, moto_endpoint, requester, crowd, project_ids, "one project")
    # Every task got its overlap (8 workers for 3 slots each: the crowd drains the project).
    checked = figures["checked"]
    assert checked["answers"] == checked["stored"] == checked["published_answers"] == 8 * OVERLAP
    assert checked["paid_cents"] == 8 * OVERLAP * REWARD


def test_many_workers_on_many_projects_fill_every_task_exactly(server, moto_endpoint, requester, crowd):
    project_ids = load.create_projects(server.api_url, requester, 3, 2, OVERLAP, REWARD)
    figures = run_and_check(server, moto_endpoint, requester, crowd, project_ids, "3 projects")
    checked = figures["checked"]
    assert checked["answers"] == checked["stored"] == checked["published_answers"] == 3 * 2 * OVERLAP
    assert checked["paid_cents"] == 3 * 2 * OVERLAP * REWARD


def test_the_cost_of_an_answer_does_not_grow_with_the_project(server, moto_endpoint, requester, crowd):
    costs = {}
    for size in (20, 300):
        project_ids = load.create_projects(server.api_url, requester, 1, size, OVERLAP, REWARD)
        figures, phase = load.measure(server, moto_endpoint, f"{size} tasks",
                                      lambda: load.run_workers(server.api_url, crowd, project_ids, max_answers=8))
        assert len(phase.acks) >= 8 and not phase.failures
        check_invariants(server.api_url, requester, crowd, project_ids, OVERLAP, REWARD, phase.acks)
        costs[size] = figures
        print(f"\nload: {size} tasks:", json.dumps({op: figures[op] for op in ("next", "answer")}))
    for size, figures in costs.items():
        answer, lease = figures["answer"], figures["next"]
        # An answer reads items by key and writes one transaction: no query or scan, nothing
        # whose size follows the project's. At most: the key lookup, the key's rate counter
        # (one UpdateItem, services/rate_limits), the lease read, a refresh of the project's
        # cached terms or rules, the transaction, the task's count, and the transaction that
        # completes the task on its last answer.
        assert set(answer["calls_by_operation"]) <= {"GetItem", "UpdateItem", "TransactWriteItems"}, (size, answer)
        assert answer["calls_per_request"] <= MAX_CALLS_PER_ANSWER, (size, answer)
        # Asking for work reads one page of the open-task index per attempt, never a scan.
        assert "Scan" not in lease["calls_by_operation"] and lease["calls_by_operation"]["Query"] <= 3, (size, lease)
