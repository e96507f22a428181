"""Synthetic crowds for the scaling benchmark: 20 answers per worker, 10 per task, 5 labels."""
from __future__ import annotations

import numpy as np


def make_synthetic(n_answers: int, n_labels: int = 5, answers_per_worker: int = 20,
                   answers_per_task: int = 10, seed: int = 0):
    """(tasks, workers, labels, truth, n_tasks, n_workers, n_labels) with mixed-skill workers.

    Worker accuracy is drawn from Beta(4, 2) (mean 0.67); a quarter of the workers are
    spammers who answer uniformly. Errors of non-spammers prefer the next label (a bias that
    a full confusion matrix can learn).
    """
    rng = np.random.default_rng(seed)
    n_tasks = n_answers // answers_per_task
    n_workers = n_answers // answers_per_worker
    tasks = np.repeat(np.arange(n_tasks), answers_per_task)
    workers = rng.permutation(np.repeat(np.arange(n_workers), answers_per_worker))
    # Random assignment makes a few accidental resubmissions (a worker twice on one task);
    # real platforms never do that, so swap those answers' workers with random other answers
    # (keeps exactly answers_per_worker per worker) until there are none.
    while True:
        _, first = np.unique(tasks * n_workers + workers, return_index=True)
        repeated = np.setdiff1d(np.arange(n_answers), first)
        if repeated.size == 0:
            break
        for answer, partner in zip(repeated, rng.integers(0, n_answers, repeated.size)):
            workers[answer], workers[partner] = workers[partner], workers[answer]
    truth = rng.integers(0, n_labels, n_tasks)
    accuracy = rng.beta(4, 2, n_workers)
    spammer = rng.random(n_workers) < 0.25
    correct = rng.random(n_answers) < accuracy[workers]
    biased_error = np.where(rng.random(n_answers) < 0.5, 1, rng.integers(1, n_labels, n_answers))
    labels = np.where(correct, truth[tasks], (truth[tasks] + biased_error) % n_labels)
    labels = np.where(spammer[workers], rng.integers(0, n_labels, n_answers), labels)
    return (tasks.astype(np.int64), workers.astype(np.int64), labels.astype(np.int64), truth,
            n_tasks, n_workers, n_labels)
