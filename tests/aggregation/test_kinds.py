"""Every task kind on small synthetic crowds whose truth is known, and its edge cases."""
from __future__ import annotations

import numpy as np
import pytest

from chalicelib.aggregation import (KINDS, KindAnswer, aggregate_kind, default_method, methods,
                                    next_pairs)


def answer(worker, task, value) -> KindAnswer:
    return KindAnswer(str(worker), str(task), value)


# --- multiple choice --------------------------------------------------------------------------

def label_crowd(seed=0, n_tasks=150, labels=("a", "b", "c", "d")):
    """4 careful workers (sens 0.85, spec 0.95) and 5 who tick each label with probability 1/2."""
    rng = np.random.default_rng(seed)
    truth = rng.random((n_tasks, len(labels))) < 0.3
    answers = []
    for t in range(n_tasks):
        for w in rng.choice(9, 6, replace=False):
            if w < 4:
                ticks = np.where(truth[t], rng.random(len(labels)) < 0.85,
                                 rng.random(len(labels)) < 0.05)
            else:
                ticks = rng.random(len(labels)) < 0.5
            answers.append(answer(w, t, [label for label, on in zip(labels, ticks) if on]))
    return answers, truth, list(labels)


def test_multiple_choice_trusts_careful_workers_over_random_tickers():
    answers, truth, labels = label_crowd()
    errors = {}
    for method in ("label_ds", "label_vote"):
        result = aggregate_kind("multiple_choice", answers, {"labels": labels}, method=method)
        predicted = np.array([[label in result.tasks[str(t)].answer for label in labels]
                              for t in range(len(truth))])
        errors[method] = int((predicted != truth).sum())
        probabilities = result.tasks["0"].details["probabilities"]
        assert set(probabilities) == set(labels) and all(0 <= p <= 1 for p in probabilities.values())
    assert errors["label_ds"] < errors["label_vote"] / 2, errors
    reliability = aggregate_kind("multiple_choice", answers, {"labels": labels}).workers
    assert min(reliability[str(w)] for w in range(4)) > max(reliability[str(w)] for w in range(4, 9))


def test_multiple_choice_respects_min_and_max_selected_and_gold():
    answers = [answer(w, "t", ["a", "b", "c"]) for w in range(5)] + [answer(w, "u", []) for w in range(5)]
    config = {"labels": ["a", "b", "c"], "min_selected": 1, "max_selected": 2}
    result = aggregate_kind("multiple_choice", answers, config, known={"g": ["c"]})
    assert len(result.tasks["t"].answer) == 2
    assert len(result.tasks["u"].answer) == 1
    assert result.tasks["g"].answer == ["c"] and result.tasks["g"].confidence == 1.0


# --- number -----------------------------------------------------------------------------------

def test_a_wild_answer_does_not_drag_the_number():
    answers = [answer(w, "t", v) for w, v in enumerate([49.0, 50.5, 51.0, 50.0, 49.5, 1000.0])]
    answers += [answer(w, f"o{i}", 20.0 + i + (w % 3 - 1)) for i in range(30) for w in range(5)]
    config = {"min": 0, "max": 1000}
    robust = aggregate_kind("number", answers, config).tasks["t"]
    mean = aggregate_kind("number", answers, config, method="mean").tasks["t"]
    assert abs(robust.answer - 50) < 2 < abs(mean.answer - 50)
    low, high = robust.details["interval"]
    assert low <= robust.answer <= high and high - low < 20


def test_number_learns_a_biased_worker_from_gold():
    rng = np.random.default_rng(1)
    truth = rng.uniform(0, 100, 80)
    answers = [answer(w, t, float(truth[t] + (15.0 if w == 0 else 0.0) + rng.normal(0, 2)))
               for t in range(80) for w in range(3)]
    known = {str(t): float(truth[t]) for t in range(20)}
    result = aggregate_kind("number", answers, {"min": -50, "max": 150}, known=known)
    mean = aggregate_kind("number", answers, {"min": -50, "max": 150}, known=known, method="mean")
    error = lambda r: np.mean([abs(r.tasks[str(t)].answer - truth[t]) for t in range(20, 80)])  # noqa: E731
    assert error(result) < 2.5 < error(mean)
    assert result.workers["0"] < min(result.workers["1"], result.workers["2"])
    assert result.tasks["0"].answer == pytest.approx(truth[0]) and result.tasks["0"].confidence == 1.0


def number_crowd(seed, biased):
    """120 tasks x 6 answers from 20 workers: equal honest workers, or (``biased``) workers with
    biases of +-12 and noise sd from 1 to 15."""
    rng = np.random.default_rng(seed)
    truth = rng.uniform(0, 100, 120)
    bias = rng.choice([-12.0, 0.0, 12.0], 20) if biased else np.zeros(20)
    sd = rng.uniform(1, 15, 20) if biased else np.full(20, 8.0)
    answers = [answer(w, t, float(truth[t] + bias[w] + rng.normal(0, sd[w])))
               for t in range(120) for w in rng.choice(20, 6, replace=False)]
    return answers, truth


@pytest.mark.parametrize("biased, chosen", [(False, "mean"), (True, "bias_variance")])
def test_number_keeps_the_worker_model_only_where_it_predicts_held_out_answers_better(
        biased, chosen):
    answers, truth = number_crowd(3, biased)
    config = {"min": -50, "max": 150}
    result = aggregate_kind("number", answers, config)
    assert result.params["model"] == chosen, result.params["cv_squared_error"]
    error = {method: np.mean([abs(r.tasks[str(t)].answer - truth[t]) for t in range(120)])
             for method, r in [("default", result),
                               ("mean", aggregate_kind("number", answers, config, method="mean"))]}
    if chosen == "mean":  # the published estimate is the mean itself
        assert error["default"] == pytest.approx(error["mean"])
    else:
        assert error["default"] < 0.85 * error["mean"], error


# --- rating -----------------------------------------------------------------------------------

def test_rating_respects_the_order_and_weighs_workers():
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 5, 200)
    answers = []
    for t in range(200):
        for w in rng.choice(12, 5, replace=False):
            noisy = truth[t] + rng.normal(0.8 if w < 2 else 0.0, 0.4) if w < 5 else rng.integers(0, 5)
            answers.append(answer(w, t, int(np.clip(np.round(noisy), 0, 4)) + 1))
    config = {"scale": ["1", "2", "3", "4", "5"]}
    accuracy = {}
    for method in ("ordinal", "median"):
        result = aggregate_kind("rating", answers, config, method=method)
        accuracy[method] = np.mean([result.tasks[str(t)].answer - 1 == truth[t] for t in range(200)])
    assert accuracy["ordinal"] > accuracy["median"] + 0.1, accuracy
    distribution = result.tasks["0"].details["distribution"]
    assert list(distribution) == ["1", "2", "3", "4", "5"]
    assert sum(distribution.values()) == pytest.approx(1.0)


# --- text -------------------------------------------------------------------------------------

def test_rover_fuses_answers_that_each_have_one_error():
    answers = [answer("a", "t", "the quick brown fox jumps"),
               answer("b", "t", "the quick brown box jumps"),
               answer("c", "t", "the quack brown fox jumps"),
               answer("d", "t", "a quick brown fox jumps")]
    result = aggregate_kind("text", answers, {}, method="rover")
    assert result.tasks["t"].answer == "the quick brown fox jumps"
    assert 0.7 < result.tasks["t"].details["agreement"] < 1.0


def test_weighted_medoid_prefers_reliable_workers_and_normalizes():
    """Three spammers write junk everywhere, and the same junk on task "hard": there the two
    reliable workers outweigh them, while an unweighted medoid follows the majority."""
    sentences = [f"sentence number {i} is here" for i in range(20)]
    answers = [answer(w, i, s) for i, s in enumerate(sentences) for w in ("good1", "good2")]
    answers += [answer(f"spam{k}", i, f"junk{k}x{i} noise{k}y{i}") for i in range(20) for k in range(3)]
    answers += [answer(w, "hard", "the right words") for w in ("good1", "good2")]
    answers += [answer(f"spam{k}", "hard", "lorem ipsum dolor") for k in range(3)]
    answers += [answer("good1", "x", "  The  Cafe\u0301 "), answer("good2", "x", "the caf\u00e9")]
    result = aggregate_kind("text", answers, {"normalize": {"case": True}}, method="weighted_medoid")
    assert all(result.tasks[str(i)].answer == s for i, s in enumerate(sentences))
    assert result.tasks["hard"].answer == "the right words"
    assert aggregate_kind("text", answers, {}, method="medoid").tasks["hard"].answer == "lorem ipsum dolor"
    assert result.workers["good1"] > 0.8 > 0.4 > result.workers["spam0"]
    # NFC, case and whitespace normalised: both answers are the same text
    assert result.tasks["x"].answer == "the caf\u00e9" and result.tasks["x"].confidence == 1.0


# --- pairwise ---------------------------------------------------------------------------------

def pairwise_crowd(seed=0, n_items=8):
    rng = np.random.default_rng(seed)
    strength = np.linspace(2, -2, n_items)  # item 0 is the best
    answers = []
    for i in range(n_items):
        for j in range(i + 1, n_items):
            for w in range(6):
                p = 1 / (1 + np.exp(-(strength[i] - strength[j])))
                left_wins = rng.random() < p
                if w == 5:  # an adversary: always the worse one
                    left_wins = False
                answers.append(answer(w, f"{i}|{j}", {"left": f"i{i}", "right": f"i{j}",
                                                       "winner": f"i{i}" if left_wins else f"i{j}"}))
    return answers


def test_crowd_bt_recovers_the_order_and_spots_the_adversary():
    result = aggregate_kind("pairwise", pairwise_crowd(), {"allow_tie": False})
    order = [row["item"] for row in result.ranking]
    assert order[:2] == ["i0", "i1"] and order[-1] == "i7"
    assert [row["rank"] for row in result.ranking] == list(range(1, 9))
    assert all(row["low"] < row["score"] < row["high"] for row in result.ranking)
    assert result.workers["5"] < 0.3 < 0.6 < min(result.workers[str(w)] for w in range(5))
    assert result.tasks["0|7"].answer == "i0"


@pytest.mark.parametrize("method", ["crowd_davidson", "crowd_bt"])
def test_crowd_bt_without_the_dense_hessian_gives_the_same_order(monkeypatch, method):
    """Projects with many items take minorise-maximise steps instead of full Newton steps."""
    from chalicelib.aggregation.pairwise import crowd_bt

    dense = aggregate_kind("pairwise", pairwise_crowd(), {"allow_tie": False}, method=method)
    monkeypatch.setattr(crowd_bt, "DENSE_LIMIT", 3)
    sparse = aggregate_kind("pairwise", pairwise_crowd(), {"allow_tie": False}, method=method)
    assert [r["item"] for r in sparse.ranking] == [r["item"] for r in dense.ranking]
    assert all(0 < r["high"] - r["low"] <= d["high"] - d["low"] + 1e-9
               for r, d in zip(sorted(sparse.ranking, key=lambda r: r["item"]),
                               sorted(dense.ranking, key=lambda r: r["item"])))


def tie_crowd(seed=0, n_items=10):
    """Each worker answers each pair twice: 0-3 carefully (Davidson's model, ties mostly for
    close items), 4-6 say tie 90 % of the time and are careful otherwise, 7-8 at random."""
    rng = np.random.default_rng(seed)
    strength = np.linspace(3, -3, n_items)
    answers = []
    for i in range(n_items):
        for j in range(i + 1, n_items):
            for w in list(range(9)) * 2:
                d = strength[i] - strength[j]
                weights = np.exp([d / 2, -d / 2, -1.0])
                outcome = rng.choice(3, p=weights / weights.sum())
                if w in (4, 5, 6) and rng.random() < 0.9:
                    outcome = 2
                elif w in (7, 8):
                    outcome = rng.integers(0, 3)
                left, right = (f"i{i}", f"i{j}") if rng.random() < 0.5 else (f"i{j}", f"i{i}")
                winner = {0: f"i{i}", 1: f"i{j}", 2: "tie"}[int(outcome)]
                answers.append(answer(w, f"{i}|{j}", {"left": left, "right": right,
                                                       "winner": winner}))
    return answers


def test_crowd_davidson_reads_each_workers_ties_by_their_habit():
    result = aggregate_kind("pairwise", tie_crowd(), {"allow_tie": True})
    assert result.method == default_method("pairwise") == "crowd_davidson"
    scores = {row["item"]: row["score"] for row in result.ranking}
    assert {row["item"] for row in result.ranking[:2]} == {"i0", "i1"}
    assert [row["item"] for row in result.ranking[2:]] == [f"i{k}" for k in range(2, 10)]
    assert np.corrcoef([scores[f"i{k}"] for k in range(10)], np.arange(10))[0, 1] < -0.97
    propensity = dict(zip(result.params["workers"], result.params["tie_propensity"]))
    assert min(propensity[w] for w in "456") > max(propensity[w] for w in "0123") + 1.0
    assert max(result.workers[w] for w in "78") < min(result.workers[w] for w in "0123")
    # the prior's strength is the candidate the answers predict best when held out
    held_out = result.params["held_out_log_likelihood"]
    assert held_out[str(result.params["prior_strength"])] == max(held_out.values())


def test_crowd_davidson_gold_outweighs_a_few_contrary_answers():
    answers = [answer(w, "ab", {"left": "a", "right": "b", "winner": "b"}) for w in range(2)]
    answers += [answer(w, "bc", {"left": "b", "right": "c", "winner": "tie"}) for w in range(2)]
    plain = aggregate_kind("pairwise", answers, {"allow_tie": True})
    gold = aggregate_kind("pairwise", answers, {"allow_tie": True}, known={"ab": "a", "bc": "tie"})
    rank = {row["item"]: row["rank"] for row in gold.ranking}
    assert plain.ranking[0]["item"] == "b" and rank["a"] == 1
    assert (gold.tasks["ab"].answer, gold.tasks["ab"].confidence) == ("a", 1.0)
    assert gold.tasks["bc"].answer == "tie"


def test_next_pairs_picks_the_least_certain_order():
    answers = [answer(w, "ab", {"left": "a", "right": "b", "winner": "a"}) for w in range(10)]
    answers += [answer(w, "cd", {"left": "c", "right": "d", "winner": "c" if w % 2 else "d"})
                for w in range(10)]
    result = aggregate_kind("pairwise", answers, {})
    assert next_pairs(result, [("a", "b"), ("c", "d"), ("a", "zz")], 2) == [("a", "zz"), ("c", "d")]


def test_pairwise_all_ties_gives_equal_scores_and_a_tie():
    answers = [answer(w, "ab", {"left": "a", "right": "b", "winner": "tie"}) for w in range(4)]
    result = aggregate_kind("pairwise", answers, {"allow_tie": True})
    assert result.tasks["ab"].answer == "tie"
    assert result.ranking[0]["score"] == pytest.approx(result.ranking[1]["score"])
    assert [row["rank"] for row in result.ranking] == [1, 1]


def test_pairwise_ties_pull_two_items_together():
    """b beats c 8:2 and a beats c only 6:4, so b ranks above a; twenty a-b ties say the two
    are alike and must bring a's score closer to b's (ignoring ties would leave the gap)."""
    def pair(task, left, right, wins_left, wins_right, ties=0):
        winners = [left] * wins_left + [right] * wins_right + ["tie"] * ties
        return [answer(f"{task}{k}", task, {"left": left, "right": right, "winner": w})
                for k, w in enumerate(winners)]

    base = pair("ac", "a", "c", 6, 4, 10) + pair("bc", "b", "c", 8, 2, 10)

    def gap(answers):
        scores = {row["item"]: row["score"] for row in
                  aggregate_kind("pairwise", answers, {"allow_tie": True}).ranking}
        return scores["b"] - scores["a"]

    assert 0 < gap(base + pair("ab", "a", "b", 0, 0, 20)) < 0.7 * gap(base)


# --- boxes ------------------------------------------------------------------------------------

def test_boxes_cluster_across_workers_and_drop_a_lone_spurious_box():
    rng = np.random.default_rng(0)
    objects = [(10, 10, 50, 60), (100, 20, 140, 90)]
    answers = []
    for image in range(10):
        for w in range(4):
            boxes = [dict(zip(("x1", "y1", "x2", "y2"), (np.array(o) + rng.normal(0, 1.5, 4)).tolist()))
                     for o in objects]
            if w == 3:
                boxes.append({"x1": 300.0, "y1": 300.0, "x2": 320.0, "y2": 330.0})
            answers.append(answer(w, image, boxes))
    result = aggregate_kind("boxes", answers, {"iou": 0.5})
    for image in range(10):
        outcome = result.tasks[str(image)]
        found = sorted((round(b["x1"]), round(b["y1"])) for b in outcome.answer)
        assert len(found) == 2 and all(abs(f[0] - o[0]) <= 3 for f, o in zip(found, objects))
        assert len(outcome.details["box_confidences"]) == 2
    assert result.workers["3"] < result.workers["0"]


def test_boxes_keep_labels_apart():
    box = {"x1": 0.0, "y1": 0.0, "x2": 10.0, "y2": 10.0}
    answers = [answer(w, "t", [{**box, "label": "cat"}, {**box, "label": "dog"}]) for w in range(3)]
    result = aggregate_kind("boxes", answers, {"labels": ["cat", "dog"]})
    assert sorted(b["label"] for b in result.tasks["t"].answer) == ["cat", "dog"]


# --- every kind: edge cases -------------------------------------------------------------------

ONE_ANSWER = {
    "single_choice": ("x", {"labels": ["x", "y"]}),
    "multiple_choice": (["x"], {"labels": ["x", "y"]}),
    "number": (3.25, {"min": 0, "max": 10, "decimals": 1}),
    "rating": (2, {"scale": ["bad", "ok", "good"]}),
    "text": ("Hello world", {}),
    "pairwise": ({"left": "a", "right": "b", "winner": "a"}, {"allow_tie": True}),
    "boxes": ([{"x1": 1, "y1": 2, "x2": 3, "y2": 4}], {}),
}


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_no_answers_and_one_answer(kind):
    value, config = ONE_ANSWER[kind]
    assert default_method(kind) == methods(kind)[0]
    for method in methods(kind):
        empty = aggregate_kind(kind, [], config, method=method)
        assert empty.tasks == {} and empty.workers == {}
        result = aggregate_kind(kind, [answer("w", "t", value)], config, method=method)
        outcome = result.tasks["t"]
        assert 0.0 <= outcome.confidence <= 1.0 and set(result.workers) == {"w"}
        assert 0.0 <= result.workers["w"] <= 1.0
        expected = {"number": 3.2, "pairwise": "a"}.get(kind, value)  # decimals=1 rounds half even
        if kind == "boxes":
            assert len(outcome.answer) in (0, 1)
        elif kind != "number":
            assert outcome.answer == expected, (kind, method)
        else:
            assert outcome.answer == pytest.approx(3.25, abs=0.06)


def test_unknown_kind_method_and_malformed_values_raise_value_error():
    with pytest.raises(ValueError, match="unknown kind"):
        aggregate_kind("poll", [], {})
    with pytest.raises(ValueError, match="unknown method"):
        aggregate_kind("number", [], {}, method="ds")
    bad = {"number": "abc", "rating": 9, "multiple_choice": "x", "text": 5,
           "pairwise": {"left": "a", "right": "b", "winner": "c"}, "boxes": [{"x1": 1}]}
    for kind, value in bad.items():
        config = ONE_ANSWER[kind][1]
        with pytest.raises(ValueError):
            aggregate_kind(kind, [answer("w", "t", value)], config)


GOLD = {
    "single_choice": "y", "multiple_choice": ["y"], "number": 7.0, "rating": 3, "text": "gold text",
    "pairwise": "b", "boxes": [{"x1": 5.0, "y1": 5.0, "x2": 9.0, "y2": 9.0}],
}


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_clamps_gold_tasks(kind):
    """A gold task keeps its known answer with confidence 1, whatever the workers said."""
    value, config = ONE_ANSWER[kind]
    answers = [answer(w, "g", value) for w in ("u", "v")] + [answer("u", "t", value)]
    result = aggregate_kind(kind, answers, config, known={"g": GOLD[kind]})
    outcome = result.tasks["g"]
    assert outcome.confidence == 1.0
    if kind == "boxes":
        assert [[b[c] for c in ("x1", "y1", "x2", "y2")] for b in outcome.answer] == [[5, 5, 9, 9]]
    else:
        assert outcome.answer == GOLD[kind]
