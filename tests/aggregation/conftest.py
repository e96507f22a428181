"""Synthetic crowds with known worker quality, shared by the aggregation tests."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest


@dataclass
class SyntheticCrowd:
    tasks: np.ndarray
    workers: np.ndarray
    labels: np.ndarray
    truth: np.ndarray
    n_tasks: int
    n_workers: int
    n_labels: int
    good_workers: np.ndarray  # indices of accurate workers
    spammers: np.ndarray  # indices of workers answering uniformly at random

    def arrays(self):
        return (self.tasks, self.workers, self.labels, self.n_tasks, self.n_workers,
                self.n_labels)


def make_crowd(seed: int = 0, n_tasks: int = 300, n_good: int = 12, n_spammers: int = 12,
               n_labels: int = 3, answers_per_task: int = 7,
               good_accuracy: float = 0.8) -> SyntheticCrowd:
    """Good workers are right with ``good_accuracy`` (errors uniform); spammers pick uniformly."""
    rng = np.random.default_rng(seed)
    n_workers = n_good + n_spammers
    truth = rng.integers(0, n_labels, n_tasks)
    tasks = np.repeat(np.arange(n_tasks), answers_per_task)
    workers = np.concatenate([rng.choice(n_workers, answers_per_task, replace=False)
                              for _ in range(n_tasks)])
    is_good = workers < n_good
    correct = is_good & (rng.random(tasks.size) < good_accuracy)
    wrong = (truth[tasks] + rng.integers(1, n_labels, tasks.size)) % n_labels
    labels = np.where(correct, truth[tasks], wrong)
    random_answer = rng.integers(0, n_labels, tasks.size)
    labels = np.where(is_good, labels, random_answer).astype(np.int64)
    return SyntheticCrowd(tasks.astype(np.int64), workers.astype(np.int64), labels, truth,
                          n_tasks, n_workers, n_labels, np.arange(n_good),
                          np.arange(n_good, n_workers))


@pytest.fixture(scope="session")
def crowd() -> SyntheticCrowd:
    return make_crowd()


@pytest.fixture(name="make_crowd", scope="session")
def make_crowd_fixture():
    """The generator itself, for tests that need a differently shaped crowd."""
    return make_crowd
