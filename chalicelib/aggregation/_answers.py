"""Validated crowd answers: the input every method works on.

:func:`prepare_answers` checks the index arrays and builds the sparse matrix
``A[task, worker * n_labels + given] = answer weight`` (:class:`AnswerMatrix`, plain numpy). The
EM methods do all their heavy work as sparse-times-dense products with it (see ``_common``): for every task and candidate truth
the sum of log confusion entries over the task's answers (E-step), and per (worker, given
label) the sum of task posteriors (M-step), so an EM step over a million answers costs a few
tens of milliseconds and no per-answer temporary larger than the input.

Duplicate answers (same worker, same task) are down-weighted to ``1 / count`` each, so a worker's
total say on a task is one vote whatever the number of resubmissions; conflicting duplicates
split that vote between the labels given.
"""
from __future__ import annotations

from dataclasses import dataclass
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


class AnswerMatrix:
    """A sparse matrix A[row, column] = weight, duplicate entries summed, with the one product
    EM needs, ``A @ dense``, and its transpose, in plain numpy (no scipy in the Lambda package).

    Entries are sorted by (row, column), as in CSR (``indptr``, ``indices``, ``data``). A
    product is one np.bincount per column of the dense operand over the entries: C loops, no
    per-entry Python, and no temporary larger than the entries.
    """

    def __init__(self, rows: np.ndarray, columns: np.ndarray, weights: np.ndarray, shape: tuple[int, int]):
        n_rows, n_columns = shape
        width = max(n_columns, 1)
        unique, inverse = np.unique(rows * width + columns, return_inverse=True)
        self.shape = (n_rows, n_columns)
        self.data = np.bincount(inverse, weights=weights, minlength=unique.size).astype(float)
        self.rows = unique // width
        self.indices = unique % width
        self.indptr = np.concatenate(([0], np.cumsum(np.bincount(self.rows, minlength=n_rows))))
        self._transpose: AnswerMatrix | None = None

    @property
    def nnz(self) -> int:
        return int(self.data.size)

    @property
    def T(self) -> "AnswerMatrix":
        if self._transpose is None:
            self._transpose = AnswerMatrix(self.indices, self.rows, self.data, self.shape[::-1])
            self._transpose._transpose = self
        return self._transpose

    def __matmul__(self, dense: np.ndarray) -> np.ndarray:
        columns = np.ascontiguousarray(dense.T)  # gathering from a contiguous column is faster
        out = np.empty((columns.shape[0], self.shape[0]))
        for j, column in enumerate(columns):
            out[j] = np.bincount(self.rows, weights=column.take(self.indices) * self.data,
                                 minlength=self.shape[0])
        return out.T


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
    # Sparse (n_tasks, n_workers * n_labels): A[t, w * n_labels + l] = weight of w answering l.
    task_by_worker_label: AnswerMatrix

    @property
    def n_answers(self) -> int:
        return int(self.tasks.size)

    @cached_property
    def worker_label_by_task(self) -> AnswerMatrix:
        """Transpose of :attr:`task_by_worker_label`, for the M-steps."""
        return self.task_by_worker_label.T

    @cached_property
    def answered(self) -> np.ndarray:
        """Boolean (n_tasks,): the task received at least one answer."""
        return np.diff(self.task_by_worker_label.indptr) > 0

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


def duplicate_weights(tasks: np.ndarray, workers: np.ndarray, n_workers: int) -> np.ndarray:
    """1 / (number of answers the same worker gave on the same task), per answer."""
    if tasks.size == 0:
        return np.ones(0)
    pair = tasks * max(n_workers, 1) + workers
    _, inverse, counts = np.unique(pair, return_inverse=True, return_counts=True)
    return 1.0 / counts[inverse]


def _answer_matrix(tasks, workers, labels, weights, n_tasks, n_workers, n_labels):
    return AnswerMatrix(tasks, workers * n_labels + labels, weights, (n_tasks, n_workers * n_labels))


def _has_repeated_worker(unit_matrix: AnswerMatrix, n_labels: int, n_answers: int) -> bool:
    """Did some worker answer some task twice? Checked on the matrix of unit weights.

    Cheaper than np.unique over (task, worker) pairs: identical answers were summed into one
    entry, and two different labels from one worker are neighbours in the task's sorted row.
    """
    if unit_matrix.nnz < n_answers:
        return True
    worker_of_entry = unit_matrix.indices // max(n_labels, 1)
    same_worker = worker_of_entry[1:] == worker_of_entry[:-1]
    row_starts = unit_matrix.indptr[1:-1]
    same_worker[row_starts[(row_starts > 0) & (row_starts < unit_matrix.nnz)] - 1] = False
    return bool(same_worker.any())


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
    sizes = n_tasks, n_workers, n_labels
    weights = np.ones(tasks.size)
    matrix = _answer_matrix(tasks, workers, labels, weights, *sizes)
    if _has_repeated_worker(matrix, n_labels, tasks.size):  # rare: resubmissions
        weights = duplicate_weights(tasks, workers, n_workers)
        matrix = _answer_matrix(tasks, workers, labels, weights, *sizes)
    return Answers(tasks, workers, labels, weights, *sizes, known, matrix)
