"""A project's quality rules: validated when set, fired after n answers and not before, once
per crossing (also under concurrency), visible to the requester and to the worker; gold-based
rules only at the scheduled pass, never right after the answer that breaks them."""
import threading

import pytest

from chalicelib.models import Assignment, WorkerStats
from chalicelib.models.workers import FOREVER
from chalicelib import auth
from chalicelib.schemas.quality import Rule
from chalicelib.services import pseudonyms, rules
from tests.scheduled import run_aggregator
from tests.test_quality import answer

GOLD_RULE = {"measure": "gold_accuracy", "comparison": "<", "value": 0.5, "min_answers": 3,
             "action": "block", "message": "Too many control tasks failed."}


def gold_project(make_project, add_tasks, rules_, n_gold=6, overlap=1, n_real=0):
    project_id = make_project(overlap=overlap, rules=rules_)
    add_tasks(project_id, [{"task_id": f"g{i}", "payload": {}, "known_answer": "cat"} for i in range(n_gold)]
              + [{"task_id": f"t{i}", "payload": {}} for i in range(n_real)])
    return project_id


def scheduled_pass(api, requester, project_id):
    """The scheduled aggregation pass, where gold-based rules are evaluated (asked for first, so
    that the pass is due whatever the minimum interval between runs)."""
    assert api.post(f"/projects/{project_id}/aggregate", requester)[0] in (200, 202)
    assert project_id in run_aggregator(project_id)


def pseudonym(requester, worker_id):
    """How the requester names the worker (requesters never see worker ids)."""
    return pseudonyms.for_requester(auth.lookup(f"Bearer {requester}").owner_id, worker_id)


def worker_row(api, requester, project_id, worker_id):
    status, row = api.get(f"/projects/{project_id}/workers/{pseudonym(requester, worker_id)}", requester)
    assert status == 200, row
    return row


@pytest.mark.parametrize("rule, where", [
    ({**GOLD_RULE, "value": 1.5}, "rules.0"),                                  # a share above 1
    ({**GOLD_RULE, "measure": "speed"}, "rules.0.measure"),                    # unknown measure
    ({**GOLD_RULE, "comparison": "=="}, "rules.0.comparison"),
    ({**GOLD_RULE, "action": "exclude", "duration_seconds": 600}, "rules.0"),  # duration without block
    ({**GOLD_RULE, "measure": "skipped_in_row", "value": 2.5}, "rules.0"),
    ({**GOLD_RULE, "min_answers": -1}, "rules.0.min_answers"),
    ({**GOLD_RULE, "then": "block"}, "rules.0.then"),                          # a typo is an error
])
def test_a_bad_rule_is_a_clear_400(api, requester, rule, where):
    body = {"title": "x", "answer_type": {"kind": "single_choice", "labels": ["cat", "dog"]}, "rules": [rule]}
    status, data = api.post("/projects", requester, body)
    assert status == 400 and data["error"]["code"] == "validation_error", data
    assert any(f["path"].startswith(where) for f in data["error"]["details"]["fields"]), data


def test_rules_are_set_at_creation_and_replaced_by_patch(api, requester, make_project):
    project_id = make_project(rules=[GOLD_RULE])
    project = api.get(f"/projects/{project_id}", requester)[1]
    assert project["rules"][0]["measure"] == "gold_accuracy" and project["rules"][0]["duration_seconds"] is None
    too_many = [GOLD_RULE] * 21
    status, data = api.patch(f"/projects/{project_id}", requester, {"rules": too_many})
    assert status == 400 and data["error"]["code"] == "validation_error"
    new = {"measure": "agreement", "comparison": "<", "value": 0.6, "min_answers": 10, "action": "exclude"}
    status, data = api.patch(f"/projects/{project_id}", requester, {"rules": [new]})
    assert status == 200 and [r["measure"] for r in data["rules"]] == ["agreement"]
    assert api.patch(f"/projects/{project_id}", requester, {"priority": 3})[1]["rules"] == data["rules"]


def test_gold_accuracy_rule_blocks_after_n_answers_not_before(api, requester, make_project, add_tasks, new_key):
    project_id = gold_project(make_project, add_tasks, [GOLD_RULE])
    worker, worker_id = new_key("worker")
    answer(api, worker, project_id, "g0", "dog")
    answer(api, worker, project_id, "g1", "dog")
    assert not worker_row(api, requester, project_id, worker_id)["blocked"]  # 0/2: n not reached
    answer(api, worker, project_id, "g2", "dog")
    scheduled_pass(api, requester, project_id)
    row = worker_row(api, requester, project_id, worker_id)
    assert row["blocked"] and row["blocked_until"] == FOREVER
    assert row["block_reason"] == "rule:gold_accuracy" and row["block_message"] == "Too many control tasks failed."
    mine = next(p for p in api.get("/me", worker)[1]["projects"] if p["project_id"] == project_id)
    assert mine["block_reason"] == "rule:gold_accuracy"


def test_a_good_worker_is_not_blocked(api, requester, make_project, add_tasks, new_key):
    project_id = gold_project(make_project, add_tasks, [GOLD_RULE])
    worker, worker_id = new_key("worker")
    for task, label in (("g0", "cat"), ("g1", "dog"), ("g2", "cat"), ("g3", "cat")):
        answer(api, worker, project_id, task, label)
    scheduled_pass(api, requester, project_id)
    assert not worker_row(api, requester, project_id, worker_id)["blocked"]  # 3/4 >= 0.5


def test_a_rule_fires_once_per_crossing(api, requester, make_project, add_tasks, new_key):
    rule = {**GOLD_RULE, "min_answers": 2}
    project_id = gold_project(make_project, add_tasks, [rule], n_gold=9)
    worker, worker_id = new_key("worker")
    answer(api, worker, project_id, "g0", "dog")
    answer(api, worker, project_id, "g1", "dog")
    scheduled_pass(api, requester, project_id)  # 0/2: fires
    path = f"/projects/{project_id}/workers/{pseudonym(requester, worker_id)}/block"
    assert worker_row(api, requester, project_id, worker_id)["block_reason"] == "rule:gold_accuracy"
    # The requester lifts the block; the same crossing does not block again.
    assert api.request("DELETE", path, requester)[0] == 200
    answer(api, worker, project_id, "g2", "dog")
    scheduled_pass(api, requester, project_id)  # 0/3: still below
    assert not worker_row(api, requester, project_id, worker_id)["blocked"]
    assert rules.after_answer(project_id, worker_id) == []
    # Recovers (4/7 >= 0.5): re-armed; falls below again (4/9 after 4/8): fires again.
    for task in ("g3", "g4", "g5", "g6"):
        answer(api, worker, project_id, task, "cat")
    scheduled_pass(api, requester, project_id)
    stats = WorkerStats.get(worker_id, project_id, consistent_read=True)
    assert not stats.rules_fired
    answer(api, worker, project_id, "g7", "dog")
    scheduled_pass(api, requester, project_id)
    assert not worker_row(api, requester, project_id, worker_id)["blocked"]  # 4/8 is not < 0.5
    answer(api, worker, project_id, "g8", "dog")
    scheduled_pass(api, requester, project_id)
    assert worker_row(api, requester, project_id, worker_id)["blocked"]


def test_concurrent_evaluations_fire_a_rule_once(make_project, add_tasks, api, new_key):
    project_id = gold_project(make_project, add_tasks, [])
    worker, worker_id = new_key("worker")
    answer(api, worker, project_id, "g0", "dog")
    rule = Rule.model_validate({**GOLD_RULE, "min_answers": 1, "action": "exclude"})
    results, barrier = [], threading.Barrier(8)

    def evaluate():
        barrier.wait()
        results.append(rules.fire(project_id, worker_id, rule, 0.0))

    threads = [threading.Thread(target=evaluate) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 7 + [True]
    stats = WorkerStats.get(worker_id, project_id, consistent_read=True)
    assert stats.excluded and stats.rules_fired == {rule.rule_id}


def test_a_rule_block_expires_and_never_shortens_a_longer_block(api, requester, make_project, add_tasks,
                                                                 new_key, monkeypatch):
    rule = {**GOLD_RULE, "min_answers": 1, "duration_seconds": 3600}
    project_id = gold_project(make_project, add_tasks, [rule])
    worker, worker_id = new_key("worker")
    answer(api, worker, project_id, "g0", "dog")
    scheduled_pass(api, requester, project_id)
    row = worker_row(api, requester, project_id, worker_id)
    assert row["blocked"] and row["blocked_until"] < FOREVER
    from chalicelib.services import quality
    monkeypatch.setattr(quality, "now_ms", lambda: row["blocked_until"] + 1)
    assert not worker_row(api, requester, project_id, worker_id)["blocked"]
    monkeypatch.undo()

    # A requester's block for good is not shortened by a rule firing for an hour. (A block
    # stops new leases; leases held when it came can still be answered.)
    other, other_id = new_key("worker")
    answer(api, other, project_id, "g1", "cat")
    held = [api.post(f"/projects/{project_id}/tasks/{t}/lease", other)[1]["lease_id"] for t in ("g2", "g3")]
    api.request("PUT", f"/projects/{project_id}/workers/{pseudonym(requester, other_id)}/block", requester,
                {"message": "no"})
    for lease_id in held:  # 1/3 < 0.5: fires, block unchanged
        assert api.post(f"/leases/{lease_id}/answer", other, {"answer": "dog"})[0] == 200
    scheduled_pass(api, requester, project_id)
    row = worker_row(api, requester, project_id, other_id)
    assert row["blocked_until"] == FOREVER and row["block_reason"] == "requester"
    assert WorkerStats.get(other_id, project_id, consistent_read=True).rules_fired


def test_skipped_in_row_rule(make_project, add_tasks, api, new_key):
    """The rule engine on the skip counter (the work path keeps that counter)."""
    project_id = gold_project(make_project, add_tasks, [])
    worker, worker_id = new_key("worker")
    answer(api, worker, project_id, "g0", "cat")
    rule = Rule.model_validate({"measure": "skipped_in_row", "comparison": ">=", "value": 5,
                                "action": "block", "duration_seconds": 600})
    stats = WorkerStats.get(worker_id, project_id, consistent_read=True)
    measures = rules.Measures.of(stats)
    measures.skipped_in_row = 4
    assert rules.evaluate(project_id, worker_id, [rule], measures, set()) == []
    measures.skipped_in_row = 5
    assert rules.evaluate(project_id, worker_id, [rule], measures, set()) == [rule.rule_id]
    stats.refresh(consistent_read=True)
    assert stats.block_reason == "rule:skipped_in_row" and stats.blocked_until < FOREVER
    assert rules.evaluate(project_id, worker_id, [rule], measures, set(stats.rules_fired)) == []


def test_scheduled_rules_exclude_a_disagreeing_worker_and_block_a_too_fast_one(
        api, requester, make_project, add_tasks, new_key):
    agreement = {"measure": "agreement", "comparison": "<", "value": 0.5, "min_answers": 4, "action": "exclude"}
    too_fast = {"measure": "median_answer_seconds", "comparison": "<", "value": 2, "min_answers": 4,
                "action": "block", "duration_seconds": 86_400}
    project_id = make_project(overlap=3, rules=[agreement, too_fast])
    add_tasks(project_id, [{"task_id": f"t{i}", "payload": {}} for i in range(4)])
    (a, a_id), (b, b_id), (spammer, spammer_id) = new_key("worker"), new_key("worker"), new_key("worker")
    for i in range(3):  # three answers each: under both rules' min_answers
        answer(api, a, project_id, f"t{i}", "cat", 9000)
        answer(api, b, project_id, f"t{i}", "cat", 400)
        answer(api, spammer, project_id, f"t{i}", "dog", 8000)
    assert run_aggregator(project_id)[project_id]["answers"] == 9
    rows = {w: worker_row(api, requester, project_id, w) for w in (a_id, b_id, spammer_id)}
    assert rows[spammer_id]["agreement"] == 0 and not rows[spammer_id]["excluded"]
    assert rows[b_id]["median_answer_seconds"] == 0.4 and not rows[b_id]["blocked"]

    answer(api, a, project_id, "t3", "cat", 9000)
    answer(api, b, project_id, "t3", "cat", 400)
    answer(api, spammer, project_id, "t3", "dog", 8000)
    api.post(f"/projects/{project_id}/aggregate", requester)
    assert run_aggregator(project_id)[project_id]["answers"] == 12
    rows = {w: worker_row(api, requester, project_id, w) for w in (a_id, b_id, spammer_id)}
    assert rows[spammer_id]["excluded"] and rows[spammer_id]["exclude_reason"] == "rule:agreement"
    assert rows[b_id]["blocked"] and rows[b_id]["block_reason"] == "rule:median_answer_seconds"
    assert not rows[a_id]["blocked"] and not rows[a_id]["excluded"]
    # The next run leaves the excluded worker's answers out.
    api.post(f"/projects/{project_id}/aggregate", requester)
    assert run_aggregator(project_id)[project_id]["answers"] == 8


def test_reject_pending_rule_rejects_the_workers_submitted_answers(api, requester, make_project, add_tasks,
                                                                    new_key):
    rule = {**GOLD_RULE, "min_answers": 2, "action": "reject_pending"}
    project_id = gold_project(make_project, add_tasks, [rule], n_real=2)
    worker, worker_id = new_key("worker")
    answer(api, worker, project_id, "t0", "cat")
    answer(api, worker, project_id, "g0", "dog")
    states = lambda: {a.task_id: a.state for a in Assignment.by_worker.query(worker_id)}  # noqa: E731
    assert set(states().values()) == {"submitted"}
    answer(api, worker, project_id, "g1", "dog")
    scheduled_pass(api, requester, project_id)  # 0/2 gold: fires
    assert states() == {"t0": "rejected", "g0": "rejected", "g1": "rejected"}
    answer(api, worker, project_id, "t1", "cat")  # fired once: a later answer waits for review
    scheduled_pass(api, requester, project_id)
    assert states()["t1"] == "submitted"


def test_a_single_too_fast_answer_blocks_after_n_answers(api, requester, make_project, add_tasks, new_key):
    rule = {"measure": "answer_seconds", "comparison": "<", "value": 1, "min_answers": 2,
            "action": "block", "duration_seconds": 600}
    project_id = make_project(overlap=1, rules=[rule])
    add_tasks(project_id, [{"task_id": f"t{i}", "payload": {}} for i in range(4)])
    worker, worker_id = new_key("worker")
    answer(api, worker, project_id, "t0", "cat", 300)  # fast, but only 1 answer
    answer(api, worker, project_id, "t1", "cat", 5000)
    answer(api, worker, project_id, "t2", "cat")  # no time reported: not measured
    assert not worker_row(api, requester, project_id, worker_id)["blocked"]
    answer(api, worker, project_id, "t3", "cat", 200)
    row = worker_row(api, requester, project_id, worker_id)
    assert row["blocked"] and row["block_reason"] == "rule:answer_seconds"


def test_a_worker_blocked_by_a_rule_gets_a_403_with_the_reason(api, requester, make_project, add_tasks, new_key):
    project_id = gold_project(make_project, add_tasks, [{**GOLD_RULE, "min_answers": 1}], n_real=1)
    worker, _ = new_key("worker")
    answer(api, worker, project_id, "g0", "dog")
    scheduled_pass(api, requester, project_id)
    status, error = api.post(f"/projects/{project_id}/tasks/t0/lease", worker)
    assert status == 403 and error["error"]["code"] == "worker_blocked", error
    assert error["error"]["details"]["reason"] == "rule:gold_accuracy"
    assert error["error"]["details"]["until"] == FOREVER


def test_skipping_leases_in_a_row_blocks(api, requester, make_project, add_tasks, new_key):
    rule = {"measure": "skipped_in_row", "comparison": ">=", "value": 3, "action": "block",
            "duration_seconds": 600}
    project_id = make_project(overlap=1, rules=[rule])
    add_tasks(project_id, [{"task_id": f"t{i}", "payload": {}} for i in range(4)])
    worker, worker_id = new_key("worker")

    def skip(task_id):
        lease = api.post(f"/projects/{project_id}/tasks/{task_id}/lease", worker)[1]
        assert api.post(f"/leases/{lease['lease_id']}/release", worker)[0] == 200

    skip("t0")
    skip("t1")
    assert not worker_row(api, requester, project_id, worker_id)["blocked"]
    skip("t2")
    row = worker_row(api, requester, project_id, worker_id)
    assert row["skipped_in_row"] == 3 and row["blocked"] and row["block_reason"] == "rule:skipped_in_row"


def test_the_scheduled_catch_up_fires_cheap_rules_but_leaves_re_arming_to_fresh_figures(
        make_project, add_tasks, api, new_key):
    project_id = gold_project(make_project, add_tasks, [])
    worker, worker_id = new_key("worker")
    answer(api, worker, project_id, "g0", "dog")
    rule = Rule.model_validate({"measure": "skipped_in_row", "comparison": ">=", "value": 2,
                                "action": "exclude"})
    stats = WorkerStats.get(worker_id, project_id, consistent_read=True)
    skipping = rules.Measures.of(stats)
    skipping.skipped_in_row = 2
    assert rules.evaluate(project_id, worker_id, [rule], skipping, set(), catch_up=True) == [rule.rule_id]
    recovered = rules.Measures.of(stats)  # 0 in a row, as an older or newer count might say
    rules.evaluate(project_id, worker_id, [rule], recovered, {rule.rule_id}, catch_up=True)
    assert WorkerStats.get(worker_id, project_id, consistent_read=True).rules_fired == {rule.rule_id}
    rules.evaluate(project_id, worker_id, [rule], recovered, {rule.rule_id})
    assert not WorkerStats.get(worker_id, project_id, consistent_read=True).rules_fired


def test_a_gold_rule_is_re_armed_by_the_scheduled_pass(make_project, add_tasks, api, new_key):
    """Gold-based rules are evaluated only by the scheduled pass: it re-arms them too."""
    project_id = gold_project(make_project, add_tasks, [])
    worker, worker_id = new_key("worker")
    answer(api, worker, project_id, "g0", "dog")
    rule = Rule.model_validate({**GOLD_RULE, "min_answers": 1, "action": "exclude"})
    stats = WorkerStats.get(worker_id, project_id, consistent_read=True)
    assert rules.evaluate(project_id, worker_id, [rule], rules.Measures.of(stats), set(), catch_up=True) \
        == [rule.rule_id]
    recovered = rules.Measures.of(stats)
    recovered.gold_correct = recovered.gold_answers = 5
    rules.evaluate(project_id, worker_id, [rule], recovered, {rule.rule_id}, catch_up=True)
    assert not WorkerStats.get(worker_id, project_id, consistent_read=True).rules_fired


@pytest.mark.parametrize("action", ["block", "reject_pending"])
def test_a_gold_rule_never_acts_right_after_the_answer_that_breaks_it(api, requester, make_project, add_tasks,
                                                                       new_key, action):
    """The attacker's side: a worker answers a gold task wrongly under a gold_accuracy rule. If
    the rule acted at once, the answer's response or the worker's very next request would tell
    that this answer was gold, and wrong. It acts at the scheduled pass instead."""
    project_id = gold_project(make_project, add_tasks, [{**GOLD_RULE, "min_answers": 1, "action": action}],
                              n_real=2)
    worker, worker_id = new_key("worker")
    status, lease = api.post(f"/projects/{project_id}/tasks/g0/lease", worker)
    assert status == 200, lease
    status, receipt = api.post(f"/leases/{lease['lease_id']}/answer", worker, {"answer": "dog"})  # wrong
    assert status == 200 and receipt["state"] == "submitted", receipt
    mine = lambda: next(p for p in api.get("/me", worker)[1]["projects"]  # noqa: E731
                        if p["project_id"] == project_id)
    states = lambda: [a["state"] for a in api.get("/me/assignments", worker)[1]["items"]]  # noqa: E731
    # The very next requests: no block, no rejection, work still served.
    assert not mine().get("block_reason") and states() == ["submitted"]
    status, lease = api.post(f"/projects/{project_id}/tasks/t0/lease", worker)
    assert status == 200, lease
    assert api.post(f"/leases/{lease['lease_id']}/answer", worker, {"answer": "cat"})[0] == 200

    scheduled_pass(api, requester, project_id)
    if action == "block":
        assert mine()["block_reason"] == "rule:gold_accuracy"
        status, error = api.post(f"/projects/{project_id}/tasks/t1/lease", worker)
        assert status == 403 and error["error"]["details"]["reason"] == "rule:gold_accuracy", error
    else:
        assert states() == ["rejected", "rejected"]
