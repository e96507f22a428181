"""The scheduled aggregator: turn each changed project's answers into published results.

A project is due when its requester asked for a run, or when its answer counters moved and
its last run is older than the minimum interval. A project with no change costs one query of its counter shards. Answers are
read from the sharded answers index (never a Scan), aggregated by chalicelib.aggregation with
the project's gold tasks as known labels, stored per task and per worker, and published to S3.

This module imports numpy: only the aggregator Lambda imports it (app.py does so lazily).
"""
import json
import logging
import secrets
import time

import numpy as np
from pynamodb.exceptions import UpdateError

from chalicelib import aggregation
from chalicelib.models import Assignment, Project, Task, TaskResult, WorkerStats
from chalicelib.models.base import now_ms
from chalicelib.services import counters, publishing
from chalicelib.settings import settings

log = logging.getLogger("foule.aggregator")


def run_due_projects(time_budget_seconds: float = 600) -> list[dict]:
    """Aggregate every due project, stopping early when the time budget is spent (the next
    scheduled run carries on where this one stopped, since due projects stay due)."""
    deadline = time.monotonic() + time_budget_seconds
    summaries = []
    for project in Project.live_projects.query("live"):
        if time.monotonic() > deadline:
            break
        totals = counters.totals(project.project_id)
        if is_due(project, totals, now_ms()):
            summaries.append(aggregate_project(project))
        elif project.status == "closed":
            retire(project)
    return summaries


def is_due(project: Project, totals: dict, now: int) -> bool:
    """Due when its requester asked for a run, or when answers arrived and the last run is at
    least the minimum interval old: a project receiving a steady stream of answers is not
    re-aggregated on every pass of a frequent schedule."""
    last_run = project.last_run_at or 0
    if (project.aggregation_requested_at or 0) > last_run:
        return True
    changed = totals["answers"] != int(project.last_run_answers or 0)
    return changed and now - last_run >= settings.aggregation_min_interval_seconds * 1000


def retire(project: Project) -> None:
    """A closed project whose last answers are published leaves the live index."""
    try:
        project.update(actions=[Project.live.remove()], condition=Project.status == "closed")
    except UpdateError:
        pass


def load_answers(project_id: str) -> list[Assignment]:
    answers = []
    for shard in range(settings.counter_shards):
        answers.extend(Assignment.answers_by_project.query(f"{project_id}#{shard}"))
    return answers


def aggregate_project(project: Project) -> dict:
    project_id = project.project_id
    answers = load_answers(project_id)
    tasks = {t.task_id: t for t in Task.query(project_id, attributes_to_get=["task_id", "known_answer"])}
    labels = project.answer_type["labels"]
    label_index = {label: i for i, label in enumerate(labels)}
    task_ids = sorted({a.task_id for a in answers})
    worker_ids = sorted({a.worker_id for a in answers})
    task_index = {t: i for i, t in enumerate(task_ids)}
    worker_index = {w: i for i, w in enumerate(worker_ids)}
    t = np.fromiter((task_index[a.task_id] for a in answers), dtype=np.int64, count=len(answers))
    w = np.fromiter((worker_index[a.worker_id] for a in answers), dtype=np.int64, count=len(answers))
    y = np.fromiter((label_index[a.answer] for a in answers), dtype=np.int64, count=len(answers))
    known = np.array([label_index.get(tasks[tid].known_answer, -1) if tid in tasks and
                      tasks[tid].known_answer is not None else -1 for tid in task_ids], dtype=np.int64)
    method = project.aggregation_method or settings.aggregation_method or aggregation.DEFAULT_METHOD
    result = aggregation.aggregate(method, t, w, y, n_tasks=len(task_ids), n_workers=len(worker_ids),
                                   n_labels=len(labels), known=known)
    answer_counts = np.bincount(t, minlength=len(task_ids))
    run_id = f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{secrets.token_hex(3)}"
    created_at = now_ms()
    rows = [{"task_id": tid, "label": labels[int(result.labels[i])],
             "confidence": round(float(result.confidence[i]), 6),
             "answer_count": int(answer_counts[i]), "gold": bool(known[i] >= 0),
             "posterior": {label: round(float(p), 6) for label, p in zip(labels, result.posterior[i])}}
            for i, tid in enumerate(task_ids)]
    store_results(project_id, run_id, rows)
    store_reliability(project_id, run_id, worker_ids, result.worker_reliability)
    files = {"results.jsonl": "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in rows).encode()}
    publishing.publish_run(project_id, run_id, files, {
        "created_at": created_at, "method": method, "answers": len(answers), "tasks": len(rows),
        "workers": len(worker_ids), "iterations": int(result.iterations)})
    mark_run(project, run_id, created_at, len(answers))
    log.info("published %s run %s: %d answers, %d tasks", project_id, run_id, len(answers), len(rows))
    return {"project_id": project_id, "run_id": run_id, "answers": len(answers), "tasks": len(rows)}


def store_results(project_id: str, run_id: str, rows: list[dict]) -> None:
    with TaskResult.batch_write() as writer:
        for row in rows:
            writer.save(TaskResult(project_id, row["task_id"], label=row["label"],
                                   confidence=row["confidence"], answer_count=row["answer_count"],
                                   gold=int(row["gold"]), run_id=run_id))


def store_reliability(project_id: str, run_id: str, worker_ids: list[str], reliability) -> None:
    for worker_id, value in zip(worker_ids, reliability):
        WorkerStats(worker_id, project_id).update(actions=[
            WorkerStats.reliability.set(round(float(value), 6)), WorkerStats.reliability_run_id.set(run_id)])


def mark_run(project: Project, run_id: str, created_at: int, answers: int) -> None:
    project.update(actions=[Project.last_run_id.set(run_id), Project.last_run_at.set(created_at),
                            Project.last_run_answers.set(answers)])
