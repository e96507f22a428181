"""What report.html costs a run: time, memory and size at scale, against the run's other files.

    .venv/bin/python bench/report_cost.py --answers 100000 [--per-task 5] [--workers 500] [--repeat 3]

The inputs the aggregator hands services.report for a single-choice run of that size (the
synthetic project of bench/aggregator_scale.py: 5 answers per task, 3 labels, 10% gold, workers
of accuracy 0.55–0.95, plus a `region` and a `category` payload field to group by), built in
memory: no store (the counters are a stub). Timed in the same process, on the same data: the
report's rendering, and as the baseline the rendering of the run's four other files (results.jsonl,
results.csv, workers.csv, answers.jsonl.gz, through chalicelib.services.result_files, as the
publisher reads them), alternated, --repeat times. Memory: tracemalloc's peak during each, in a
pass of its own (tracing slows the rendering). With /usr/bin/chromium: the time
headless Chromium takes to load the report and draw its charts (--dump-dom), against an empty
page in the same session.
"""
import argparse
import gzip
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from chalicelib.services import report, result_files  # noqa: E402
from chalicelib.services.aggregator import AnswerColumns, raw_answers  # noqa: E402

LABELS = ["a", "b", "c"]
REGIONS = [f"region-{i}" for i in range(12)]
CATEGORIES = [f"category-{i}" for i in range(40)]


def synthetic_run(n_answers: int, per_task: int, n_workers: int, seed: int = 1):
    rng = np.random.default_rng(seed)
    n_tasks = n_answers // per_task
    skill = rng.uniform(0.55, 0.95, n_workers)
    truth = rng.integers(0, len(LABELS), n_tasks)
    task = np.repeat(np.arange(n_tasks, dtype=np.int32), per_task)
    worker = np.concatenate([rng.choice(n_workers, per_task, replace=False) for _ in range(n_tasks)]).astype(np.int32)
    right = rng.random(len(task)) < skill[worker]
    label = np.where(right, truth[task], rng.integers(0, len(LABELS), len(task))).astype(np.int32)
    submitted = (1_700_000_000_000 + np.sort(rng.integers(0, 3 * 86_400_000, len(task)))).astype(np.int64)
    answers = AnswerColumns([f"t{i:07d}" for i in range(n_tasks)], [f"w{w:05d}" for w in range(n_workers)],
                            task, worker, label, submitted, rng.integers(500, 20_000, len(task)).astype(np.int64))
    votes = np.zeros((n_tasks, len(LABELS)))
    np.add.at(votes, (task, label), 1)
    posterior = (votes + 0.5) / (votes + 0.5).sum(axis=1, keepdims=True)
    best = posterior.argmax(axis=1)
    pick = random.Random(seed)

    def rows():
        for i, task_id in enumerate(answers.task_ids):
            yield {"task_id": task_id, "payload": {"region": pick.choice(REGIONS), "category": pick.choice(CATEGORIES),
                                                    "text": f"item {i}"},
                   "label": LABELS[best[i]], "confidence": round(float(posterior[i].max()), 6),
                   "posterior": {lab: round(float(p), 6) for lab, p in zip(LABELS, posterior[i])},
                   "answer_count": per_task, "gold": i % 10 == 0, "method": "ds", "run_id": "bench",
                   "created_at": "2026-01-01T00:00:00.000Z"}

    aliases = [f"wk-{w:05d}" for w in range(n_workers)]
    counts = np.bincount(worker, minlength=n_workers)
    worker_rows = [{"worker": aliases[w], "answers": int(counts[w]), "gold_answers": 10, "gold_correct": int(10 * skill[w]),
                    "gold_accuracy": round(int(10 * skill[w]) / 10, 6), "reliability": round(float(skill[w]), 6)}
                   for w in range(n_workers)]
    agrees = label == best[task]
    return answers, rows, worker_rows, aliases, agrees


def measure(make_chunks) -> tuple[float, int, bytes]:
    """Seconds, bytes, and the bytes themselves of one rendering."""
    started = time.perf_counter()
    body = b"".join(make_chunks())
    return time.perf_counter() - started, len(body), body


def peak_mib(make_chunks) -> float:
    """tracemalloc's peak during one rendering (a separate pass: tracing slows it several times)."""
    tracemalloc.start()
    for _ in make_chunks():
        pass
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return peak


def chromium_seconds(path: Path) -> float:
    started = time.perf_counter()
    subprocess.run(["/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom",
                    path.as_uri()], capture_output=True, timeout=120, check=True)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--answers", type=int, default=100_000)
    parser.add_argument("--per-task", type=int, default=5)
    parser.add_argument("--workers", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    answers, rows, worker_rows, aliases, agrees = synthetic_run(args.answers, args.per_task, args.workers)
    project = SimpleNamespace(project_id="p-bench", title="Which label?", owner_id="o",
                              answer_type={"kind": "single_choice", "labels": LABELS},
                              report={"language": "en", "group_by": ["region", "category"]},
                              overlap=args.per_task, adaptive_overlap=None, budget_cents=1_000_000,
                              budget_remaining_cents=400_000)
    totals = {"tasks": len(answers.task_ids), "gold_tasks": len(answers.task_ids) // 10, "tasks_cancelled": 0,
              "tasks_complete": len(answers.task_ids) * 9 // 10, "answers": args.answers, "gold_answers": 0,
              "paid_cents": 500_000}
    calibration = {"method": "platt", "ece_before": 0.08, "ece": 0.03}

    def the_report():
        return report.render(project, run_id="bench", created_iso="2026-01-01T00:00:00.000Z", method="ds",
                             answers=answers, rows=rows(), worker_rows=worker_rows, answer_values=LABELS,
                             agrees=agrees, calibration=calibration)

    def other_files():
        yield from result_files.jsonl(rows())
        yield from result_files.results_csv(rows(), LABELS, ["category", "region", "text"])
        yield from result_files.table_csv(worker_rows, ["worker", "answers", "gold_answers", "gold_correct",
                                                        "gold_accuracy", "reliability"])
        yield from result_files.gzipped(result_files.jsonl(raw_answers(answers, LABELS, aliases)))

    figures = {"report": [], "other_files": []}
    with mock.patch.object(report.counters, "totals", lambda project_id: totals):
        for _ in range(args.repeat):  # alternated, so that both see the same machine
            figures["other_files"].append(measure(other_files))
            figures["report"].append(measure(the_report))
        peaks = {"report_peak_mib": peak_mib(the_report), "other_files_peak_mib": peak_mib(other_files)}
    page = figures["report"][-1][2]
    library = report.CHART_LIBRARY.stat().st_size
    out = {"answers": args.answers, "tasks": len(answers.task_ids), "workers": args.workers,
           "report_s": [round(f[0], 3) for f in figures["report"]],
           "other_files_s": [round(f[0], 3) for f in figures["other_files"]],
           **{name: round(value, 1) for name, value in peaks.items()},
           "report_bytes": len(page), "report_gzip_bytes": len(gzip.compress(page)),
           "chart_library_bytes": library, "other_files_bytes": figures["other_files"][-1][1]}
    out["report_over_other_files_time"] = round(np.median(out["report_s"]) / np.median(out["other_files_s"]), 3)
    if Path("/usr/bin/chromium").exists():
        with tempfile.TemporaryDirectory() as folder:
            path, blank = Path(folder, "report.html"), Path(folder, "blank.html")
            path.write_bytes(page)
            blank.write_text("<!DOCTYPE html><html><body></body></html>")
            out["chromium_blank_s"] = [round(chromium_seconds(blank), 2) for _ in range(args.repeat)]
            out["chromium_report_s"] = [round(chromium_seconds(path), 2) for _ in range(args.repeat)]
    out["machine_cpus"] = os.cpu_count()
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
