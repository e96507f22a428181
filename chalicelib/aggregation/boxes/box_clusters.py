"""Reliability-weighted box clusters ("box_clusters").

Matching boxes across annotators and fusing each group, as in Braylan & Lease, "Modeling and
Aggregation of Complex Annotations via Annotation Distances" (WWW 2020, multi-object boxes)
and the weighted box fusion of Solovyev, Wang & Gabruseva, "Weighted boxes fusion", Image and
Vision Computing 107, 2021. Model: each image holds objects; a worker of reliability ``r_w``
draws a box around each object they find, near its true extent, and sometimes misses an
object or adds a spurious box. Per image, boxes are clustered so that a cluster holds at most
one box per worker and boxes of the same label only: each worker's boxes, most reliable
worker first, are matched one-to-one (greedily by IoU, at least the project's ``iou``,
default 0.5) to the clusters' current fused boxes, unmatched boxes open new clusters; the
assignment is then redone once against the final fused boxes. A cluster's box is the
reliability-weighted median of its members' coordinates; its confidence is the share of the
image's annotators' reliability that drew it, and it is kept when that share reaches
``keep_share`` (default 0.5: a weighted majority saw the object). ``max_boxes`` keeps the
most confident. Worker reliability is the F1 of the worker's boxes against the result at the
IoU threshold (on gold images: against gold), shrunk towards the crowd mean with
``prior_images`` pseudo-images; reliabilities and clusters are iterated ``n_iter`` times.
"""
from __future__ import annotations

import numpy as np

from .._kinds import KindAnswer, KindResult, TaskOutcome
from ._boxes import Annotation, Images, boxes_value, f1_against, greedy_matches, images_from
from ._boxes import iou_matrix, same_label

SUMMARY = "IoU clusters with at most one box per worker, reliability-weighted median box, kept on weighted majority"


def weighted_median(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Column-wise weighted median of (n, d) values."""
    out = np.empty(values.shape[1])
    for column in range(values.shape[1]):
        order = np.argsort(values[:, column])
        cumulative = np.cumsum(weights[order])
        out[column] = values[order, column][np.searchsorted(cumulative, 0.5 * cumulative[-1])]
    return out


def cluster_image(annotations: list[Annotation], reliability: np.ndarray, threshold: float):
    """[(fused box, label, members as (annotation index, box index))] for one image."""
    order = sorted(range(len(annotations)), key=lambda k: -reliability[annotations[k].worker])
    centres = np.zeros((0, 4))
    labels: list = []
    members: list[list[tuple[int, int]]] = []

    def assign(refine: bool):
        nonlocal centres, labels, members
        if refine:  # keep the fused boxes, redo every membership against them
            members = [[] for _ in labels]
        for k in order:
            annotation = annotations[k]
            if not len(annotation.boxes):
                continue
            iou = iou_matrix(annotation.boxes, centres) * same_label(annotation.labels, labels)
            matched = set()
            for i, j in greedy_matches(iou, threshold):
                members[j].append((k, i))
                matched.add(i)
            for i in range(len(annotation.boxes)):
                if i not in matched:
                    centres = np.vstack([centres, annotation.boxes[i]])
                    labels.append(annotation.labels[i])
                    members.append([(k, i)])
            if not refine:
                centres = fuse_all(annotations, members, reliability, centres)

    assign(refine=False)
    assign(refine=True)
    keep = [j for j, m in enumerate(members) if m]
    members = [members[j] for j in keep]
    labels = [labels[j] for j in keep]
    centres = fuse_all(annotations, members, reliability, np.zeros((len(members), 4)))
    return centres, labels, members


def fuse_all(annotations, members, reliability, centres):
    fused = np.array(centres, dtype=float).reshape(-1, 4).copy()
    if len(fused) < len(members):
        fused = np.vstack([fused, np.zeros((len(members) - len(fused), 4))])
    for j, group in enumerate(members):
        if group:
            boxes = np.array([annotations[k].boxes[i] for k, i in group])
            weights = np.array([reliability[annotations[k].worker] for k, _ in group])
            fused[j] = weighted_median(boxes, np.maximum(weights, 1e-6))
    return fused


def aggregate_images(images: Images, reliability: np.ndarray, threshold: float,
                     keep_share: float, max_boxes: int | None):
    """Per task: (boxes, labels, confidences)."""
    results = []
    for t, annotations in enumerate(images.annotations):
        if t in images.known:
            boxes, labels = images.known[t]
            results.append((boxes, labels, [1.0] * len(boxes)))
            continue
        centres, labels, members = cluster_image(annotations, reliability, threshold)
        total = sum(reliability[a.worker] for a in annotations) or 1.0
        support = np.array([sum(reliability[annotations[k].worker] for k, _ in group) / total
                            for group in members])
        kept = np.flatnonzero(support >= keep_share - 1e-12) if len(members) else np.zeros(0, int)
        kept = kept[np.argsort(-support[kept], kind="stable")]
        if max_boxes is not None:
            kept = kept[: int(max_boxes)]
        results.append((centres[kept], [labels[j] for j in kept], support[kept].tolist()))
    return results


def worker_f1(images: Images, results, threshold: float, prior_images: float) -> np.ndarray:
    n_workers = len(images.worker_ids)
    total, count = np.zeros(n_workers), np.zeros(n_workers)
    for t, annotations in enumerate(images.annotations):
        boxes, labels, _ = results[t]
        for annotation in annotations:
            total[annotation.worker] += f1_against(annotation.boxes, annotation.labels, boxes,
                                                   labels, threshold)
            count[annotation.worker] += 1
    crowd = total.sum() / count.sum() if count.sum() else 1.0
    return (total + prior_images * crowd) / (count + prior_images)


def task_outcomes(images: Images, results) -> dict:
    tasks = {}
    for t, task in enumerate(images.task_ids):
        boxes, labels, confidences = results[t]
        confidence = float(np.mean(confidences)) if confidences else 1.0
        tasks[task] = TaskOutcome(boxes_value(boxes, labels), confidence,
                                  {"box_confidences": [float(c) for c in confidences]})
    return tasks


def fit(answers: list[KindAnswer], config: dict, known: dict, warm_start: dict | None,
        n_iter: int = 3, keep_share: float = 0.5, prior_images: float = 2.0) -> KindResult:
    images = images_from(answers, config, known)
    threshold = float(config.get("iou", 0.5))
    max_boxes = config.get("max_boxes")
    reliability = np.ones(len(images.worker_ids))
    results = []
    for _ in range(max(int(n_iter), 1)):
        results = aggregate_images(images, reliability, threshold, keep_share, max_boxes)
        reliability = worker_f1(images, results, threshold, prior_images)
    workers = {w: float(np.clip(r, 0, 1)) for w, r in zip(images.worker_ids, reliability)}
    return KindResult("box_clusters", task_outcomes(images, results), workers, None, {})
