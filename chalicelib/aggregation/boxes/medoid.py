"""Medoid annotation ("medoid"): the baseline of the ``boxes`` kind.

Per image, the worker annotation (all of one worker's boxes) with the highest mean F1 at the
IoU threshold against the image's other annotations (Braylan & Lease, WWW 2020, use such
selection as the baseline); every box gets that mean F1 as confidence. Worker reliability:
the F1 of the worker's boxes against the result, averaged over the worker's images.
"""
from __future__ import annotations

import numpy as np

from .._kinds import KindAnswer, KindResult
from ._boxes import f1_against, images_from
from .box_clusters import task_outcomes, worker_f1

SUMMARY = "medoid: the annotation with the best mean F1 against the others (baseline)"


def fit(answers: list[KindAnswer], config: dict, known: dict, warm_start: dict | None
        ) -> KindResult:
    images = images_from(answers, config, known)
    threshold = float(config.get("iou", 0.5))
    results = []
    for t, drawn in enumerate(images.annotations):
        if t in images.known:
            boxes, labels = images.known[t]
            results.append((boxes, labels, [1.0] * len(boxes)))
            continue
        if not drawn:
            results.append((np.zeros((0, 4)), [], []))
            continue
        scores = [np.mean([f1_against(a.boxes, a.labels, b.boxes, b.labels, threshold)
                           for b in drawn if b is not a]) if len(drawn) > 1 else 1.0
                  for a in drawn]
        best = drawn[int(np.argmax(scores))]
        results.append((best.boxes, best.labels, [float(max(scores))] * len(best.boxes)))
    reliability = worker_f1(images, results, threshold, prior_images=0.0)
    workers = {w: float(np.clip(r, 0, 1)) for w, r in zip(images.worker_ids, reliability)}
    return KindResult("medoid", task_outcomes(images, results), workers, None, {})
