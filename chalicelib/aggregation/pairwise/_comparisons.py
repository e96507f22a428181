"""Pairwise answers as arrays, the ranking table and the choice of the next pairs."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._kinds import TIE, KindAnswer, KindResult, TaskOutcome, index_ids, task_ids_with_gold

Z95 = 1.959963984540054


@dataclass
class Comparisons:
    """One row per answer: ``first`` beat ``second`` (a tie counts half each way, see ``weight``)."""

    task_ids: list
    worker_ids: list
    item_ids: list
    task: np.ndarray
    worker: np.ndarray
    winner: np.ndarray  # item index of the winner (left for a tie)
    loser: np.ndarray
    tie: np.ndarray  # bool
    left: np.ndarray  # per task: item index
    right: np.ndarray
    known: dict  # task id -> winner item id or "tie"


def comparisons_from(answers: list[KindAnswer], config: dict, known: dict) -> Comparisons:
    pairs: dict = {}
    rows = []
    for a in answers:
        value = a.value
        if not isinstance(value, dict) or not {"left", "right", "winner"} <= set(value):
            raise ValueError(f"answer of {a.worker} to {a.task}: {value!r} is not "
                             '{"left", "right", "winner"}')
        left, right, winner = str(value["left"]), str(value["right"]), str(value["winner"])
        if winner not in (left, right, TIE):
            raise ValueError(f"answer of {a.worker} to {a.task}: winner {winner!r} is neither "
                             f"{left!r}, {right!r} nor {TIE!r}")
        pairs.setdefault(a.task, (left, right))
        rows.append((a.worker, a.task, left, right, winner))
    task_ids = task_ids_with_gold([r[1] for r in rows], known)
    for task in task_ids:
        if task not in pairs:
            raise ValueError(f"gold task {task!r} has no answers, so its items are unknown")
    item_codes, item_ids = index_ids([item for t in task_ids for item in pairs[t]])
    item_index = {item: i for i, item in enumerate(item_ids)}
    task_index = {t: i for i, t in enumerate(task_ids)}
    worker, worker_ids = index_ids([r[0] for r in rows])
    winner = [item_index[r[4]] if r[4] != TIE else item_index[r[2]] for r in rows]
    loser = [item_index[r[3]] if r[4] in (r[2], TIE) else item_index[r[2]] for r in rows]
    return Comparisons(
        task_ids, worker_ids, item_ids,
        np.array([task_index[r[1]] for r in rows], dtype=np.int64),
        np.asarray(worker, dtype=np.int64), np.asarray(winner, dtype=np.int64),
        np.asarray(loser, dtype=np.int64), np.array([r[4] == TIE for r in rows], dtype=bool),
        np.array(item_codes[0::2], dtype=np.int64), np.array(item_codes[1::2], dtype=np.int64),
        {t: str(v) for t, v in known.items()})


def ranking_table(item_ids: list, score: np.ndarray, sd: np.ndarray) -> list[dict]:
    """Best first; equal scores share the smaller rank."""
    order = np.argsort(-score, kind="stable")
    table, rank = [], 0
    for position, i in enumerate(order):
        if position == 0 or score[i] < score[order[position - 1]] - 1e-12:
            rank = position + 1
        table.append({"item": item_ids[i], "score": float(score[i]),
                      "low": float(score[i] - Z95 * sd[i]), "high": float(score[i] + Z95 * sd[i]),
                      "rank": rank})
    return table


def build_result(data: Comparisons, method: str, score: np.ndarray, sd: np.ndarray,
                 reliability: np.ndarray, params: dict, allow_tie: bool) -> KindResult:
    """Each task's answer: the item more likely better, or ``tie`` when ties are allowed and
    more than half the reliability-weighted answers to the task said tie (or gold says so)."""
    weight = reliability[data.worker] if data.worker.size else np.zeros(0)
    n_tasks = len(data.task_ids)
    tie_share = (np.bincount(data.task, weights=weight * data.tie, minlength=n_tasks)
                 / np.maximum(np.bincount(data.task, weights=weight, minlength=n_tasks), 1e-12))
    tasks = {}
    for i, task in enumerate(data.task_ids):
        left, right = data.left[i], data.right[i]
        p_left = float(1.0 / (1.0 + np.exp(-(score[left] - score[right]))))
        probabilities = {data.item_ids[left]: p_left, data.item_ids[right]: 1.0 - p_left}
        if task in data.known:
            answer, confidence = data.known[task], 1.0
        elif allow_tie and tie_share[i] > 0.5:
            answer, confidence = TIE, float(tie_share[i])
        elif p_left >= 0.5:
            answer, confidence = data.item_ids[left], p_left
        else:
            answer, confidence = data.item_ids[right], 1.0 - p_left
        tasks[task] = TaskOutcome(answer, float(confidence), {"probabilities": probabilities})
    workers = {w: float(np.clip(r, 0.0, 1.0)) for w, r in zip(data.worker_ids, reliability)}
    params = {**params, "items": list(data.item_ids), "score": score.tolist(), "sd": sd.tolist()}
    return KindResult(method, tasks, workers, ranking_table(data.item_ids, score, sd), params)


def least_certain_pairs(result: KindResult, candidate_pairs: list[tuple[str, str]], k: int
                        ) -> list[tuple[str, str]]:
    """Candidates sorted by |score gap| / its standard error, smallest first (an item never
    compared has an unknown score: its pairs come first)."""
    by_item = {row["item"]: row for row in result.ranking or []}

    def uncertainty(pair: tuple[str, str]) -> float:
        a, b = by_item.get(pair[0]), by_item.get(pair[1])
        if a is None or b is None:
            return -1.0
        sd_a, sd_b = (a["high"] - a["low"]) / (2 * Z95), (b["high"] - b["low"]) / (2 * Z95)
        return abs(a["score"] - b["score"]) / max(np.hypot(sd_a, sd_b), 1e-12)

    ranked = sorted(range(len(candidate_pairs)), key=lambda i: (uncertainty(candidate_pairs[i]), i))
    return [tuple(candidate_pairs[i]) for i in ranked[: max(int(k), 0)]]
