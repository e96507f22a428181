"""Every method on synthetic crowds: recovers the truth, ranks workers, is deterministic."""
from __future__ import annotations

import numpy as np
import pytest

from chalicelib.aggregation import DEFAULT_METHOD, METHODS, AggregationResult, aggregate

ALL_METHODS = sorted(METHODS)
# Methods that model worker quality beyond a vote; on a crowd that is half spammers they must
# clearly beat the plain majority vote.
MODEL_BASED = [m for m in ALL_METHODS if m not in ("mv", "wawa", "gold_weighted")]


def accuracy(result: AggregationResult, truth: np.ndarray) -> float:
    return float((result.labels == truth).mean())


def test_default_method_is_registered():
    assert DEFAULT_METHOD in METHODS


@pytest.mark.parametrize("method", ALL_METHODS)
def test_recovers_truth_and_ranks_workers(method, crowd):
    result = aggregate(method, *crowd.arrays())
    # Chance is 1/3; half of the crowd are spammers (majority vote reaches about 0.77).
    assert accuracy(result, crowd.truth) > 0.7
    reliability = result.worker_reliability
    assert reliability.shape == (crowd.n_workers,)
    assert reliability[crowd.good_workers].min() > reliability[crowd.spammers].max()


@pytest.mark.parametrize("method", MODEL_BASED)
def test_model_based_methods_beat_majority_vote(method, crowd):
    majority = accuracy(aggregate("mv", *crowd.arrays()), crowd.truth)
    result = aggregate(method, *crowd.arrays())
    assert accuracy(result, crowd.truth) > majority + 0.03
    assert result.iterations > 1


@pytest.mark.parametrize("method", ALL_METHODS)
def test_result_shapes_and_probabilities(method, crowd):
    result = aggregate(method, *crowd.arrays())
    assert result.method == method
    assert result.posterior.shape == (crowd.n_tasks, crowd.n_labels)
    np.testing.assert_allclose(result.posterior.sum(axis=1), 1.0)
    assert (result.posterior >= 0).all()
    assert result.labels.dtype == np.int64
    np.testing.assert_array_equal(result.labels, result.posterior.argmax(axis=1))
    np.testing.assert_allclose(result.confidence,
                               result.posterior[np.arange(crowd.n_tasks), result.labels])
    assert ((result.worker_reliability >= 0) & (result.worker_reliability <= 1)).all()
    if result.worker_confusion is not None:
        assert result.worker_confusion.shape == (crowd.n_workers, crowd.n_labels,
                                                 crowd.n_labels)
        np.testing.assert_allclose(result.worker_confusion.sum(axis=2), 1.0)


@pytest.mark.parametrize("method", ALL_METHODS)
def test_deterministic(method, make_crowd):
    first = aggregate(method, *make_crowd(seed=3).arrays())
    second = aggregate(method, *make_crowd(seed=3).arrays())
    np.testing.assert_array_equal(first.posterior, second.posterior)
    np.testing.assert_array_equal(first.worker_reliability, second.worker_reliability)
    assert first.iterations == second.iterations


@pytest.mark.parametrize("method", ALL_METHODS)
def test_gold_tasks_are_clamped(method, crowd):
    known = np.full(crowd.n_tasks, -1)
    # Deliberately contradict the crowd on a few tasks: the known label must win.
    gold_rows = np.arange(0, crowd.n_tasks, 10)
    known[gold_rows] = (crowd.truth[gold_rows] + 1) % crowd.n_labels
    result = aggregate(method, *crowd.arrays(), known=known)
    np.testing.assert_array_equal(result.labels[gold_rows], known[gold_rows])
    np.testing.assert_allclose(result.confidence[gold_rows], 1.0)


@pytest.mark.parametrize("method", ["gold_weighted"] + MODEL_BASED)
def test_gold_identifies_workers_when_the_majority_is_wrong(method, make_crowd):
    """With mostly adversarial-looking spam, gold answers must tell good workers apart."""
    crowd = make_crowd(seed=5, n_good=6, n_spammers=18, answers_per_task=9,
                       good_accuracy=0.9)
    known = np.full(crowd.n_tasks, -1)
    gold_rows = np.arange(0, crowd.n_tasks, 5)
    known[gold_rows] = crowd.truth[gold_rows]
    result = aggregate(method, *crowd.arrays(), known=known)
    reliability = result.worker_reliability
    assert reliability[crowd.good_workers].min() > reliability[crowd.spammers].max()
    unknown = known < 0
    assert (result.labels[unknown] == crowd.truth[unknown]).mean() > 0.8


def test_gold_weighted_uses_gold_accuracy_formula():
    # Worker 0 is right on 1 of 2 gold tasks, worker 1 answered no gold task.
    tasks = np.array([0, 1, 2, 2])
    workers = np.array([0, 0, 1, 0])
    labels = np.array([1, 0, 1, 1])
    known = np.array([1, 1, -1])
    result = aggregate("gold_weighted", tasks, workers, labels, 3, 2, 2, known=known)
    # Worker 0: (1 + 0.5) / (2 + 1); worker 1 agrees with the majority on task 2: (1+0.5)/(1+1).
    np.testing.assert_allclose(result.worker_reliability, [0.5, 0.75])


@pytest.mark.parametrize("method", ALL_METHODS)
def test_warm_start_round_trip(method, crowd):
    cold = aggregate(method, *crowd.arrays())
    warm = aggregate(method, *crowd.arrays(), warm_start=cold.params)
    assert accuracy(warm, crowd.truth) >= accuracy(cold, crowd.truth) - 0.01
    assert warm.iterations <= max(cold.iterations, 1)
    # Parameters stored as JSON come back as lists, and a stale shape must not crash.
    as_lists = {key: np.asarray(value).tolist() for key, value in cold.params.items()}
    aggregate(method, *crowd.arrays(), warm_start=as_lists)
    aggregate(method, *crowd.arrays(), warm_start={"confusion": [[1.0]], "class_prior": [1.0]})


def test_unknown_method_and_option_are_rejected(crowd):
    with pytest.raises(ValueError, match="unknown method"):
        aggregate("nope", *crowd.arrays())
    with pytest.raises(ValueError, match="does not take"):
        aggregate("mv", *crowd.arrays(), n_iter=3)


@pytest.mark.parametrize("method", ALL_METHODS)
def test_order_of_the_answers_changes_nothing(method, crowd):
    """The aggregator reads answers shard by shard in no particular order: same input, same
    output, whatever the order (the EM methods sort the answers by task themselves)."""
    in_order = aggregate(method, *crowd.arrays())
    shuffle = np.random.default_rng(7).permutation(crowd.tasks.size)
    shuffled = aggregate(method, crowd.tasks[shuffle], crowd.workers[shuffle],
                         crowd.labels[shuffle], crowd.n_tasks, crowd.n_workers, crowd.n_labels)
    np.testing.assert_array_equal(shuffled.labels, in_order.labels)
    np.testing.assert_allclose(shuffled.posterior, in_order.posterior, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(shuffled.worker_reliability, in_order.worker_reliability,
                               rtol=1e-9)


def shifted_crowd(seed: int = 1, n_tasks: int = 400, n_workers: int = 30, n_labels: int = 3):
    """60 % of the workers answer label + 1 (mod 3) for every truth: a consistent majority bias.

    Every worker is right (before the shift) 80 % of the time and spreads errors uniformly."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, n_labels, n_tasks)
    tasks = np.repeat(np.arange(n_tasks), 7)
    workers = np.concatenate([rng.choice(n_workers, 7, replace=False) for _ in range(n_tasks)])
    correct = rng.random(tasks.size) < 0.8
    answer = np.where(correct, truth[tasks],
                      (truth[tasks] + rng.integers(1, n_labels, tasks.size)) % n_labels)
    shifted = workers < int(0.6 * n_workers)
    labels = np.where(shifted, (answer + 1) % n_labels, answer)
    known = np.full(n_tasks, -1)
    gold_rows = rng.choice(n_tasks, n_tasks // 10, replace=False)
    known[gold_rows] = truth[gold_rows]
    return (tasks, workers, labels, n_tasks, n_workers, n_labels), truth, known


@pytest.mark.parametrize("method", ["ds", "ibcc"])
def test_ten_percent_gold_undoes_a_systematic_majority_bias(method):
    """Full confusion matrices anchored by gold learn that most workers shift every label by
    one and read their answers back; without gold the shifted majority wins everywhere."""
    arrays, truth, known = shifted_crowd()
    hidden = known < 0
    without_gold = aggregate(method, *arrays)
    with_gold = aggregate(method, *arrays, known=known)
    assert (without_gold.labels[hidden] == truth[hidden]).mean() < 0.2
    assert (with_gold.labels[hidden] == truth[hidden]).mean() > 0.9
    # The shifted workers' learned confusion puts its mass one label to the right.
    shifted_worker = with_gold.worker_confusion[0]
    np.testing.assert_array_equal(shifted_worker.argmax(axis=1), [1, 2, 0])
