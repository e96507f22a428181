"""Validated crowd answers: the input every method works on.

:func:`prepare_answers` checks the index arrays and sorts the answers by task once. The
confusion-matrix EM methods (see ``_common``) then do each step as a handful of whole-array
numpy calls over that order: the E-step gathers, for every answer, the log confusion column of
its (worker, given label) with one ``np.take`` and sums them per task with ``np.add.reduceat``
(a task's answers are contiguous); the M-step copies every task's posterior once per answer
(sequential reads) and adds them per (worker, given label) with ``np.bincount``. No per-answer
Python, two reused buffers of ``n_labels`` floats per answer, and one sort per run.

Duplicate answers (same worker, same task) are down-weighted to ``1 / count`` each, so a worker's
total say on a task is one vote whatever the number of resubmissions; conflicting duplicates
split that vote between the labels given.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

UNKNOWN = -1  # value in ``known`` for a task whose true label is not known


@dataclass
class AggregationResult:
    """What every method returns; see the package docstring for the meaning of each field."""

    posterior: np.ndarray  # float (n_tasks, n_labels), rows sum to 1
    labels: np.ndarray  # int64 (n_tasks,) argmax, ties to the lowest label index
    confidence: np.ndarray  # float (n_tasks,) posterior of the chosen label
    worker_reliability: np.ndarray  # float (n_workers,) P(answer is correct)
    worker_confusion: np.ndarray | None  # float (n_workers, n_labels, n_labels) or None
    iterations: int
    log_likelihood: float | None
    method: str
    params: dict  # pass back as ``warm_start`` on the next run (may be empty)


@dataclass(frozen=True)
class TaskOrder:
    """The answers sorted by task: what the E- and M-steps of the EM methods iterate over."""

    n_worker_labels: int  # n_workers * n_labels
    task: np.ndarray  # intp (n_answers,): the task of each answer, ascending
    worker_label: np.ndarray  # intp (n_answers,): worker * n_labels + given label, same order
    weights: np.ndarray | None  # float (n_answers,) in the same order; None when all are 1
    answers_per_task: np.ndarray  # intp (n_tasks,)
    segment_starts: np.ndarray  # intp: where each answered task's answers begin
    answered_tasks: np.ndarray | None  # intp: tasks with answers, in order; None = all tasks
    _buffers: dict = field(default_factory=dict, repr=False, compare=False)

    @cached_property
    def answers_per_worker_label(self) -> np.ndarray:
        """float (n_workers * n_labels,): (weighted) answers of each worker with each label."""
        return np.bincount(self.worker_label, weights=self.weights,
                           minlength=self.n_worker_labels)

    def buffer(self, name: str, rows: int, dtype) -> np.ndarray:
        """A reusable (rows, n_answers) scratch array. EM fills a few of these on every step;
        allocating them afresh costs more than the work at a million answers (arrays that
        large come from mmap, and every page of a new one faults on first touch)."""
        array = self._buffers.get(name)
        if array is None:
            array = self._buffers[name] = np.empty((rows, self.task.size), dtype=dtype)
        return array


@dataclass(frozen=True)
class Answers:
    """Validated crowd answers. ``weights`` makes each (worker, task) pair count as one vote."""

    tasks: np.ndarray
    workers: np.ndarray
    labels: np.ndarray
    weights: np.ndarray
    n_tasks: int
    n_workers: int
    n_labels: int
    known: np.ndarray  # int64 (n_tasks,), UNKNOWN where the truth is not known
    by_task: TaskOrder

    @property
    def n_answers(self) -> int:
        return int(self.tasks.size)

    @cached_property
    def answered(self) -> np.ndarray:
        """Boolean (n_tasks,): the task received at least one answer."""
        return self.by_task.answers_per_task > 0

    @cached_property
    def known_mask(self) -> np.ndarray:
        return self.known != UNKNOWN

    @cached_property
    def informative_rows(self) -> np.ndarray | None:
        """Tasks that tell us something about the class prior (answered or gold); None = all."""
        informative = self.answered | self.known_mask
        return None if informative.all() else np.flatnonzero(informative)


def _as_index_array(values, name: str, upper: int) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"{name} must hold integer indices, got dtype {array.dtype}")
    array = array.astype(np.int64, copy=False)
    if array.size and (array.min() < 0 or array.max() >= upper):
        raise ValueError(f"{name} must lie in 0..{upper - 1}")
    return array


def _task_worker_order(tasks: np.ndarray, workers: np.ndarray, n_workers: int
                       ) -> tuple[np.ndarray, np.ndarray]:
    """(permutation sorting the answers by (task, worker), the sorted pair keys)."""
    keys = tasks * max(n_workers, 1) + workers
    # Answers usually arrive grouped by task; timsort ("stable") is then close to linear,
    # several times faster than quicksort. On shuffled input quicksort is the faster one.
    grouped = tasks.size < 2 or bool((tasks[1:] >= tasks[:-1]).all())
    order = np.argsort(keys, kind="stable" if grouped else "quicksort")
    return order, keys[order]


def _duplicate_weights(sorted_keys: np.ndarray) -> np.ndarray | None:
    """1 / (answers the same worker gave on the same task), per sorted answer; None if none."""
    repeated = sorted_keys[1:] == sorted_keys[:-1]
    if not repeated.any():  # the common case: one answer per (worker, task)
        return None
    run_starts = np.flatnonzero(np.concatenate(([True], ~repeated)))
    run_lengths = np.diff(np.append(run_starts, sorted_keys.size))
    return np.repeat(1.0 / run_lengths, run_lengths)


def prepare_answers(tasks, workers, labels, n_tasks, n_workers, n_labels, known=None) -> Answers:
    """Validate the raw arrays and bundle them (raises ValueError on malformed input)."""
    n_tasks, n_workers, n_labels = int(n_tasks), int(n_workers), int(n_labels)
    if min(n_tasks, n_workers, n_labels) < 0:
        raise ValueError("n_tasks, n_workers and n_labels must be non-negative")
    tasks = _as_index_array(tasks, "tasks", n_tasks)
    workers = _as_index_array(workers, "workers", n_workers)
    labels = _as_index_array(labels, "labels", n_labels)
    if not tasks.size == workers.size == labels.size:
        raise ValueError("tasks, workers and labels must have the same length")
    if known is None:
        known = np.full(n_tasks, UNKNOWN, dtype=np.int64)
    else:
        known = np.asarray(known).astype(np.int64, copy=True)
        if known.shape != (n_tasks,):
            raise ValueError("known must have length n_tasks")
        if known.size and (known.min() < UNKNOWN or known.max() >= n_labels):
            raise ValueError(f"known must hold -1 or a label index in 0..{n_labels - 1}")
    order, sorted_keys = _task_worker_order(tasks, workers, n_workers)
    sorted_weights = _duplicate_weights(sorted_keys)
    weights = np.ones(tasks.size)
    if sorted_weights is not None:
        weights[order] = sorted_weights
    answers_per_task = np.bincount(tasks, minlength=n_tasks)
    answered = answers_per_task > 0
    all_answered = bool(answered.all())
    segment_starts = np.cumsum(answers_per_task) - answers_per_task
    by_task = TaskOrder(
        n_worker_labels=n_workers * n_labels,
        task=tasks[order],
        worker_label=(workers * n_labels + labels)[order],
        weights=sorted_weights,
        answers_per_task=answers_per_task,
        segment_starts=segment_starts if all_answered else segment_starts[answered],
        answered_tasks=None if all_answered else np.flatnonzero(answered),
    )
    return Answers(tasks, workers, labels, weights, n_tasks, n_workers, n_labels, known, by_task)
