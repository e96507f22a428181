"""Box answers as arrays, IoU and matching shared by the box methods."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._kinds import KindAnswer, index_ids, task_ids_with_gold

COORDINATES = ("x1", "y1", "x2", "y2")


@dataclass
class Annotation:
    """One worker's boxes on one image."""

    worker: int
    boxes: np.ndarray  # (n, 4) x1, y1, x2, y2
    labels: list  # str or None per box


def parse_boxes(value, where: str) -> tuple[np.ndarray, list]:
    if not isinstance(value, list):
        raise ValueError(f"{where}: {value!r} is not a list of boxes")
    rows, labels = [], []
    for box in value:
        if not isinstance(box, dict) or not set(COORDINATES) <= set(box):
            raise ValueError(f"{where}: {box!r} is not a box {{x1, y1, x2, y2}}")
        try:
            x1, y1, x2, y2 = (float(box[c]) for c in COORDINATES)
        except (TypeError, ValueError):
            raise ValueError(f"{where}: {box!r} has a coordinate that is not a number") from None
        if not all(math.isfinite(v) for v in (x1, y1, x2, y2)):
            raise ValueError(f"{where}: {box!r} has a coordinate that is not finite")
        rows.append((min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)))
        labels.append(box.get("label"))
    return np.array(rows, dtype=float).reshape(-1, 4), labels


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if not len(a) or not len(b):
        return np.zeros((len(a), len(b)))
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def same_label(labels_a: list, labels_b: list) -> np.ndarray:
    return np.array([[la == lb for lb in labels_b] for la in labels_a], dtype=bool).reshape(
        len(labels_a), len(labels_b))


def greedy_matches(iou: np.ndarray, threshold: float) -> list[tuple[int, int]]:
    """One-to-one pairs by decreasing IoU, each at least ``threshold``."""
    iou = iou.copy()
    pairs = []
    while iou.size and iou.max() >= threshold:
        i, j = np.unravel_index(int(iou.argmax()), iou.shape)
        pairs.append((int(i), int(j)))
        iou[i, :] = -1.0
        iou[:, j] = -1.0
    return pairs


def f1_against(boxes: np.ndarray, labels: list, reference: np.ndarray, reference_labels: list,
               threshold: float) -> float:
    if not len(boxes) and not len(reference):
        return 1.0
    iou = iou_matrix(boxes, reference) * same_label(labels, reference_labels)
    return 2 * len(greedy_matches(iou, threshold)) / (len(boxes) + len(reference))


@dataclass
class Images:
    task_ids: list
    worker_ids: list
    annotations: list[list[Annotation]]  # per task
    known: dict  # task index -> (boxes, labels)


def images_from(answers: list[KindAnswer], config: dict, known: dict) -> Images:
    task_ids = task_ids_with_gold([a.task for a in answers], known)
    task_index = {t: i for i, t in enumerate(task_ids)}
    worker, worker_ids = index_ids([a.worker for a in answers])
    annotations: list[list[Annotation]] = [[] for _ in task_ids]
    only_label = (config.get("labels") or [None])[0] if len(config.get("labels") or []) <= 1 else None
    for a, w in zip(answers, worker):
        boxes, labels = parse_boxes(a.value, f"answer of {a.worker} to {a.task}")
        labels = [only_label if label is None else label for label in labels]
        annotations[task_index[a.task]].append(Annotation(w, boxes, labels))
    gold = {}
    for task, value in known.items():
        boxes, labels = parse_boxes(value, f"gold of {task}")
        gold[task_index[task]] = (boxes, [only_label if label is None else label for label in labels])
    return Images(task_ids, worker_ids, annotations, gold)


def boxes_value(boxes: np.ndarray, labels: list) -> list[dict]:
    out = []
    for box, label in zip(boxes, labels):
        item = {c: float(v) for c, v in zip(COORDINATES, box)}
        if label is not None:
            item["label"] = label
        out.append(item)
    return out
