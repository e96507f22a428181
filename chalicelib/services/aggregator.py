"""The scheduled aggregator: turn each changed project's answers into published results.

A project is due when its requester asked for a run, or when its answer counters moved and
its last run is older than the minimum interval. A project with no change costs one query of
its counter shards. Answers are read from the sharded answers index (never a Scan), one
paginated query per shard in parallel threads, aggregated by chalicelib.aggregation with the
project's gold tasks as known labels, stored per task and per worker, and published to S3.

Safe to run twice at once: a run first claims the project with a conditional UpdateItem
(`aggregation_lock_until`, see chalicelib.models.aggregation_lock) that fails if another run
holds an unexpired claim or has published since this run read the project; the claim is
released after publishing (and expires by itself if the run dies). Safe to crash: files are
written before the manifest, the manifest before latest.json, and the project is marked
aggregated only after that, so a rerun publishes a complete new run.

This module imports numpy: only the aggregator Lambda imports it (app.py does so lazily).
"""
import contextvars
import csv
import gzip
import hashlib
import hmac
import io
import json
import logging
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import NamedTuple

import numpy as np
from pynamodb.exceptions import UpdateError

from chalicelib import aggregation
from chalicelib.models import Assignment, Project, Task, TaskResult
from chalicelib.models.aggregation_lock import ProjectAggregation
from chalicelib.models.base import now_ms
from chalicelib.services import counters, publishing, quality
from chalicelib.settings import settings

log = logging.getLogger("foule.aggregator")

# A claim outlives the longest possible run (the aggregator Lambda's 900 s timeout).
LOCK_SECONDS = 960
FORMAT_VERSION = 1


class AnswerRow(NamedTuple):
    task_id: str
    worker_id: str
    answer: object
    submitted_at: int
    time_spent_ms: int | None


class AggregationFailed(Exception):
    """Some projects failed; the others were published. Raised so that the Lambda reports an
    error (and the alarm fires) after the whole pass."""


def run_due_projects(time_budget_seconds: float = 600) -> list[dict]:
    """Aggregate every due project, stopping early when the time budget is spent (the next
    scheduled run carries on where this one stopped, since due projects stay due)."""
    deadline = time.monotonic() + time_budget_seconds
    summaries, failures = [], []
    for project in Project.live_projects.query("live"):
        if time.monotonic() > deadline:
            break
        totals = counters.totals(project.project_id)
        if is_due(project, totals, now_ms()):
            try:
                summary = aggregate_project(project)
            except Exception as error:  # noqa: BLE001 - one project must not stop the others
                log.exception("aggregation of %s failed", project.project_id)
                failures.append(f"{project.project_id}: {error!r}")
                continue
            if summary is not None:
                summaries.append(summary)
        elif project.status == "closed":
            retire(project)
    if failures:
        raise AggregationFailed("; ".join(failures))
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


# --- The claim ------------------------------------------------------------------------------
def claim(project: Project, owner: str, now: int) -> ProjectAggregation | None:
    """Claim the project for one run, or None if another run holds it or has published since
    `project` was read. Sets the project's results salt on first use."""
    item = ProjectAggregation(project.project_id)
    free = ProjectAggregation.aggregation_lock_until.does_not_exist() | \
        (ProjectAggregation.aggregation_lock_until < now)
    unchanged = ProjectAggregation.last_run_id == project.last_run_id if project.last_run_id else \
        ProjectAggregation.last_run_id.does_not_exist()
    try:
        item.update(actions=[
            ProjectAggregation.aggregation_lock_until.set(now + LOCK_SECONDS * 1000),
            ProjectAggregation.aggregation_lock_owner.set(owner),
            ProjectAggregation.results_salt.set(ProjectAggregation.results_salt | secrets.token_hex(16))],
            condition=ProjectAggregation.project_id.exists() & free & unchanged)
    except UpdateError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            return None
        raise
    return item


def release(project_id: str, owner: str) -> None:
    try:
        ProjectAggregation(project_id).update(
            actions=[ProjectAggregation.aggregation_lock_until.remove(),
                     ProjectAggregation.aggregation_lock_owner.remove()],
            condition=ProjectAggregation.aggregation_lock_owner == owner)
    except UpdateError:
        log.warning("claim on %s by %s had expired and was taken over", project_id, owner)


# --- Reading ------------------------------------------------------------------------------------
ANSWER_FIELDS = ["task_id", "worker_id", "answer", "submitted_at", "time_spent_ms"]


def load_shard(project_id: str, shard: int) -> list[AnswerRow]:
    """One shard's answers, page by page, kept as small tuples rather than model objects."""
    return [AnswerRow(a.task_id, a.worker_id, a.answer, int(a.submitted_at),
                      None if a.time_spent_ms is None else int(a.time_spent_ms))
            for a in Assignment.answers_by_project.query(f"{project_id}#{shard}",
                                                         attributes_to_get=ANSWER_FIELDS)]


def load_answers(project_id: str) -> list[AnswerRow]:
    shards = settings.counter_shards
    with ThreadPoolExecutor(max_workers=min(8, shards)) as pool:
        # Each thread runs in a copy of the caller's context (context variables, e.g. tracing).
        futures = [pool.submit(contextvars.copy_context().run, load_shard, project_id, shard)
                   for shard in range(shards)]
        return [row for future in futures for row in future.result()]


# --- A run --------------------------------------------------------------------------------------
def new_run_id(created_at: int) -> str:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(created_at / 1000))
    return f"{stamp}-{secrets.token_hex(3)}"


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).isoformat(timespec="milliseconds") \
        .replace("+00:00", "Z")


def pseudonym(salt: str, worker_id: str) -> str:
    """A worker's id in result files: an HMAC with the project's secret salt, so ids are stable
    across a project's runs, unlinkable across projects, and not reversible."""
    return "w-" + hmac.new(salt.encode(), worker_id.encode(), hashlib.sha256).hexdigest()[:20]


def aggregate_project(project: Project, *, run_id: str | None = None,
                      created_at: int | None = None) -> dict | None:
    """Aggregate and publish one project; None if another run has it (or just published it).
    run_id and created_at may be fixed (deterministic runs for tests and benchmarks)."""
    created_at = created_at if created_at is not None else now_ms()
    run_id = run_id or new_run_id(created_at)
    claimed = claim(project, run_id, now_ms())
    if claimed is None:
        log.info("%s is being aggregated by another run; skipped", project.project_id)
        return None
    try:
        return _run(project, run_id, created_at, claimed.results_salt)
    finally:
        release(project.project_id, run_id)


def _run(project: Project, run_id: str, created_at: int, salt: str) -> dict:
    project_id = project.project_id
    answers = load_answers(project_id)
    answers, worker_records = quality.without_excluded(project, answers)  # QUALITY
    tasks = {t.task_id: t for t in Task.query(project_id, attributes_to_get=["task_id", "known_answer", "payload"])}
    labels = project.answer_type["labels"]
    label_index = {label: i for i, label in enumerate(labels)}
    task_ids = sorted({a.task_id for a in answers})
    worker_ids = sorted({a.worker_id for a in answers})
    task_index = {t: i for i, t in enumerate(task_ids)}
    worker_index = {w: i for i, w in enumerate(worker_ids)}
    n = len(answers)
    t = np.fromiter((task_index[a.task_id] for a in answers), dtype=np.int64, count=n)
    w = np.fromiter((worker_index[a.worker_id] for a in answers), dtype=np.int64, count=n)
    y = np.fromiter((label_index[a.answer] for a in answers), dtype=np.int64, count=n)
    known = np.array([label_index.get(tasks[tid].known_answer, -1) if tid in tasks and
                      tasks[tid].known_answer is not None else -1 for tid in task_ids], dtype=np.int64)
    method = project.aggregation_method or settings.aggregation_method or aggregation.DEFAULT_METHOD
    result = aggregation.aggregate(method, t, w, y, n_tasks=len(task_ids), n_workers=len(worker_ids),
                                   n_labels=len(labels), known=known)
    answer_counts = np.bincount(t, minlength=len(task_ids))
    created_iso = iso(created_at)
    rows = [{"task_id": tid, "payload": tasks[tid].payload if tid in tasks else {},
             "label": labels[int(result.labels[i])],
             "confidence": round(float(result.confidence[i]), 6),
             "posterior": {label: round(float(p), 6) for label, p in zip(labels, result.posterior[i])},
             "answer_count": int(answer_counts[i]), "gold": bool(known[i] >= 0),
             "method": method, "run_id": run_id, "created_at": created_iso}
            for i, tid in enumerate(task_ids)]
    # Gold accuracy per worker: answers to gold tasks, and how many matched the known label.
    on_gold = known[t] >= 0 if n else np.zeros(0, dtype=bool)
    gold_answers = np.bincount(w[on_gold], minlength=len(worker_ids))
    gold_correct = np.bincount(w[on_gold & (y == known[t])], minlength=len(worker_ids)) if n else gold_answers
    worker_rows = [{"worker": pseudonym(salt, wid), "answers": int(c), "gold_answers": int(ga),
                    "gold_correct": int(gc), "gold_accuracy": round(gc / ga, 6) if ga else None,
                    "reliability": round(float(r), 6)}
                   for wid, c, ga, gc, r in zip(worker_ids, np.bincount(w, minlength=len(worker_ids)),
                                                gold_answers, gold_correct, result.worker_reliability)]
    worker_rows.sort(key=lambda r: r["worker"])
    files = {"results.jsonl": jsonl(rows),
             "results.csv": results_csv(rows, labels),
             "workers.csv": table_csv(worker_rows, ["worker", "answers", "gold_answers", "gold_correct",
                                                    "gold_accuracy", "reliability"]),
             "answers.jsonl.gz": gzip.compress(raw_answers(answers, salt), mtime=0)}
    store_results(project_id, run_id, rows)
    quality.after_run(project, run_id, answers, worker_records,  # QUALITY: figures and rules
                      {r["task_id"]: r["label"] for r in rows}, dict(zip(worker_ids, result.worker_reliability)))
    publishing.publish_run(project_id, run_id, files, {
        "format_version": FORMAT_VERSION, "created_at": created_at, "created_at_iso": created_iso,
        "method": method, "parameters": {"labels": labels, "gold_tasks": int((known >= 0).sum()),
                                         "iterations": int(result.iterations)},
        "answers": n, "tasks": len(rows), "workers": len(worker_ids), "iterations": int(result.iterations)})
    mark_run(project, run_id, created_at, n)
    log.info("published %s run %s: %d answers, %d tasks", project_id, run_id, n, len(rows))
    return {"project_id": project_id, "run_id": run_id, "answers": n, "tasks": len(rows)}


# --- File formats -------------------------------------------------------------------------------
def jsonl(rows) -> bytes:
    return "".join(json.dumps(r, separators=(",", ":"), sort_keys=False) + "\n" for r in rows).encode()


def raw_answers(answers: list[AnswerRow], salt: str) -> bytes:
    ordered = sorted(answers, key=lambda a: (a.task_id, a.submitted_at, a.worker_id))
    return jsonl({"task_id": a.task_id, "worker": pseudonym(salt, a.worker_id), "answer": a.answer,
                  "submitted_at": a.submitted_at, "time_spent_ms": a.time_spent_ms} for a in ordered)


def cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"), sort_keys=True)
    return str(value)


def table_csv(rows: list[dict], columns: list[str]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([cell(row.get(c)) for c in columns])
    return out.getvalue().encode()


def results_csv(rows: list[dict], labels: list[str]) -> bytes:
    """results.jsonl flattened: payload fields as payload.<name>, the posterior as p:<label>."""
    payload_keys = sorted({k for r in rows for k in r["payload"]})
    flat = [{**{k: v for k, v in r.items() if k not in ("payload", "posterior")},
             **{f"payload.{k}": r["payload"].get(k) for k in payload_keys},
             **{f"p:{label}": r["posterior"][label] for label in labels}} for r in rows]
    columns = ["task_id", "label", "confidence", "answer_count", "gold", "method", "run_id", "created_at",
               *[f"p:{label}" for label in labels], *[f"payload.{k}" for k in payload_keys]]
    return table_csv(flat, columns)


# --- Stored results -------------------------------------------------------------------------------
def store_results(project_id: str, run_id: str, rows: list[dict]) -> None:
    with TaskResult.batch_write() as writer:
        for row in rows:
            writer.save(TaskResult(project_id, row["task_id"], label=row["label"],
                                   confidence=row["confidence"], answer_count=row["answer_count"],
                                   gold=int(row["gold"]), run_id=run_id))


def mark_run(project: Project, run_id: str, created_at: int, answers: int) -> None:
    project.update(actions=[Project.last_run_id.set(run_id), Project.last_run_at.set(created_at),
                            Project.last_run_answers.set(answers)])
