"""A project of each task kind end to end through the API: created with its answer type, tasks
posted with gold, answers leased and submitted (bad ones refused with the rule), the scheduled
aggregation run, and the published files read back through their presigned URLs."""
import csv
import hashlib
import io
import json

import pytest
import requests

from chalicelib.schemas.answers import parse_answer_type
from tests.scheduled import run_aggregator

BOX = {"x1": 10, "y1": 10, "x2": 40, "y2": 30}
# kind -> (answer type, {task: payload}, {task: truth}, gold tasks, three workers' answers per
# task (the third worker is off on every task), an answer the API refuses with its rule).
CASES = {
    "multiple_choice": (
        {"kind": "multiple_choice", "labels": ["causes", "treats", "other"], "max_selected": 2},
        {f"t{i}": {"sentence": f"s{i}"} for i in range(4)},
        {"t0": ["causes"], "t1": ["treats"], "t2": ["causes", "treats"], "t3": []},
        {"t0"}, lambda task, truth, w: truth if w < 2 else ["other"],
        (["causes", "treats", "other"], "too_many_labels")),
    "number": (
        {"kind": "number", "min": 0, "max": 100, "decimals": 1, "unit": "%", "gold_abs_tolerance": 5},
        {f"t{i}": {"headline": f"h{i}"} for i in range(4)},
        {"t0": 10.0, "t1": 50.0, "t2": 80.0, "t3": 30.0},
        {"t0"}, lambda task, truth, w: truth + (w - 0.5) * 2 if w < 2 else min(100.0, truth + 60),
        (120, "out_of_bounds")),
    "rating": (
        {"kind": "rating", "scale": ["awful", "bad", "fair", "good", "great"], "gold_within_steps": 0},
        {f"t{i}": {"item": f"i{i}"} for i in range(4)},
        {"t0": 1, "t1": 5, "t2": 4, "t3": 2},
        {"t0"}, lambda task, truth, w: truth if w < 2 else 6 - truth,
        (6, "out_of_bounds")),
    "text": (
        {"kind": "text", "max_length": 80, "lowercase": True, "strip_punctuation": True, "gold_max_wer": 0.2},
        {f"t{i}": {"audio_url": f"https://example.org/{i}.wav"} for i in range(4)},
        {"t0": "the cat sat on the mat", "t1": "it was a bright cold day in april",
         "t2": "call me ishmael", "t3": "all happy families are alike"},
        {"t0"}, lambda task, truth, w: (truth.capitalize() + "." if w == 0 else truth) if w < 2 else "no idea",
        ("x" * 81, "text_too_long")),
    "pairwise": (
        {"kind": "pairwise", "allow_tie": False},
        {f"{a}{b}": {"left": {"id": a, "label": f"potato {a}"}, "right": {"id": b, "label": f"potato {b}"}}
         for a, b in ("AB", "AC", "AD", "BC", "BD", "CD")},
        {pair: pair[0] for pair in ("AB", "AC", "AD", "BC", "BD", "CD")},  # A > B > C > D
        {"AD"}, lambda task, truth, w: truth if w < 2 else task[1],
        ("Z", "unknown_item")),
    "boxes": (
        {"kind": "boxes", "labels": ["car"], "max_boxes": 3, "image_width": 100, "image_height": 80},
        {f"t{i}": {"image_url": f"https://example.org/{i}.jpg"} for i in range(4)},
        {"t0": [BOX], "t1": [{**BOX, "x1": 50, "x2": 90}], "t2": [BOX, {**BOX, "y1": 50, "y2": 70}], "t3": []},
        {"t0"}, lambda task, truth, w: [{**b, "x1": b["x1"] + w} for b in truth] if w < 2 else [{"x1": 0, "y1": 0, "x2": 5, "y2": 5}],
        ([{"x1": 10, "y1": 10, "x2": 140, "y2": 30}], "box_outside_image")),
}


def download(entry: dict) -> bytes:
    body = requests.get(entry["url"], timeout=10).content
    assert hashlib.sha256(body).hexdigest() == entry["sha256"] and len(body) == entry["bytes"]
    return body


@pytest.mark.parametrize("kind", list(CASES))
def test_a_project_of_each_kind_end_to_end(kind, api, requester, new_key):
    answer_type, payloads, truth, gold, answer_of, (bad_answer, rule) = CASES[kind]
    status, project = api.post("/projects", requester, {"title": f"A {kind} project", "answer_type": answer_type,
                                                        "overlap": 3, "reward_cents": 2})
    assert status == 201, project
    project_id = project["project_id"]
    assert project["answer_type"]["kind"] == kind
    status, added = api.post(f"/projects/{project_id}/tasks", requester, {"tasks": [
        {"task_id": t, "payload": p, **({"known_answer": truth[t]} if t in gold else {})} for t, p in payloads.items()]})
    assert status == 200 and added["created"] == len(payloads) and not added["errors"], added
    status, refused = api.post(f"/projects/{project_id}/tasks", requester, {"tasks": [
        {"task_id": "bad-gold", "payload": next(iter(payloads.values())), "known_answer": bad_answer}]})
    assert refused["created"] == 0 and refused["errors"][0]["details"]["rule"] == rule, refused

    workers = [new_key("worker")[0] for _ in range(3)]
    first = next(t for t in payloads if t not in gold)
    lease = api.post(f"/projects/{project_id}/tasks/{first}/lease", workers[0])[1]
    assert lease["answer_type"]["kind"] == kind and "known_answer" not in json.dumps(lease)
    status, error = api.post(f"/leases/{lease['lease_id']}/answer", workers[0], {"answer": bad_answer})
    assert status == 400 and error["error"]["code"] == "invalid_answer" and error["error"]["details"]["rule"] == rule
    for w, key in enumerate(workers):
        for task_id in payloads:
            status, lease = api.post(f"/projects/{project_id}/tasks/{task_id}/lease", key)
            assert status == 200, lease
            status, receipt = api.post(f"/leases/{lease['lease_id']}/answer", key,
                                       {"answer": answer_of(task_id, truth[task_id], w)})
            assert status == 200, receipt

    assert run_aggregator(project_id)[project_id]["answers"] == 3 * len(payloads)
    status, results = api.get(f"/projects/{project_id}/results", requester)
    assert status == 200 and results["manifest"]["kind"] == kind and results["manifest"]["answers"] == 3 * len(payloads)
    rows = [json.loads(line) for line in download(results["files"]["results.jsonl"]).decode().splitlines()]
    assert sorted(r["task_id"] for r in rows) == sorted(payloads)
    model = parse_answer_type(answer_type)
    for row in rows:  # two good workers of three, weighted by gold: the truth wins everywhere
        assert model.matches_gold(row["answer"], truth[row["task_id"]]), row
        assert 0 <= row["confidence"] <= 1 and row["answer_count"] == 3 and row["gold"] == (row["task_id"] in gold)
        assert set(model.result_columns) <= set(row)
    table = list(csv.DictReader(io.StringIO(download(results["files"]["results.csv"]).decode())))
    assert len(table) == len(rows) and {"task_id", "answer", "confidence", *model.csv_columns()} <= set(table[0])
    workers_csv = list(csv.DictReader(io.StringIO(download(results["files"]["workers.csv"]).decode())))
    accuracy = sorted(float(r["gold_accuracy"]) for r in workers_csv)
    assert accuracy == [0.0, 1.0, 1.0]  # the gold comparison of the kind, per worker

    status, detail = api.get(f"/projects/{project_id}/tasks/{first}", requester)
    assert model.matches_gold(detail["result"]["label"], truth[first])
    if kind == "pairwise":
        ranking = [json.loads(line) for line in download(results["files"]["ranking.jsonl"]).decode().splitlines()]
        assert [r["item"] for r in sorted(ranking, key=lambda r: r["rank"])] == ["A", "B", "C", "D"]
        assert all(r["low"] <= r["score"] <= r["high"] for r in ranking)
        assert "ranking.csv" in results["files"]
    else:
        assert "ranking.jsonl" not in results["files"]


def test_pairwise_work_goes_to_the_pairs_the_ranking_is_least_sure_of(api, requester, new_key):
    """With adaptive overlap, a pair whose winner the fitted ranking is sure of stops collecting
    answers, and the others get another: the next worker is only served uncertain pairs."""
    pairs = ["AB", "AC", "AD", "BC", "BD", "CD"]
    status, project = api.post("/projects", requester, {
        "title": "Which is heavier?", "answer_type": {"kind": "pairwise"}, "overlap": 3,
        "adaptive_overlap": {"min_overlap": 3, "max_overlap": 5, "target_confidence": 0.9}})
    assert status == 201, project
    project_id = project["project_id"]
    assert api.post(f"/projects/{project_id}/tasks", requester, {"tasks": [
        {"task_id": p, "payload": {"left": p[0], "right": p[1]}} for p in pairs]})[1]["created"] == 6
    for w in range(3):  # A and B nearly even (2 of 3 say B), the rest of the order clear
        key = new_key("worker")[0]
        for p in pairs:
            lease = api.post(f"/projects/{project_id}/tasks/{p}/lease", key)[1]
            winner = "B" if p == "AB" and w else p[0]
            assert api.post(f"/leases/{lease['lease_id']}/answer", key, {"answer": winner})[0] == 200
    run_aggregator(project_id)

    rows = {r["task_id"]: r for r in (json.loads(line) for line in download(
        api.get(f"/projects/{project_id}/results", requester)[1]["files"]["results.jsonl"]).decode().splitlines())}
    sure = {p for p, r in rows.items() if r["confidence"] >= 0.9}
    assert "AB" not in sure and {"AD", "BD"} <= sure  # far apart in the ranking: sure
    for p in pairs:
        task = api.get(f"/projects/{project_id}/tasks/{p}", requester)[1]
        assert (task["status"], task["overlap"]) == (("complete", 3) if p in sure else ("open", 4)), (p, task)
    newcomer = new_key("worker")[0]
    served = set()
    while True:
        status, lease = api.post("/work/next", newcomer, {"project_id": project_id})
        if status != 200:
            break
        served.add(lease["task_id"])
        assert api.post(f"/leases/{lease['lease_id']}/answer", newcomer,
                        {"answer": lease["payload"]["left"]})[0] == 200
    assert served == set(pairs) - sure


def test_the_openapi_description_shows_every_kind_in_a_union_on_kind(api):
    status, document = api.get("/openapi.json")
    schemas = document["components"]["schemas"]
    answer_type = schemas["ProjectCreate"]["properties"]["answer_type"]
    assert answer_type["discriminator"]["propertyName"] == "kind"
    mapping = answer_type["discriminator"]["mapping"]
    assert set(mapping) == {"single_choice", "multiple_choice", "number", "rating", "text", "pairwise", "boxes"}
    boxes = schemas[mapping["boxes"].rsplit("/", 1)[-1]]["properties"]
    assert {"labels", "min_boxes", "max_boxes", "image_width", "image_height", "gold_min_iou"} <= set(boxes)


def test_qualification_judges_gold_with_the_kinds_tolerance(api, make_project, add_tasks, new_key):
    """A number project: a gold answer within the requester's tolerance qualifies, one outside
    it does not, whatever the worker's other answers."""
    project_id = make_project(overlap=1, answer_type={"kind": "number", "min": 0, "max": 100, "gold_abs_tolerance": 5},
                              qualification={"gold_tasks": 2, "min_accuracy": 1.0})
    add_tasks(project_id, [{"task_id": "t1", "payload": {}}, {"task_id": "t2", "payload": {}},
                           {"task_id": "g1", "payload": {}, "known_answer": 40},
                           {"task_id": "g2", "payload": {}, "known_answer": 60}])

    def answer_gold(key, values):
        for _ in values:
            status, lease = api.post("/work/next", key, {"project_id": project_id})
            assert status == 200 and lease["task_id"] in values, lease
            assert api.post(f"/leases/{lease['lease_id']}/answer", key, {"answer": values[lease["task_id"]]})[0] == 200

    close, far = new_key("worker")[0], new_key("worker")[0]
    answer_gold(close, {"g1": 44.5, "g2": 55})  # within 5 of 40 and of 60
    answer_gold(far, {"g1": 40, "g2": 80})  # one exact, one 20 away
    status, lease = api.post("/work/next", close, {"project_id": project_id})
    assert status == 200 and lease["task_id"] in ("t1", "t2")
    status, error = api.post("/work/next", far, {"project_id": project_id})
    assert status == 403 and error["error"]["code"] == "qualification_failed", error
