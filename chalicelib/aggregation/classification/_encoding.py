"""Turn string ids into the index arrays :func:`aggregate` expects, and back."""
from __future__ import annotations

from typing import Iterable, NamedTuple, Sequence

import numpy as np


class EncodedAnswers(NamedTuple):
    tasks: np.ndarray  # int64 index into task_ids, one per answer
    workers: np.ndarray  # int64 index into worker_ids
    labels: np.ndarray  # int64 index into label_values
    task_ids: list  # distinct task ids in order of first appearance
    worker_ids: list  # distinct worker ids in order of first appearance
    label_values: list  # label_order if given, else sorted (numerically if all integers)


def first_appearance_codes(values: Sequence) -> tuple[np.ndarray, list]:
    """(index of each value among the distinct ones, distinct values in order of appearance)."""
    # dict.fromkeys keeps first appearances in order; the lookups run in C (no Python loop).
    positions = {value: i for i, value in enumerate(dict.fromkeys(values))}
    indices = np.fromiter(map(positions.__getitem__, values), dtype=np.int64, count=len(values))
    return indices, list(positions)


def _label_sort_key(values: Iterable) -> list:
    values = list(values)
    try:
        return sorted(values, key=lambda v: int(v))
    except (TypeError, ValueError):
        return sorted(values, key=str)


def encode(worker_ids: Sequence, task_ids: Sequence, label_values: Sequence,
           label_order: Sequence | None = None) -> EncodedAnswers:
    """Map parallel per-answer sequences of ids (any hashable, e.g. strings) to indices.

    Labels are ordered by ``label_order`` when given (a value outside it raises ValueError,
    and labels nobody chose still get an index); otherwise the distinct labels are sorted,
    numerically when they all parse as integers, so the order (and hence tie-breaking towards
    the lowest index) does not depend on the row order.
    """
    if not len(worker_ids) == len(task_ids) == len(label_values):
        raise ValueError("worker_ids, task_ids and label_values must have the same length")
    return encode_codes(*first_appearance_codes(worker_ids), *first_appearance_codes(task_ids),
                        *first_appearance_codes(label_values), label_order)


def encode_codes(workers: np.ndarray, worker_ids: list, tasks: np.ndarray, task_ids: list,
                 label_codes: np.ndarray, distinct_labels: list,
                 label_order: Sequence | None = None) -> EncodedAnswers:
    """:func:`encode` from columns already coded by first appearance (index array + distinct
    values), as the command line's bulk CSV reader gives them; orders the labels likewise."""
    order = list(label_order) if label_order is not None else _label_sort_key(distinct_labels)
    label_index = {value: i for i, value in enumerate(order)}
    if len(label_index) != len(order):
        raise ValueError("label_order contains duplicates")
    try:
        recode = np.fromiter(map(label_index.__getitem__, distinct_labels), dtype=np.int64,
                             count=len(distinct_labels))
    except KeyError as missing:
        raise ValueError(f"label {missing.args[0]!r} is not in label_order") from None
    return EncodedAnswers(tasks, workers, recode[label_codes], task_ids, worker_ids, order)


def encode_known(encoded: EncodedAnswers, known_task_ids: Sequence,
                 known_label_values: Sequence) -> np.ndarray:
    """The ``known`` array (label index or -1 per task) for gold labels given by id.

    Gold for tasks without answers is ignored; a gold label outside the label set raises.
    """
    task_index = {task: i for i, task in enumerate(encoded.task_ids)}
    label_index = {value: i for i, value in enumerate(encoded.label_values)}
    known = np.full(len(encoded.task_ids), -1, dtype=np.int64)
    for task, value in zip(known_task_ids, known_label_values):
        if task not in task_index:
            continue
        if value not in label_index:
            raise ValueError(f"gold label {value!r} of task {task!r} is not a known label")
        known[task_index[task]] = label_index[value]
    return known
