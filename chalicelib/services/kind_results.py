"""A run's results for every task kind but single choice (whose columnar path stays in
chalicelib.services.aggregator): the answers' values, the gold answers, each task's row and
each worker's, and the files. The aggregation itself is chalicelib.kinds.aggregate.

Answers are loaded like single choice ones (aggregator.load_answers): the `label` column of
aggregator.Answers then numbers the distinct answer values (a ValueIndex), so exclusion,
ordering and the raw-answers file work the same for every kind.
"""
import json
import threading

import numpy as np

from chalicelib.kinds import Kind, pairwise
from chalicelib.models import Task
from chalicelib.services import result_files

COMMON_COLUMNS = ["answer_count", "gold", "method", "run_id", "created_at"]


class ValueIndex:
    """Distinct answer values, numbered as the loading threads meet them."""

    def __init__(self):
        self.values: list = []
        self._numbers: dict[str, int] = {}
        self._lock = threading.Lock()

    def __getitem__(self, value) -> int:
        key = json.dumps(value, sort_keys=True, separators=(",", ":"))
        with self._lock:
            number = self._numbers.get(key)
            if number is None:
                number = self._numbers[key] = len(self.values)
                self.values.append(value)
        return number


def load_tasks(project_id: str, task_ids: list[str]) -> tuple[list[str], dict, list[str]]:
    """For the tasks with answers: each payload as compact JSON text (a string holds less than
    the parsed object), the gold answers by task id, and every payload field."""
    position = {task_id: i for i, task_id in enumerate(task_ids)}
    payloads, known, fields = ["{}"] * len(task_ids), {}, set()
    for task in Task.query(project_id, attributes_to_get=["task_id", "known_answer", "payload"]):
        i = position.get(task.task_id)
        if i is None:
            continue
        payloads[i] = json.dumps(task.payload, separators=(",", ":"))
        fields.update(task.payload)
        if task.known_answer is not None:
            known[task.task_id] = task.known_answer
    return payloads, known, sorted(fields)


def kind_answers(kind: Kind, answers, values: list, payloads: list[str]) -> list[tuple[str, str, object]]:
    """(worker, task, value) per answer, as the aggregation takes them: a pairwise answer
    becomes {"left", "right", "winner"} from its task's payload."""
    pairs = [pairwise.pair(json.loads(p)) for p in payloads] if kind.kind == "pairwise" else None
    out = []
    for t, w, y in zip(answers.task.tolist(), answers.worker.tolist(), answers.label.tolist()):
        value = values[y]
        if pairs is not None:
            value = {"left": pairs[t][0], "right": pairs[t][1], "winner": value}
        out.append((answers.worker_ids[w], answers.task_ids[t], value))
    return out


def agreement(kind: Kind, answers, values: list, published: list) -> np.ndarray:
    """Per answer: whether it matches its task's published answer within the gold tolerance
    (a worker's agreement, one part of its reliability: see services.quality)."""
    cache: dict[tuple[int, int], bool] = {}
    agrees = np.zeros(len(answers.task), dtype=bool)
    for i, (t, y) in enumerate(zip(answers.task.tolist(), answers.label.tolist())):
        if (t, y) not in cache:
            cache[(t, y)] = published[t] is not None and kind.matches_gold(values[y], published[t])
        agrees[i] = cache[(t, y)]
    return agrees


def gold_counts(kind: Kind, answers, values: list, known: dict) -> tuple[np.ndarray, np.ndarray]:
    """Per worker: answers to gold tasks, and how many matched the gold answer."""
    n_workers = len(answers.worker_ids)
    on_gold, correct = np.zeros(len(answers.task), dtype=bool), np.zeros(len(answers.task), dtype=bool)
    for i, (t, y) in enumerate(zip(answers.task.tolist(), answers.label.tolist())):
        gold = known.get(answers.task_ids[t])
        if gold is not None:
            on_gold[i], correct[i] = True, kind.matches_gold(values[y], gold)
    return (np.bincount(answers.worker[on_gold], minlength=n_workers),
            np.bincount(answers.worker[correct], minlength=n_workers))


def task_rows(kind: Kind, answers, payloads: list[str], known: dict, result, run: dict):
    """One row per task (results.jsonl), built as it is written. `run`: method, run_id, created_at."""
    counts = np.bincount(answers.task, minlength=len(answers.task_ids)).tolist()
    for i, task_id in enumerate(answers.task_ids):
        outcome = result.tasks[task_id]
        yield {"task_id": task_id, "payload": json.loads(payloads[i]), "answer": outcome.answer,
               "confidence": round(float(outcome.confidence), 6), **kind.result_fields(outcome),
               "answer_count": counts[i], "gold": task_id in known, **run}


def results_csv(kind: Kind, rows, payload_keys: list[str]):
    """results.jsonl flattened: the answer as JSON when it is a list, the kind's columns, then
    the payload fields as payload.<name>."""
    flat = ({"task_id": r["task_id"], "answer": r["answer"], "confidence": r["confidence"],
             **kind.csv_fields({c: r[c] for c in kind.result_columns}),
             **{c: r[c] for c in COMMON_COLUMNS}, **{f"payload.{k}": r["payload"].get(k) for k in payload_keys}}
            for r in rows)
    columns = ["task_id", "answer", "confidence", *kind.csv_columns(), *COMMON_COLUMNS,
               *[f"payload.{k}" for k in payload_keys]]
    return result_files.table_csv(flat, columns)


def ranking_rows(result) -> list[dict]:
    """Pairwise: one row per item, best first (ranking.jsonl, ranking.csv)."""
    return [{"item": r["item"], "score": round(float(r["score"]), 6), "low": round(float(r["low"]), 6),
             "high": round(float(r["high"]), 6), "rank": int(r["rank"])} for r in result.ranking or []]
