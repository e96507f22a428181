"""Degenerate inputs every method must survive with sensible output."""
from __future__ import annotations

import numpy as np
import pytest

from chalicelib.aggregation import METHODS, aggregate

ALL_METHODS = sorted(METHODS)


def as_arrays(*columns):
    return [np.asarray(c, dtype=np.int64) for c in columns]


@pytest.mark.parametrize("method", ALL_METHODS)
def test_no_answers_gives_uniform_or_prior(method):
    empty = np.zeros(0, dtype=np.int64)
    result = aggregate(method, empty, empty, empty, 3, 2, 4)
    np.testing.assert_allclose(result.posterior, 0.25)
    np.testing.assert_array_equal(result.labels, [0, 0, 0])
    assert result.worker_reliability.shape == (2,)
    assert np.isfinite(result.worker_reliability).all()


@pytest.mark.parametrize("method", ALL_METHODS)
def test_no_tasks_at_all(method):
    empty = np.zeros(0, dtype=np.int64)
    result = aggregate(method, empty, empty, empty, 0, 0, 2)
    assert result.posterior.shape == (0, 2)
    assert result.labels.shape == (0,)
    assert result.confidence.shape == (0,)


@pytest.mark.parametrize("method", ALL_METHODS)
def test_empty_project_without_labels(method):
    empty = np.zeros(0, dtype=np.int64)
    result = aggregate(method, empty, empty, empty, 0, 1, 0)
    assert result.posterior.shape == (0, 0)
    assert result.worker_reliability.shape == (1,)
    with pytest.raises(ValueError):
        aggregate(method, empty, empty, empty, 2, 1, 0)  # tasks but no possible label


@pytest.mark.parametrize("method", ALL_METHODS)
def test_task_without_answers_among_answered_tasks(method):
    # Task 2 has no answers; label 1 dominates the crowd, so the prior leans to label 1.
    tasks, workers, labels = as_arrays([0, 0, 1, 1], [0, 1, 0, 1], [1, 1, 1, 1])
    result = aggregate(method, tasks, workers, labels, 3, 2, 2)
    np.testing.assert_allclose(result.posterior.sum(axis=1), 1.0)
    assert result.labels[0] == result.labels[1] == 1
    assert result.posterior[2, 1] >= 0.5


@pytest.mark.parametrize("method", ALL_METHODS)
def test_single_answer_tasks_and_workers(method):
    tasks, workers, labels = as_arrays([0, 1, 2], [0, 1, 2], [2, 0, 1])
    result = aggregate(method, tasks, workers, labels, 3, 3, 3)
    np.testing.assert_array_equal(result.labels, [2, 0, 1])
    assert np.isfinite(result.posterior).all()
    assert np.isfinite(result.worker_reliability).all()


@pytest.mark.parametrize("method", ALL_METHODS)
def test_label_nobody_chose(method):
    tasks, workers, labels = as_arrays([0, 0, 1, 1], [0, 1, 0, 1], [0, 2, 2, 2])
    result = aggregate(method, tasks, workers, labels, 2, 2, 3)
    assert result.labels[1] == 2
    assert (result.labels != 1).all()
    assert np.isfinite(result.posterior).all()


@pytest.mark.parametrize("method", ALL_METHODS)
def test_single_label(method):
    tasks, workers, labels = as_arrays([0, 1, 1], [0, 0, 1], [0, 0, 0])
    result = aggregate(method, tasks, workers, labels, 2, 2, 1)
    np.testing.assert_allclose(result.posterior, 1.0)
    np.testing.assert_array_equal(result.labels, [0, 0])
    assert np.isfinite(result.worker_reliability).all()


@pytest.mark.parametrize("method", ALL_METHODS)
def test_duplicate_answers_count_as_one_vote(method):
    # Worker 0 submits label 1 three times on task 0; workers 1 and 2 say 0 once each.
    tasks, workers, labels = as_arrays([0, 0, 0, 0, 0], [0, 0, 0, 1, 2], [1, 1, 1, 0, 0])
    result = aggregate(method, tasks, workers, labels, 1, 3, 2)
    assert result.labels[0] == 0


def test_majority_vote_tie_goes_to_lowest_label():
    tasks, workers, labels = as_arrays([0, 0, 1, 1], [0, 1, 0, 1], [2, 1, 0, 2])
    result = aggregate("mv", tasks, workers, labels, 2, 2, 3)
    np.testing.assert_array_equal(result.labels, [1, 0])
    np.testing.assert_allclose(result.confidence, 0.5)


@pytest.mark.parametrize("bad", [
    dict(tasks=[0, 3]),  # task index out of range
    dict(labels=[0, -1]),  # negative label
    dict(workers=[0]),  # length mismatch
    dict(labels=[0.0, 1.0]),  # floats are not indices
    dict(known=[0, 5, -1]),  # known label out of range
    dict(known=[0]),  # known of the wrong length
])
def test_malformed_input_is_rejected(bad):
    arguments = dict(tasks=[0, 1], workers=[0, 1], labels=[0, 1], known=None)
    arguments.update(bad)
    with pytest.raises(ValueError):
        aggregate("mv", np.asarray(arguments["tasks"]), np.asarray(arguments["workers"]),
                  np.asarray(arguments["labels"]), 3, 2, 2,
                  known=None if arguments["known"] is None else np.asarray(arguments["known"]))


def test_conflicting_duplicates_split_one_vote():
    # Worker 0 answers task 0 twice with different labels; worker 1 answers once.
    tasks, workers, labels = as_arrays([0, 0, 0, 1], [0, 0, 1, 1], [1, 2, 0, 1])
    result = aggregate("mv", tasks, workers, labels, 2, 2, 3)
    np.testing.assert_allclose(result.posterior[0], [0.5, 0.25, 0.25])
    np.testing.assert_array_equal(result.labels, [0, 1])


def test_digamma_matches_its_defining_identities():
    import numpy as np

    from chalicelib.aggregation.classification._common import digamma

    euler_gamma = 0.5772156649015329
    assert abs(digamma(1.0) + euler_gamma) < 1e-10
    assert abs(digamma(0.5) + euler_gamma + 2 * np.log(2)) < 1e-10
    x = np.array([1e-3, 0.2, 3.7, 40.0, 1e5])
    assert np.allclose(digamma(x + 1) - digamma(x), 1 / x, rtol=1e-10, atol=1e-10)
