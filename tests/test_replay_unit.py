"""Unit tests of tools.replay's pure helpers (no server)."""
import collections
import random

from tools import replay


def test_read_dataset_keeps_strings(tmp_path):
    (tmp_path / "answers.csv").write_text("worker,task,label\nw1,007,1\nw2,007,0\n")
    (tmp_path / "gold.csv").write_text("task,label\n007,1\n")
    answers, gold = replay.read_dataset(tmp_path)
    assert answers == [("w1", "007", "1"), ("w2", "007", "0")]
    assert gold == {"007": "1"}


def test_unique_jobs_keeps_the_first_answer_of_a_pair():
    jobs, duplicates = replay.unique_jobs([("w1", "t1", "a"), ("w1", "t1", "b"), ("w2", "t1", "a")])
    assert jobs == [("w1", "t1", "a"), ("w2", "t1", "a")]
    assert duplicates == 1
    assert replay.overlap_of(jobs) == 2


def test_choose_gold_is_reproducible_and_only_from_known_tasks():
    tasks = [f"t{i}" for i in range(20)]
    gold = {t: "1" for t in tasks[:10]}
    first = replay.choose_gold(tasks, gold, 0.5, random.Random(3))
    assert first == replay.choose_gold(tasks, gold, 0.5, random.Random(3))
    assert len(first) == 5 and first <= set(gold)
    assert replay.choose_gold(tasks, gold, 0.0, random.Random(3)) == set()


def test_percentile_nearest_rank():
    values = list(range(1, 101))
    assert replay.percentile(values, 50) == 50
    assert replay.percentile(values, 99) == 99
    assert replay.percentile([7.0], 95) == 7.0
    assert replay.percentile([], 50) is None


def test_score_counts_shortfall_per_task_and_scores_non_gold_only():
    rows = [{"task_id": "a", "label": "1", "answer_count": 3},
            {"task_id": "b", "label": "0", "answer_count": 1},
            {"task_id": "g", "label": "0", "answer_count": 2}]
    gold = {"a": "1", "b": "1", "g": "1"}
    acknowledged = collections.Counter({"a": 2, "b": 2, "g": 2, "missing": 1})
    result = replay.score(rows, gold, {"g"}, acknowledged)
    # 7 acknowledged, 6 published (a has one extra), but b is short by 1 and "missing" by 1.
    assert result["published"] == 6
    assert result["lost"] == 2
    assert result["tasks"] == 3
    assert result["accuracy"] == 0.5  # a right, b wrong; g is gold, not scored
