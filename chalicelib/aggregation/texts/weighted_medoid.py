"""Reliability-weighted medoid ("weighted_medoid"): pick the answer closest to the others.

Braylan & Lease, "Modeling and Aggregation of Complex Annotations via Annotation Distances",
WWW 2020 (the "smoothed/weighted medoid" selection with worker reliabilities estimated from
annotation distances). Model: a worker of reliability ``r_w`` writes an answer whose
word-level distance to the truth is small when ``r_w`` is high; two answers that are both
close to the truth are close to each other. Each task's result is the answer with the largest
reliability-weighted similarity support

    support(i) = r_(i) + sum_(j != i) r_(j) (1 - d(i, j))

(``d`` = word edit distance over the longer length; the answer's own worker counts with
similarity 1, so a trusted worker's answer wins a close call). A worker's reliability is
their answers' mean reliability-weighted similarity to the other answers of the same tasks
(on gold tasks: to the gold text), shrunk towards the crowd mean by ``prior_answers``
pseudo-answers; selection and reliabilities are iterated ``n_iter`` times (a fixed point
reached in a few rounds). Agreement per task = mean similarity of its answers to the result.
"""
from __future__ import annotations

import numpy as np

from .._kinds import KindAnswer, KindResult, TaskOutcome
from ._words import Texts, agreement, normalized_distance_matrix, texts_from

SUMMARY = "reliability-weighted medoid over word edit distance (Braylan & Lease 2020)"


def select(texts: Texts, n_iter: int, prior_answers: float = 2.0):
    """(index of the chosen answer per task or -1, worker reliabilities, distance matrices)."""
    matrices = [normalized_distance_matrix([texts.tokens[k] for k in members])
                for members in texts.by_task]
    gold_distance = {}
    for i, task in enumerate(texts.task_ids):
        if task in texts.known and texts.by_task[i].size:
            gold_tokens = texts.ids(texts.known[task])
            members = texts.by_task[i]
            gold_distance[i] = 1.0 - agreement_per_answer(texts, members, gold_tokens)
    n_workers = len(texts.worker_ids)
    reliability = np.ones(n_workers)
    chosen = np.full(len(texts.task_ids), -1, dtype=np.int64)
    for _ in range(max(int(n_iter), 1)):
        similarity_sum = np.zeros(n_workers)
        answered = np.zeros(n_workers)
        for i, members in enumerate(texts.by_task):
            if not members.size:
                continue
            weight = reliability[texts.worker[members]]
            similarity = 1.0 - matrices[i]
            support = similarity @ weight  # self-similarity 1 carries the own weight
            chosen[i] = members[int(np.argmax(support))]
            if i in gold_distance:
                agree = 1.0 - gold_distance[i]
            elif members.size > 1:
                others = weight.sum() - weight
                agree = (support - weight) / np.maximum(others, 1e-12)
            else:
                continue  # a lone answer says nothing about its worker
            np.add.at(similarity_sum, texts.worker[members], agree)
            np.add.at(answered, texts.worker[members], 1.0)
        crowd = similarity_sum.sum() / answered.sum() if answered.sum() else 1.0
        reliability = (similarity_sum + prior_answers * crowd) / (answered + prior_answers)
    return chosen, np.clip(reliability, 0.0, 1.0)


def agreement_per_answer(texts: Texts, members: np.ndarray, result_tokens: np.ndarray
                         ) -> np.ndarray:
    from ._words import edit_distances

    distance = edit_distances([texts.tokens[k] for k in members], [result_tokens] * members.size)
    longer = np.maximum([texts.tokens[k].size for k in members], result_tokens.size)
    return 1.0 - np.where(longer > 0, distance / np.maximum(longer, 1), 0.0)


def result_from_choice(texts: Texts, method: str, chosen: np.ndarray, reliability: np.ndarray
                       ) -> KindResult:
    tasks = {}
    for i, task in enumerate(texts.task_ids):
        if task in texts.known:
            tasks[task] = TaskOutcome(texts.known[task], 1.0, {"agreement": agreement(
                texts, texts.by_task[i], texts.ids(texts.known[task]))})
            continue
        best = chosen[i]
        share = agreement(texts, texts.by_task[i], texts.tokens[best])
        tasks[task] = TaskOutcome(texts.text[best], share, {"agreement": share})
    workers = {w: float(r) for w, r in zip(texts.worker_ids, reliability)}
    return KindResult(method, tasks, workers, None, {})


def fit(answers: list[KindAnswer], config: dict, known: dict, warm_start: dict | None,
        n_iter: int = 5) -> KindResult:
    texts = texts_from(answers, config, known)
    chosen, reliability = select(texts, n_iter)
    return result_from_choice(texts, "weighted_medoid", chosen, reliability)
