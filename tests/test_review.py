"""Review: approval pays once, rejection pays nothing (with a reason the worker sees), a
rejection can be reversed within its window, approve and reject racing have one winner, and
the auto-approval pass pays once however many run at once."""
import json

import pytest

from chalicelib.models.base import now_ms
from tests.test_http_stack import race


@pytest.fixture
def answered(api, make_project, add_tasks, new_key):
    """answered(workers, tasks=1, **project) -> (project_id, [(worker key, worker id, assignment id)])."""

    def make(workers=1, tasks=1, **fields):
        project_id = make_project(overlap=workers, **fields)
        add_tasks(project_id, [{"task_id": f"t{i}", "payload": {}} for i in range(tasks)])
        done = []
        for _ in range(workers):
            key, worker_id = new_key("worker")
            for _ in range(tasks):
                status, lease = api.post("/work/next", key, {"project_id": project_id})
                assert status == 200, lease
                status, receipt = api.post(f"/leases/{lease['lease_id']}/answer", key, {"answer": "cat"})
                assert status == 200, receipt
                done.append((key, worker_id, lease["lease_id"]))
        return project_id, done

    return make


def money(api, key):
    status, me = api.get("/me", key)
    assert status == 200, me
    return me["pending_cents"], me["earned_cents"]


def review(api, requester, action, ids, **body):
    status, data = api.post(f"/assignments/{action}", requester, {"assignment_ids": ids, **body})
    assert status == 200, data
    return data["items"]


def test_approval_pays_once_and_the_worker_sees_it(api, requester, answered):
    project_id, [(worker, _, assignment_id)] = answered(reward_cents=7)
    assert money(api, worker) == (7, 0)
    for _ in range(2):  # a retried approval is a success that pays nothing more
        [item] = review(api, requester, "approve", [assignment_id], reason="Thanks!")
        assert (item["ok"], item["state"], item["error"]) == (True, "approved", None)
    assert money(api, worker) == (0, 7)
    status, ledger = api.get("/me/ledger", worker)
    assert ledger["balance"] == {"pending_cents": 0, "earned_cents": 7}
    assert [(e["kind"], e["cents"], e["assignment_id"]) for e in ledger["items"]] == [("reward", 7, assignment_id)]
    progress = api.get(f"/projects/{project_id}/progress", requester)[1]
    assert (progress["approved"], progress["paid_cents"], progress["awaiting_review"]) == (1, 7, 0)
    [listed] = api.get(f"/projects/{project_id}/assignments", requester)[1]["items"]
    assert (listed["state"], listed["review_reason"], listed["auto_approve_at"]) == ("approved", "Thanks!", None)
    # The task still shows its answer, now approved.
    [shown] = api.get(f"/projects/{project_id}/tasks/t0", requester)[1]["answers"]
    assert (shown["answer"], shown["state"]) == ("cat", "approved")


def test_rejection_pays_nothing_and_shows_its_reason(api, requester, answered):
    project_id, [(worker, _, assignment_id)] = answered(reward_cents=7)
    [item] = review(api, requester, "reject", [assignment_id], reason="The picture shows a dog.")
    assert (item["ok"], item["state"]) == (True, "rejected")
    assert money(api, worker) == (0, 0)
    assert api.get("/me/ledger", worker)[1]["items"] == []
    [listed] = api.get(f"/projects/{project_id}/assignments", requester)[1]["items"]
    assert (listed["state"], listed["review_reason"]) == ("rejected", "The picture shows a dog.")
    [shown] = api.get(f"/projects/{project_id}/tasks/t0", requester)[1]["answers"]
    assert (shown["answer"], shown["state"]) == ("cat", "rejected")
    # Approving it needs an explicit override (as on Mechanical Turk), then pays once.
    [item] = review(api, requester, "approve", [assignment_id])
    assert (item["ok"], item["state"], item["error"]["code"]) == (False, "rejected", "already_rejected")
    [item] = review(api, requester, "approve", [assignment_id], override_rejection=True)
    assert (item["ok"], item["state"]) == (True, "approved")
    assert money(api, worker) == (0, 7)
    progress = api.get(f"/projects/{project_id}/progress", requester)[1]
    assert (progress["approved"], progress["rejected"], progress["paid_cents"]) == (1, 0, 7)
    [item] = review(api, requester, "reject", [assignment_id], reason="changed my mind")
    assert (item["ok"], item["error"]["code"]) == (False, "already_approved")


def test_the_worker_sees_each_review_its_time_reason_and_feedback(api, requester, make_project, add_tasks,
                                                                  new_key):
    """The README's promise: a rejection's reason is shown to the worker (and the requester's
    feedback on an approval), in its history, with when and by whom (not which requester);
    nothing in the history tells a gold task from a real one."""
    project_id = make_project(overlap=1, reward_cents=3, auto_approve_seconds=3600)
    add_tasks(project_id, [{"task_id": "real-1", "payload": {}}, {"task_id": "real-2", "payload": {}},
                           {"task_id": "gold-1", "payload": {}, "known_answer": "dog"}])
    worker, _ = new_key("worker")
    ids = {}
    for task_id in ("real-1", "real-2", "gold-1"):
        lease = api.post(f"/projects/{project_id}/tasks/{task_id}/lease", worker)[1]
        assert api.post(f"/leases/{lease['lease_id']}/answer", worker, {"answer": "cat"})[0] == 200
        ids[task_id] = lease["lease_id"]
    before = now_ms()
    review(api, requester, "approve", [ids["real-1"]], reason="Spot on, thanks")
    review(api, requester, "reject", [ids["gold-1"]], reason="The picture shows a dog.")
    status, page = api.get("/me/assignments", worker)
    assert status == 200, page
    shown = {a["task_id"]: a for a in page["items"]}
    approved, rejected, waiting = shown["real-1"], shown["gold-1"], shown["real-2"]
    assert (approved["state"], approved["review_reason"], approved["reviewed_by"]) == \
        ("approved", "Spot on, thanks", "requester")
    assert (rejected["state"], rejected["review_reason"], rejected["reviewed_by"]) == \
        ("rejected", "The picture shows a dog.", "requester")
    assert before <= approved["reviewed_at"] <= now_ms() and before <= rejected["reviewed_at"] <= now_ms()
    assert approved["auto_approve_at"] is None and rejected["auto_approve_at"] is None
    assert (waiting["state"], waiting["reviewed_at"], waiting["review_reason"]) == ("submitted", None, None)
    assert waiting["auto_approve_at"] == waiting["submitted_at"] + 3_600_000
    # The same fields for gold and real work, and no known answer, no correctness, no requester id.
    assert set(rejected) == set(approved) == set(waiting)
    text = json.dumps(page)
    assert "known_answer" not in text and "correct" not in text and '"dog"' not in text
    from chalicelib.auth import lookup
    assert lookup(f"Bearer {requester}").owner_id not in text


def test_a_rejection_cannot_be_reversed_after_its_window(api, requester, answered, monkeypatch):
    from chalicelib.services import review as review_service

    _, [(worker, _, assignment_id)] = answered(reward_cents=7, rejection_reversal_seconds=60)
    review(api, requester, "reject", [assignment_id], reason="wrong")
    later = now_ms() + 61_000
    monkeypatch.setattr(review_service, "now_ms", lambda: later)
    [item] = review(api, requester, "approve", [assignment_id], override_rejection=True)
    assert (item["ok"], item["error"]["code"]) == (False, "reversal_window_closed")
    assert money(api, worker) == (0, 0)


def test_a_bulk_review_reports_each_item(api, requester, answered, new_key):
    project_id, done = answered(workers=2, reward_cents=3)
    _, [(_, _, someone_elses)] = answered(reward_cents=3)
    stranger = new_key("requester")[0]
    ids = [done[0][2], "not-an-id", done[1][2]]
    items = review(api, requester, "approve", ids)
    assert [(i["assignment_id"], i["ok"]) for i in items] == [(ids[0], True), (ids[1], False), (ids[2], True)]
    assert items[1]["error"]["code"] == "assignment_not_found"
    # Another requester's assignment does not exist for this one.
    [item] = review(api, stranger, "approve", [someone_elses])
    assert item["error"]["code"] == "assignment_not_found"
    status, body = api.post("/assignments/reject", requester, {"assignment_ids": [ids[0]]})
    assert status == 400 and body["error"]["code"] == "validation_error"  # a reason is required
    status, body = api.post("/assignments/approve", requester, {"assignment_ids": ["x"] * 101})
    assert status == 400 and body["error"]["code"] == "validation_error"


def test_approve_and_reject_racing_have_exactly_one_winner(api, requester, answered):
    from chalicelib.auth import lookup
    from chalicelib.schemas.review import ApproveIn, RejectIn
    from chalicelib.services import review as review_service

    project_id, done = answered(workers=1, tasks=6, reward_cents=5)
    caller = lookup(f"Bearer {requester}")
    ids = [assignment_id for _, _, assignment_id in done]

    def act(i):
        assignment_id = ids[i // 4]
        if i % 2:
            return review_service.approve(caller, ApproveIn(assignment_ids=[assignment_id])).items[0]
        return review_service.reject(caller, RejectIn(assignment_ids=[assignment_id], reason="no")).items[0]

    results = race(4 * len(ids), act)
    listed = {a["assignment_id"]: a["state"] for a in
              api.get(f"/projects/{project_id}/assignments", requester)[1]["items"]}
    for n, assignment_id in enumerate(ids):
        final = listed[assignment_id]
        mine = results[4 * n:4 * n + 4]
        # Every request agrees with the one final state: the winner and its repeats succeed.
        assert all(r.ok == (("approved" if k % 2 else "rejected") == final) for k, r in enumerate(mine))
    approved = sum(state == "approved" for state in listed.values())
    worker = done[0][0]
    assert money(api, worker) == (0, 5 * approved)
    assert sum(e["cents"] for e in api.get("/me/ledger", worker)[1]["items"]) == 5 * approved
    progress = api.get(f"/projects/{project_id}/progress", requester)[1]
    assert (progress["approved"], progress["rejected"], progress["paid_cents"]) == \
        (approved, len(ids) - approved, 5 * approved)


def test_auto_approval_twice_at_once_pays_once(api, requester, answered):
    import time

    from chalicelib.services import review as review_service

    project_id, done = answered(workers=3, tasks=2, reward_cents=4, auto_approve_seconds=0)
    deadline = time.monotonic() + 60
    summaries = race(3, lambda i: review_service.auto_approve_due(deadline))
    assert sum(s["approved"] for s in summaries) >= len(done)  # other tests' due answers may count too
    listed = api.get(f"/projects/{project_id}/assignments", requester)[1]["items"]
    assert {a["state"] for a in listed} == {"approved"} and len(listed) == len(done)
    assert {a["reviewed_by"] for a in listed} == {"auto"}
    for worker in {key for key, _, _ in done}:
        assert money(api, worker) == (0, 8)
        assert len(api.get("/me/ledger", worker)[1]["items"]) == 2
    assert api.get(f"/projects/{project_id}/progress", requester)[1]["paid_cents"] == 24


def test_auto_approval_waits_for_the_projects_delay(api, requester, answered, monkeypatch):
    import time

    from chalicelib.services import review as review_service

    project_id, [(worker, _, assignment_id)] = answered(reward_cents=4, auto_approve_seconds=3600)
    [listed] = api.get(f"/projects/{project_id}/assignments", requester)[1]["items"]
    assert listed["auto_approve_at"] == listed["submitted_at"] + 3_600_000
    review_service.auto_approve_due(time.monotonic() + 60)
    assert money(api, worker) == (4, 0)
    monkeypatch.setattr(review_service, "now_ms", lambda: listed["auto_approve_at"] + 1)
    review_service.auto_approve_due(time.monotonic() + 60)
    assert money(api, worker) == (0, 4)


def test_a_rule_rejects_the_pending_answers_of_a_worker(api, requester, answered):
    from chalicelib.services.review import reject_pending_of_worker

    project_id, done = answered(workers=1, tasks=3, reward_cents=2)
    worker, worker_id, first = done[0]
    review(api, requester, "approve", [first])
    assert reject_pending_of_worker(project_id, worker_id, "rule:gold_accuracy") == 2
    assert reject_pending_of_worker(project_id, worker_id, "rule:gold_accuracy") == 0
    assert money(api, worker) == (0, 2)
    states = sorted(a["state"] for a in api.get(f"/projects/{project_id}/assignments", requester)[1]["items"])
    assert states == ["approved", "rejected", "rejected"]


def all_pages(api, requester, path):
    seen, cursor, pages = [], None, 0
    while True:
        status, page = api.get(path + (f"&cursor={cursor}" if cursor else ""), requester)
        assert status == 200 and len(page["items"]) <= 3, page
        seen += [a["assignment_id"] for a in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if not cursor:
            return seen, pages


def test_the_listing_pages_every_assignment_once_and_filters_by_state(api, requester, answered, monkeypatch):
    from chalicelib.services import sharded_paging

    project_id, done = answered(workers=2, tasks=5, reward_cents=1)
    review(api, requester, "reject", [done[0][2], done[1][2]], reason="no")
    seen, _ = all_pages(api, requester, f"/projects/{project_id}/assignments?limit=3")
    assert sorted(seen) == sorted(a for _, _, a in done)
    status, page = api.get(f"/projects/{project_id}/assignments?state=rejected", requester)
    assert sorted(a["assignment_id"] for a in page["items"]) == sorted([done[0][2], done[1][2]])
    # A request reads a bounded number of items: a rare state comes over more (shorter) pages.
    monkeypatch.setattr(sharded_paging, "READ_LIMIT", 1)
    seen, pages = all_pages(api, requester, f"/projects/{project_id}/assignments?state=rejected&limit=3")
    assert sorted(seen) == sorted([done[0][2], done[1][2]]) and pages > 2
    status, body = api.get(f"/projects/{project_id}/assignments?cursor=bm9wZQ", requester)
    assert status == 400 and body["error"]["code"] == "invalid_cursor"
