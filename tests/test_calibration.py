"""Calibrated confidence (issue 15, item 5): a Platt map fitted on gold, cross-fitted so that no
gold task calibrates itself, published with its ECE in the manifest and the progress."""
import json

import numpy as np
import pytest
import requests

from chalicelib.aggregation import aggregate
from chalicelib.aggregation.classification import calibration
from tests.scheduled import run_aggregator
from tests.test_aggregation_settings import manifest
from tests.test_quality import answer


def correlated_crowd(seed=3, n_tasks=500, n_workers=25, per_task=5):
    """Workers who err together on hard tasks (a quarter of them): Dawid-Skene assumes
    independent errors, so its posterior is overconfident there."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 2, n_tasks)
    hard = rng.random(n_tasks) < 0.25
    tasks, workers, labels = [], [], []
    for task in range(n_tasks):
        misled = hard[task] and rng.random() < 0.45  # the crowd as a whole goes wrong
        for worker in rng.choice(n_workers, per_task, replace=False):
            right = rng.random() < (0.2 if misled else 0.9)
            tasks.append(task)
            workers.append(worker)
            labels.append(truth[task] if right else 1 - truth[task])
    return np.array(tasks), np.array(workers), np.array(labels), truth


def test_platt_scaling_finds_the_map_that_made_the_outcomes():
    rng = np.random.default_rng(0)
    confidence = rng.uniform(0.5, 0.999, 4000)
    truly = 1 / (1 + np.exp(-(0.4 * np.log(confidence / (1 - confidence)) - 0.2)))
    slope, intercept = calibration.fit_platt(confidence, rng.random(4000) < truly)
    assert slope == pytest.approx(0.4, abs=0.08) and intercept == pytest.approx(-0.2, abs=0.15)


def test_no_gold_task_is_scored_by_a_fit_that_saw_its_answer():
    known = np.full(200, -1)
    known[::4] = 1  # 50 gold tasks
    seen = []

    def fit(hidden):
        seen.append(hidden.copy())
        return np.tile([0.2, 0.8], (200, 1))

    calibration.calibrate(fit, known, folds=5)
    gold = np.flatnonzero(known >= 0)
    hidden_in = [set(gold[k[gold] < 0]) for k in seen]
    assert len(seen) == 5 and all(hidden_in)
    assert sorted(t for fold in hidden_in for t in fold) == sorted(gold)  # each hidden exactly once


def test_calibrated_confidence_is_closer_to_the_accuracy_on_tasks_without_gold():
    tasks, workers, labels, truth = correlated_crowd()
    known = np.full(truth.size, -1)
    gold = np.random.default_rng(1).choice(truth.size, 100, replace=False)
    known[gold] = truth[gold]

    def fit(known_labels):
        return aggregate("ds", tasks, workers, labels, truth.size, 25, 2, known=known_labels).posterior

    posterior = fit(known)
    calibrated = calibration.calibrate(fit, known)
    after = calibrated.apply(posterior)
    other = known < 0

    def ece(p):
        return calibration.expected_calibration_error(p[other].max(1), p[other].argmax(1) == truth[other])

    assert (after.argmax(1) == posterior.argmax(1)).all()  # the labels stay
    assert np.allclose(after.sum(1), 1)
    assert ece(posterior) > 0.1 and ece(after) < 0.7 * ece(posterior), (ece(posterior), ece(after))
    assert calibrated.ece_after < calibrated.ece_before


def test_too_little_gold_leaves_the_confidence_as_the_method_gives_it():
    known = np.full(100, -1)
    known[:10] = 0
    calibrated = calibration.calibrate(lambda k: pytest.fail("no refit expected"), known)
    assert (calibrated.slope, calibrated.intercept, calibrated.ece_after) == (1.0, 0.0, None)


def test_a_run_publishes_its_calibration_and_its_ece(api, requester, make_project, add_tasks, new_key,
                                                      monkeypatch):
    monkeypatch.setattr(calibration, "MIN_GOLD", 6)
    project_id = make_project(overlap=3)
    gold = [{"task_id": f"g{i}", "payload": {}, "known_answer": "cat" if i % 2 else "dog"} for i in range(8)]
    add_tasks(project_id, gold + [{"task_id": f"t{i}", "payload": {}} for i in range(4)])
    careful, careless = new_key("worker")[0], new_key("worker")[0]
    for task in gold:
        answer(api, careful, project_id, task["task_id"], task["known_answer"])
        answer(api, careless, project_id, task["task_id"], "cat")
    for i in range(4):
        answer(api, careful, project_id, f"t{i}", "dog")
        answer(api, careless, project_id, f"t{i}", "cat")

    run_aggregator(project_id)
    published = manifest(api, requester, project_id)["calibration"]
    assert published["method"] == "platt" and published["gold_tasks"] == 8
    assert 0 <= published["ece"] <= 1 and published["ece_before"] is not None
    status, progress = api.get(f"/projects/{project_id}/progress", requester)
    assert status == 200 and progress["last_run_ece"] == published["ece"]
    status, results = api.get(f"/projects/{project_id}/results", requester)
    body = requests.get(results["files"]["results.jsonl"]["url"], timeout=10).content
    rows = [json.loads(line) for line in body.decode().splitlines()]
    assert len(rows) == 12
    for row in rows:  # the published confidence is the top of the published (calibrated) posterior
        assert row["confidence"] == pytest.approx(max(row["posterior"].values()), abs=1e-6)
    real = [row for row in rows if not row["gold"]]
    assert all(row["confidence"] < 0.999 for row in real)  # two workers split: not sure
