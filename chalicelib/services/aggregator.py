"""The scheduled aggregator: turn each changed project's answers into published results.

A project is due when its requester asked for a run, or when its answer counters moved and
its last run is older than the minimum interval. A project with no change costs one query of
its counter shards. Answers are read from the sharded answers index (never a Scan), one
paginated query per shard in parallel threads, aggregated by chalicelib.aggregation with the
project's gold tasks as known labels, stored per task and per worker, and published to S3.
Memory: the answers are held as numpy columns (chalicelib.services.aggregator.AnswerColumns) and
the files are rendered as they are uploaded (chalicelib.services.result_files), so a run
holds neither a Python object per answer nor a whole file.

Safe to run twice at once: a run first claims the project with a conditional UpdateItem
(`aggregation_lock_until`, see chalicelib.models.aggregation_lock) that fails if another run
holds an unexpired claim or has published since this run read the project; the claim is
released after publishing (and expires by itself if the run dies). Safe to crash: files are
written before the manifest, the manifest before latest.json, and the project is marked
aggregated only after that, so a rerun publishes a complete new run.

This module imports numpy: only the aggregator Lambda imports it (app.py does so lazily).
"""
import contextvars
import json
import logging
import secrets
import time
from array import array
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import NamedTuple

import numpy as np
from pynamodb.exceptions import UpdateError

from chalicelib import aggregation, kinds, observability
from chalicelib.aggregation import by_kind
from chalicelib.aggregation.classification import calibration
from chalicelib.kinds import pairwise
from chalicelib.models import Assignment, Project, TaskResult
from chalicelib.models.aggregation_lock import ProjectAggregation
from chalicelib.models.base import now_ms, shard_partition
from chalicelib.schemas.answers import parse_answer_type
from chalicelib.services import (counters, kind_results, live, overlap, pseudonyms, publishing, quality, result_files,
                                 webhooks)
from chalicelib.settings import settings

log = logging.getLogger("foule.aggregator")

# A claim outlives the longest possible run (the aggregator Lambda's 900 s timeout).
LOCK_SECONDS = 960
FORMAT_VERSION = 1


class AggregationFailed(Exception):
    """Some projects failed; the others were published. Raised so that the Lambda reports an
    error (and the alarm fires) after the whole pass."""


def run_due_projects(time_budget_seconds: float = 600) -> list[dict]:
    """Aggregate every due project, stopping early when the time budget is spent (the next
    scheduled run carries on where this one stopped, since due projects stay due)."""
    deadline = time.monotonic() + time_budget_seconds
    summaries, failures = [], []
    for project in live.all_projects():
        if time.monotonic() > deadline:
            break
        totals = counters.totals(project.project_id)
        if is_due(project, totals, now_ms()):
            try:
                summary = aggregate_project(project)
            except Exception as error:  # one project must not stop the others
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
    `project` was read."""
    item = ProjectAggregation(project.project_id)
    free = ProjectAggregation.aggregation_lock_until.does_not_exist() | \
        (ProjectAggregation.aggregation_lock_until < now)
    unchanged = ProjectAggregation.last_run_id == project.last_run_id if project.last_run_id else \
        ProjectAggregation.last_run_id.does_not_exist()
    try:
        item.update(actions=[
            ProjectAggregation.aggregation_lock_until.set(now + LOCK_SECONDS * 1000),
            ProjectAggregation.aggregation_lock_owner.set(owner)],
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
ANSWER_FIELDS = ["task_id", "worker_id", "answer", "submitted_at", "time_spent_ms", "state"]
REJECTED = "rejected"  # services.review


class AnswerColumns(NamedTuple):
    """A project's answers as numpy columns (28 bytes an answer, where a tuple of Python
    objects took ~370): tasks and workers as indexes into their sorted distinct ids."""

    task_ids: list[str]
    worker_ids: list[str]
    task: np.ndarray  # int32, index into task_ids
    worker: np.ndarray  # int32, index into worker_ids
    label: np.ndarray  # int32, index into the project's labels
    submitted_at: np.ndarray  # int64, epoch ms
    time_spent_ms: np.ndarray  # int64, -1 when the worker sent none (it is never negative)
    rejected_left_out: int = 0  # rejected answers not read (the project keeps none by default)

    def without_workers(self, excluded: set[str]) -> "AnswerColumns":
        """These answers minus those of the given workers, ids renumbered (a task answered only
        by them drops out)."""
        keep = np.isin(self.worker, [i for i, w in enumerate(self.worker_ids) if w in excluded], invert=True)
        task, worker = self.task[keep], self.worker[keep]
        tasks_left, workers_left = np.unique(task), np.unique(worker)
        task_position = np.zeros(len(self.task_ids), dtype=np.int32)
        task_position[tasks_left] = np.arange(len(tasks_left), dtype=np.int32)
        worker_position = np.zeros(len(self.worker_ids), dtype=np.int32)
        worker_position[workers_left] = np.arange(len(workers_left), dtype=np.int32)
        return AnswerColumns([self.task_ids[i] for i in tasks_left.tolist()],
                       [self.worker_ids[i] for i in workers_left.tolist()],
                       task_position[task], worker_position[worker], self.label[keep],
                       self.submitted_at[keep], self.time_spent_ms[keep], self.rejected_left_out)


def load_shard(project_id: str, shard: int, label_index: dict, include_rejected: bool = False) -> tuple:
    """One shard's answers, page by page, into compact arrays; ids numbered in order of
    appearance (the shard's own numbering, mapped to the sorted ids by load_answers). Rejected
    answers are skipped (and counted) unless include_rejected."""
    tasks, workers = {}, {}
    t, w, y, submitted, spent = array("i"), array("i"), array("i"), array("q"), array("q")
    rejected = 0
    for a in Assignment.answers_by_project.query(shard_partition(project_id, shard), attributes_to_get=ANSWER_FIELDS):
        if a.state == REJECTED and not include_rejected:
            rejected += 1
            continue
        t.append(tasks.setdefault(a.task_id, len(tasks)))
        w.append(workers.setdefault(a.worker_id, len(workers)))
        y.append(label_index[a.answer])
        submitted.append(int(a.submitted_at))
        spent.append(-1 if a.time_spent_ms is None else int(a.time_spent_ms))
    return list(tasks), list(workers), t, w, y, submitted, spent, rejected


def load_answers(project_id: str, labels, include_rejected: bool = False) -> AnswerColumns:
    """`labels`: the project's labels (single choice), or a kind_results.ValueIndex that
    numbers the distinct answer values as they are met (the other kinds). Rejected answers
    are left out (a rejection says the answer is unacceptable) unless include_rejected (the
    project's `aggregation.include_rejected`)."""
    label_index = labels if isinstance(labels, kind_results.ValueIndex) else \
        {label: i for i, label in enumerate(labels)}
    shards = settings.counter_shards
    with ThreadPoolExecutor(max_workers=min(8, shards)) as pool:
        # Each thread runs in a copy of the caller's context (context variables, e.g. tracing).
        parts = [f.result() for f in [pool.submit(contextvars.copy_context().run, load_shard, project_id,
                                                  shard, label_index, include_rejected)
                                                  for shard in range(shards)]]
    task_ids = sorted({task_id for part in parts for task_id in part[0]})
    worker_ids = sorted({worker_id for part in parts for worker_id in part[1]})
    task_position = {task_id: i for i, task_id in enumerate(task_ids)}
    worker_position = {worker_id: i for i, worker_id in enumerate(worker_ids)}

    def values(index: int, dtype) -> np.ndarray:
        return np.concatenate([np.frombuffer(part[index], dtype=dtype) for part in parts])

    def ids(index: int, ids_index: int, position: dict) -> np.ndarray:
        """A shard's own numbering of ids, renumbered to the positions of the sorted ids."""
        return np.concatenate([np.array([position[i] for i in part[ids_index]], dtype=np.int32)
                               [np.frombuffer(part[index], dtype=np.int32)] for part in parts])

    return AnswerColumns(task_ids, worker_ids, ids(2, 0, task_position), ids(3, 1, worker_position),
                   values(4, np.int32), values(5, np.int64), values(6, np.int64), sum(part[7] for part in parts))


def load_tasks(project_id: str, task_ids: list[str], labels: list) -> tuple[list, np.ndarray, list[str]]:
    """kind_results.load_tasks with the gold answers as label indexes (-1: not gold), as the
    single-choice methods take them."""
    payloads, known_answers, fields = kind_results.load_tasks(project_id, task_ids)
    label_index = {label: i for i, label in enumerate(labels)}
    position = {task_id: i for i, task_id in enumerate(task_ids)}
    known = np.full(len(task_ids), -1, dtype=np.int64)
    for task_id, answer in known_answers.items():
        known[position[task_id]] = label_index.get(answer, -1)
    return payloads, known, fields


# --- A run --------------------------------------------------------------------------------------
def new_run_id(created_at: int) -> str:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(created_at / 1000))
    return f"{stamp}-{secrets.token_hex(3)}"


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).isoformat(timespec="milliseconds") \
        .replace("+00:00", "Z")


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
        return _run(project, run_id, created_at)
    finally:
        release(project.project_id, run_id)


def _run(project: Project, run_id: str, created_at: int) -> dict:
    kind = parse_answer_type(project.answer_type)
    if kind.kind != "single_choice":
        return _run_kind(project, kind, run_id, created_at)
    started = time.perf_counter()
    project_id = project.project_id
    labels = project.answer_type["labels"]
    include_rejected = bool(project.aggregation_include_rejected)
    answers = load_answers(project_id, labels, include_rejected)
    read = len(answers.task) + answers.rejected_left_out  # what the project is marked as done up to
    answers, worker_records = quality.without_excluded(project, answers)
    payloads, known, payload_fields = load_tasks(project_id, answers.task_ids, labels)
    n, n_tasks, n_workers = len(answers.task), len(answers.task_ids), len(answers.worker_ids)
    t, w, y = answers.task, answers.worker, answers.label
    method = project.aggregation_method or settings.aggregation_method or aggregation.DEFAULT_METHOD
    def fit(known_labels):
        return aggregation.aggregate(method, t, w, y, n_tasks=n_tasks, n_workers=n_workers,
                                     n_labels=len(labels), known=known_labels)

    result = fit(known)
    # Confidence calibrated on gold, cross-fitted (gold tasks keep their clamped posterior).
    calibrated = calibration.calibrate(lambda known_labels: fit(known_labels).posterior, known)
    posterior = np.where((known >= 0)[:, None], result.posterior, calibrated.apply(result.posterior))
    created_iso = iso(created_at)
    answer_counts = np.bincount(t, minlength=n_tasks).tolist()
    best, confidence = result.labels.tolist(), posterior.max(axis=1).tolist() if n_tasks else []

    def rows():  # one per task, built as they are written (three times: two files, the table)
        for i, task_id in enumerate(answers.task_ids):
            yield {"task_id": task_id, "payload": json.loads(payloads[i]), "label": labels[best[i]],
                   "confidence": round(confidence[i], 6),
                   "posterior": {label: round(p, 6) for label, p in zip(labels, posterior[i].tolist())},
                   "answer_count": answer_counts[i], "gold": bool(known[i] >= 0),
                   "method": method, "run_id": run_id, "created_at": created_iso}

    # Gold accuracy per worker: answers to gold tasks, and how many matched the known label.
    on_gold = known[t] >= 0 if n else np.zeros(0, dtype=bool)
    gold_answers = np.bincount(w[on_gold], minlength=n_workers)
    gold_correct = np.bincount(w[on_gold & (y == known[t])], minlength=n_workers) if n else gold_answers
    # Workers appear in the files as in the requester's API: its pseudonyms (services.pseudonyms).
    aliases = [pseudonyms.for_requester(project.owner_id, worker_id) for worker_id in answers.worker_ids]
    worker_rows = [{"worker": alias, "answers": int(c), "gold_answers": int(ga),
                    "gold_correct": int(gc), "gold_accuracy": round(gc / ga, 6) if ga else None,
                    "reliability": round(float(r), 6)}
                   for alias, c, ga, gc, r in zip(aliases, np.bincount(w, minlength=n_workers),
                                                  gold_answers, gold_correct, result.worker_reliability)]
    worker_rows.sort(key=lambda r: r["worker"])
    files = {"results.jsonl": result_files.jsonl(rows()),
             "results.csv": result_files.results_csv(rows(), labels, payload_fields),
             "workers.csv": result_files.table_csv(worker_rows, ["worker", "answers", "gold_answers", "gold_correct",
                                                                 "gold_accuracy", "reliability"]),
             "answers.jsonl.gz": result_files.gzipped(result_files.jsonl(raw_answers(answers, labels, aliases)))}
    store_results(project_id, run_id, rows())
    overlap.after_run(project, rows())  # adaptive overlap from this run's confidence
    quality.after_run(project, run_id, answers, worker_records, result.labels,  # worker figures and rules
                      dict(zip(answers.worker_ids, result.worker_reliability.tolist())))
    manifest = publishing.publish_run(project_id, run_id, files, {
        "format_version": FORMAT_VERSION, "created_at": created_at, "created_at_iso": created_iso,
        "method": method, "parameters": {"labels": labels, "gold_tasks": int((known >= 0).sum()),
                                         "iterations": int(result.iterations), **run_settings(project, answers)},
        "calibration": calibration_summary(calibrated),
        "answers": n, "tasks": n_tasks, "workers": n_workers, "iterations": int(result.iterations)})
    # Recorded before the run is marked done (a crash then cannot lose it), sent after.
    delivery = webhooks.record_publication(manifest, publishing.manifest_key(project_id, run_id))
    mark_run(project, run_id, created_at, read, calibrated.ece_after)  # every answer read, the left-out ones too:
    # else the excluded workers' and the rejected answers would make the project due on every pass
    # Publication lag: from the newest answer in the run to the run being readable.
    lag_ms = now_ms() - int(answers.submitted_at.max()) if n else None
    duration_ms = round((time.perf_counter() - started) * 1000, 1)
    webhooks.first_attempt(delivery)
    observability.metric(observability.AGGREGATION_MS, duration_ms, "Milliseconds")
    if lag_ms is not None:
        observability.metric(observability.PUBLICATION_LAG_MS, lag_ms, "Milliseconds")
    observability.log_event("published", project_id=project_id, run_id=run_id, method=method, answers=n,
                            tasks=n_tasks, duration_ms=duration_ms, publication_lag_ms=lag_ms)
    return {"project_id": project_id, "run_id": run_id, "answers": n, "tasks": n_tasks}


def _run_kind(project: Project, kind, run_id: str, created_at: int) -> dict:
    """A run of a project of any kind but single choice (chalicelib.kinds): the same steps and
    files, the kind's result columns, and for pairwise the ranking of the items."""
    project_id = project.project_id
    values = kind_results.ValueIndex()
    answers = load_answers(project_id, values, bool(project.aggregation_include_rejected))
    read = len(answers.task) + answers.rejected_left_out  # what the project is marked as done up to
    answers, worker_records = quality.without_excluded(project, answers)
    payloads, known, payload_fields = kind_results.load_tasks(project_id, answers.task_ids)
    n, n_tasks, n_workers = len(answers.task), len(answers.task_ids), len(answers.worker_ids)
    method = project.aggregation_method if project.aggregation_method in by_kind.methods(kind.kind) \
        else by_kind.default_method(kind.kind)
    result = kinds.aggregate(kind, kind_results.kind_answers(kind, answers, values.values, payloads), known, method)
    created_iso = iso(created_at)
    run = {"method": method, "run_id": run_id, "created_at": created_iso}

    def rows():
        return kind_results.task_rows(kind, answers, payloads, known, result, run)

    published = [result.tasks[task_id].answer for task_id in answers.task_ids]
    gold_answers, gold_correct = kind_results.gold_counts(kind, answers, values.values, known)
    aliases = [pseudonyms.for_requester(project.owner_id, worker_id) for worker_id in answers.worker_ids]
    worker_rows = sorted(({"worker": alias, "answers": int(c), "gold_answers": int(ga), "gold_correct": int(gc),
                           "gold_accuracy": round(gc / ga, 6) if ga else None,
                           "reliability": round(float(result.workers.get(worker_id, 0.5)), 6)}
                          for alias, worker_id, c, ga, gc in zip(aliases, answers.worker_ids,
                                                                 np.bincount(answers.worker, minlength=n_workers),
                                                                 gold_answers, gold_correct)),
                         key=lambda r: r["worker"])
    files = {"results.jsonl": result_files.jsonl(rows()),
             "results.csv": kind_results.results_csv(kind, rows(), payload_fields),
             "workers.csv": result_files.table_csv(worker_rows, ["worker", "answers", "gold_answers", "gold_correct",
                                                                 "gold_accuracy", "reliability"]),
             "answers.jsonl.gz": result_files.gzipped(result_files.jsonl(raw_answers(answers, values.values, aliases)))}
    if result.ranking is not None:
        ranking = kind_results.ranking_rows(result)
        files["ranking.jsonl"] = result_files.jsonl(ranking)
        files["ranking.csv"] = result_files.table_csv(ranking, pairwise.RANKING_COLUMNS)
    store_results(project_id, run_id, ({**row, "label": row["answer"]} for row in rows()))
    overlap.after_run(project, rows())  # adaptive overlap from this run's confidence
    quality.after_run(project, run_id, answers, worker_records, None,  # figures and rules
                      {w: result.workers[w] for w in answers.worker_ids if w in result.workers},
                      agrees=kind_results.agreement(kind, answers, values.values, published))
    manifest = publishing.publish_run(project_id, run_id, files, {
        "format_version": FORMAT_VERSION, "created_at": created_at, "created_at_iso": created_iso,
        "kind": kind.kind, "method": method,
        "parameters": {"answer_type": kind.model_dump(mode="json"), "gold_tasks": len(known),
                       **run_settings(project, answers)},
        "columns": ["task_id", "answer", "confidence", *kind.result_columns, "answer_count", "gold"],
        "answers": n, "tasks": n_tasks, "workers": n_workers,
        **({"items": len(result.ranking)} if result.ranking is not None else {})})
    delivery = webhooks.record_publication(manifest, publishing.manifest_key(project_id, run_id))
    mark_run(project, run_id, created_at, read)  # every answer read, the left-out ones too:
    # else the excluded workers' and the rejected answers would make the project due on every pass
    webhooks.first_attempt(delivery)
    log.info("published %s run %s (%s): %d answers, %d tasks", project_id, run_id, kind.kind, n, n_tasks)
    return {"project_id": project_id, "run_id": run_id, "answers": n, "tasks": n_tasks}


def run_settings(project: Project, answers: AnswerColumns) -> dict:
    """The project's aggregation settings as a run applied them, for its manifest."""
    return {"aggregation": {"method": project.aggregation_method,
                            "include_rejected": bool(project.aggregation_include_rejected)},
            "rejected_answers_left_out": answers.rejected_left_out}


def raw_answers(answers: AnswerColumns, labels: list, aliases: list[str]):
    """Every answer, ordered by task id, submission time, then worker: one dict at a time."""
    order = np.lexsort((answers.worker, answers.submitted_at, answers.task))
    for start in range(0, len(order), result_files.CHUNK_LINES):
        chunk = order[start:start + result_files.CHUNK_LINES]
        for t, w, y, submitted, spent in zip(answers.task[chunk].tolist(), answers.worker[chunk].tolist(),
                                             answers.label[chunk].tolist(), answers.submitted_at[chunk].tolist(),
                                             answers.time_spent_ms[chunk].tolist()):
            yield {"task_id": answers.task_ids[t], "worker": aliases[w], "answer": labels[y],
                   "submitted_at": submitted, "time_spent_ms": None if spent < 0 else spent}


# --- Stored results -------------------------------------------------------------------------------
def store_results(project_id: str, run_id: str, rows) -> None:
    with TaskResult.batch_write() as writer:
        for row in rows:
            writer.save(TaskResult(project_id, row["task_id"], label=row["label"],
                                   confidence=row["confidence"], answer_count=row["answer_count"],
                                   gold=int(row["gold"]), run_id=run_id))


def mark_run(project: Project, run_id: str, created_at: int, answers: int, ece: float | None = None) -> None:
    project.update(actions=[Project.last_run_id.set(run_id), Project.last_run_at.set(created_at),
                            Project.last_run_answers.set(answers),
                            Project.last_run_ece.remove() if ece is None else Project.last_run_ece.set(round(ece, 6))])


def calibration_summary(calibrated) -> dict:
    """The manifest's `calibration`: the map applied to the confidence and its cross-fitted ECE."""
    def rounded(value):
        return None if value is None else round(value, 6)
    return {"method": "platt" if calibrated.ece_after is not None else "none",
            "slope": round(calibrated.slope, 6), "intercept": round(calibrated.intercept, 6),
            "gold_tasks": calibrated.gold_tasks, "min_gold_tasks": calibration.MIN_GOLD,
            "ece_before": rounded(calibrated.ece_before), "ece": rounded(calibrated.ece_after)}
