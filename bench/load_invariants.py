"""The invariants a load run must leave behind, checked from the store, the API and the
published results (used by bench/load.py and tests/load)."""
import dataclasses
import gzip
import json
from collections import Counter
from typing import get_args

import requests

from chalicelib.schemas.review import ReviewState  # pydantic only: no table names read at import


@dataclasses.dataclass(frozen=True)
class Ack:
    """An answer the API acknowledged with a 200, as the receipt put it."""
    worker: str
    lease_id: str
    project_id: str
    task_id: str
    answer: str
    submitted_at: int
    reward_cents: int


# An answer, whatever its review: awaiting it, approved (paid) or rejected.
ANSWERED_STATES = get_args(ReviewState)


def stored_answers(project_ids: list[str]) -> list:
    from chalicelib.models import Assignment

    wanted = set(project_ids)
    return [a for a in Assignment.scan(consistent_read=True)
            if a.project_id in wanted and a.state in ANSWERED_STATES]


def check_invariants(api_url: str, requester: str, workers: dict[str, str], project_ids: list[str],
                     overlap: int, reward: int, acks: list[Ack], unknown_outcomes: int = 0) -> dict:
    """Raise AssertionError naming the first broken invariant; return what was checked.
    acks: the answers acknowledged in these projects; unknown_outcomes: answer requests that
    got no response (timeouts), which may have been stored without an acknowledgement."""
    from chalicelib.models import Assignment, Task

    stored = stored_answers(project_ids)
    by_lease = {a.lease_id: a for a in stored}
    assert len(by_lease) == len(stored), "two stored answers share a lease"
    assert len({a.lease_id for a in acks}) == len(acks), "a lease was acknowledged twice"
    for ack in acks:
        answer = by_lease.get(ack.lease_id)
        assert answer is not None, f"acknowledged answer lost: {ack}"
        assert (answer.worker_id, answer.project_id, answer.task_id, answer.answer, int(answer.submitted_at),
                int(answer.reward_cents)) == (ack.worker, ack.project_id, ack.task_id, ack.answer,
                                              ack.submitted_at, ack.reward_cents), f"stored differs: {ack}"
    unacknowledged = len(stored) - len(acks)
    assert unacknowledged <= unknown_outcomes, f"{unacknowledged} stored answers were never acknowledged"
    # No worker twice on a task: neither in what the clients were told nor in the store.
    for answers, worker in ((acks, lambda a: a.worker), (stored, lambda a: a.worker_id)):
        pairs = Counter((a.project_id, a.task_id, worker(a)) for a in answers)
        assert max(pairs.values(), default=1) == 1, "a worker answered a task twice"
    per_task = Counter((a.project_id, a.task_id) for a in stored)
    tasks = 0
    for project_id in project_ids:
        for task in Task.query(project_id, consistent_read=True):
            tasks += 1
            count = per_task.get((project_id, task.task_id), 0)
            assert count <= overlap, f"{project_id}/{task.task_id} has {count} answers, overlap {overlap}"
            assert int(task.answer_count) == count, f"{project_id}/{task.task_id} counts {task.answer_count}"
    # Money: every stored answer paid once, to the project's totals and to its worker.
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {requester}"
    for project_id in project_ids:
        progress = session.get(f"{api_url}/projects/{project_id}/progress", timeout=60).json()
        mine = [a for a in stored if a.project_id == project_id]
        assert all(int(a.reward_cents) == reward for a in mine)
        assert (progress["answers"], progress["rewards_cents"]) == (len(mine), reward * len(mine)), progress
        assert progress["tasks_complete"] == sum(1 for (p, _), c in per_task.items() if p == project_id
                                                 and c == overlap), progress
    for key, worker_id in workers.items():
        me = requests.get(f"{api_url}/me", headers={"Authorization": f"Bearer {key}"}, timeout=60).json()
        everywhere = [a for a in Assignment.by_worker.query(worker_id) if a.state in ANSWERED_STATES]
        owed = sum(int(a.reward_cents) for a in everywhere if a.state != "rejected")
        # Approved rewards are earned, the others pending review: each counted once, in one of them.
        assert (me["answers"], me["earned_cents"] + me["pending_cents"]) == (len(everywhere), owed), (worker_id, me)
        here = Counter(a.project_id for a in stored if a.worker_id == worker_id)
        for entry in me["projects"]:
            if entry["project_id"] in project_ids:
                assert entry["answers"] == here[entry["project_id"]], (worker_id, me)
    return {"answers": len(acks), "stored": len(stored), "tasks": tasks, "workers": len(workers),
            "rewards_cents": sum(int(a.reward_cents) for a in stored)}


def check_published(api_url: str, requester: str, project_ids: list[str], acks: list[Ack]) -> int:
    """Run the aggregator on each project, then compare its published raw answers with the
    acknowledged ones; returns the number of answers found published."""
    from chalicelib.models import Project
    from chalicelib.services import aggregator

    published = 0
    for project_id in project_ids:
        summary = aggregator.aggregate_project(Project.get(project_id, consistent_read=True))
        assert summary is not None, f"{project_id}: the aggregator did not publish"
        results = requests.get(f"{api_url}/projects/{project_id}/results", timeout=60,
                               headers={"Authorization": f"Bearer {requester}"}).json()
        body = requests.get(results["files"]["answers.jsonl.gz"]["url"], timeout=60).content
        rows = [json.loads(line) for line in gzip.decompress(body).splitlines()]
        mine = [a for a in acks if a.project_id == project_id]
        assert Counter((r["task_id"], r["answer"], r["submitted_at"]) for r in rows) == \
            Counter((a.task_id, a.answer, a.submitted_at) for a in mine), f"{project_id}: published answers differ"
        # Pseudonyms stand for workers one to one: the same number of answers per worker.
        assert sorted(Counter(r["worker"] for r in rows).values()) == \
            sorted(Counter(a.worker for a in mine).values()), f"{project_id}: answers per worker differ"
        assert results["manifest"]["answers"] == len(mine)
        published += len(rows)
    return published


def all_pages(session: requests.Session, url: str) -> tuple[dict, list[dict]]:
    """The first page's body and every item over all pages of a cursor-paged listing."""
    first, items, cursor = None, [], None
    while True:
        page = session.get(url, params={"limit": 100, **({"cursor": cursor} if cursor else {})}, timeout=60)
        assert page.status_code == 200, page.text
        body = page.json()
        first = first or body
        items += body["items"]
        cursor = body.get("next_cursor")
        if not cursor:
            return first, items


def check_ledger(api_url: str, requester: str, workers: dict[str, str], project_ids: list[str],
                 acks: list[Ack], clients: int = 4) -> int:
    """Approve every acknowledged answer, several requester clients at once with overlapping
    batches (as a double-clicking review screen would), then check that the ledger pays each
    answer exactly once: the project's payments, its paid total, and each worker's balance and
    history. Returns the cents paid."""
    import concurrent.futures

    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {requester}"
    ids = [a.lease_id for a in acks]
    batches = [ids[i:i + 100] for i in range(0, len(ids), 50)]  # each id in two batches

    def approve(batch: list[str]) -> list[dict]:
        response = session.post(f"{api_url}/assignments/approve", json={"assignment_ids": batch}, timeout=120)
        assert response.status_code == 200, response.text
        return response.json()["items"]

    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        results = [item for items in pool.map(approve, batches) for item in items]
    assert all(r["ok"] and r["state"] == "approved" for r in results), [r for r in results if not r["ok"]][:3]
    paid = 0
    for project_id in project_ids:
        mine = [a for a in acks if a.project_id == project_id]
        _, payments = all_pages(session, f"{api_url}/projects/{project_id}/payments")
        assert sorted(p["assignment_id"] for p in payments) == sorted(a.lease_id for a in mine)
        assert sum(p["cents"] for p in payments) == sum(a.reward_cents for a in mine)
        progress = session.get(f"{api_url}/projects/{project_id}/progress", timeout=60).json()
        assert (progress["paid_cents"], progress["approved"]) == (sum(a.reward_cents for a in mine), len(mine))
        paid += progress["paid_cents"]
    wanted = set(project_ids)
    for key, worker_id in workers.items():
        own = requests.Session()
        own.headers["Authorization"] = f"Bearer {key}"
        first, entries = all_pages(own, f"{api_url}/me/ledger")
        here = [e for e in entries if e["project_id"] in wanted]
        assert sorted(e["assignment_id"] for e in here) == sorted(a.lease_id for a in acks if a.worker == worker_id)
        assert first["balance"] == {"pending_cents": 0, "earned_cents": sum(e["cents"] for e in entries)}
    return paid
