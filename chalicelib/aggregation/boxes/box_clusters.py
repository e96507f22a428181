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
reliability-weighted median of its members' coordinates. Whether a cluster is a real object
is decided by a two-class Dawid-Skene over all clusters of the project, the per-annotator
miss and false-box rates of Branson, Van Horn & Perona, "Lean Crowdsourcing", CVPR 2017:
worker ``w`` draws a real object with probability ``sens_w`` and joins a spurious cluster
with probability ``fp_w``, so a cluster drawn by few but careful workers can be kept and one
drawn only by box-happy workers dropped; its confidence is P(real). The image keeps its most
probable clusters, as many as give the best reliability-weighted mean F1 against the workers'
annotations (minimum Bayes risk, :func:`minimum_risk_cut`; or those with P(real) >=
``keep_probability`` when that is set), at most ``max_boxes``. Worker reliability is the F1 of the worker's boxes against the result at the
IoU threshold (on gold images: against gold), shrunk towards the crowd mean with
``prior_images`` pseudo-images; reliabilities and clusters are iterated ``n_iter`` times.
"""
from __future__ import annotations

import numpy as np

from .._kinds import KindAnswer, KindResult, TaskOutcome
from ._boxes import Annotation, Images, boxes_value, f1_against, greedy_matches, images_from
from ._boxes import iou_matrix, same_label

SUMMARY = "IoU clusters (one box per worker), reliability-weighted median box, minimum-Bayes-risk cut"


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


def existence_em(clusters: list, n_workers: int, n_iter: int = 50):
    """P(the object of each cluster is real), by two-class Dawid-Skene over clusters.

    ``clusters`` holds, per cluster, (workers who annotated the image, workers who drew a box
    in the cluster). Worker ``w`` draws a real object with probability ``sens_w`` (misses it
    otherwise) and joins a spurious cluster with probability ``fp_w``; Beta priors worth three
    images keep sparse workers near (0.67, 0.25). Returns (P(real) per cluster, sens, fp).
    """
    if not clusters:
        return np.zeros(0), np.full(n_workers, 2 / 3), np.full(n_workers, 0.25)
    present = np.zeros((len(clusters), n_workers))
    drew = np.zeros((len(clusters), n_workers))
    for c, (annotators, drawers) in enumerate(clusters):
        present[c, annotators] = 1.0
        drew[c, drawers] = 1.0
    p_real = drew.sum(axis=1) / np.maximum(present.sum(axis=1), 1.0)
    sens = np.full(n_workers, 2 / 3)
    fp = np.full(n_workers, 0.25)
    for _ in range(n_iter):
        sens = ((p_real[:, None] * drew).sum(axis=0) + 2.0) / (
            (p_real[:, None] * present).sum(axis=0) + 3.0)
        fp = (((1 - p_real)[:, None] * drew).sum(axis=0) + 0.75) / (
            ((1 - p_real)[:, None] * present).sum(axis=0) + 3.0)
        prior = float(np.clip(p_real.mean(), 1e-3, 1 - 1e-3))
        log_odds = (np.log(prior / (1 - prior))
                    + drew @ np.log(sens / fp)
                    + (present - drew) @ np.log((1 - sens) / (1 - fp)))
        updated = 1.0 / (1.0 + np.exp(-np.clip(log_odds, -50, 50)))
        if np.abs(updated - p_real).max() < 1e-6:
            p_real = updated
            break
        p_real = updated
    return p_real, sens, fp


def minimum_risk_cut(annotations: list[Annotation], reliability: np.ndarray, centres: np.ndarray,
                     labels: list, probability: np.ndarray, threshold: float,
                     max_boxes: int | None) -> np.ndarray:
    """How many of the most probable clusters to keep: minimum Bayes risk decoding (Kumar &
    Byrne, "Minimum Bayes-Risk Decoding for Statistical Machine Translation", NAACL 2004)
    with the workers' annotations, weighted by reliability, standing in for the posterior
    over the true boxes and F1 at the IoU threshold as the gain: the kept set is the one
    whose weighted mean F1 against the annotations is highest."""
    order = np.argsort(-probability, kind="stable")
    limit = len(order) if max_boxes is None else min(int(max_boxes), len(order))
    weights = np.array([reliability[a.worker] for a in annotations])
    if not len(order) or not weights.sum():
        return order[:0]
    # IoU of every annotation's boxes with the clusters in probability order, computed once.
    overlaps = [iou_matrix(a.boxes, centres[order]) * same_label(a.labels, [labels[j] for j in order])
                for a in annotations]
    best, best_gain = 0, -1.0
    for size in range(limit + 1):
        gain = 0.0
        for weight, annotation, iou in zip(weights, annotations, overlaps):
            total = len(annotation.boxes) + size
            matched = len(greedy_matches(iou[:, :size], threshold)) if size and len(iou) else 0
            gain += weight * (2 * matched / total if total else 1.0)
        gain /= weights.sum()
        if gain > best_gain + 1e-12:
            best, best_gain = size, gain
    return order[:best]


def aggregate_images(images: Images, reliability: np.ndarray, threshold: float,
                     keep_probability: float | None, max_boxes: int | None):
    """Per task: (boxes, labels, confidences)."""
    clustered, existence = {}, []
    for t, drawn in enumerate(images.annotations):
        if t in images.known:
            continue
        centres, labels, members = cluster_image(drawn, reliability, threshold)
        annotators = sorted({a.worker for a in drawn})
        clustered[t] = (centres, labels, len(existence))
        existence += [(annotators, sorted({drawn[k].worker for k, _ in group}))
                      for group in members]
    p_real, _, _ = existence_em(existence, len(images.worker_ids))
    results = []
    for t in range(len(images.task_ids)):
        if t in images.known:
            boxes, labels = images.known[t]
            results.append((boxes, labels, [1.0] * len(boxes)))
            continue
        centres, labels, first = clustered[t]
        probability = p_real[first:first + len(labels)]
        if keep_probability is not None:
            kept = np.flatnonzero(probability >= keep_probability)
        else:
            kept = minimum_risk_cut(images.annotations[t], reliability, centres, labels,
                                    probability, threshold, max_boxes)
        kept = kept[np.argsort(-probability[kept], kind="stable")]
        if max_boxes is not None:
            kept = kept[: int(max_boxes)]
        results.append((centres[kept], [labels[j] for j in kept], probability[kept].tolist()))
    return results


def worker_f1(images: Images, results, threshold: float, prior_images: float) -> np.ndarray:
    n_workers = len(images.worker_ids)
    total, count = np.zeros(n_workers), np.zeros(n_workers)
    for t, drawn in enumerate(images.annotations):
        boxes, labels, _ = results[t]
        for annotation in drawn:
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
        n_iter: int = 3, keep_probability: float | None = None, prior_images: float = 2.0
        ) -> KindResult:
    images = images_from(answers, config, known)
    threshold = float(config.get("iou", 0.5))
    max_boxes = config.get("max_boxes")
    reliability = np.ones(len(images.worker_ids))
    results = []
    for _ in range(max(int(n_iter), 1)):
        results = aggregate_images(images, reliability, threshold, keep_probability, max_boxes)
        reliability = worker_f1(images, results, threshold, prior_images)
    workers = {w: float(np.clip(r, 0, 1)) for w, r in zip(images.worker_ids, reliability)}
    return KindResult("box_clusters", task_outcomes(images, results), workers, None, {})
