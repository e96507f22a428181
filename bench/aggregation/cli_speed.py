"""The command line, whole process, against crowd-kit's DawidSkene doing the same (issue 15).

    .venv/bin/python bench/aggregation/cli_speed.py [--answers 1000000] [--repeats 3]
        [--crowdkit-python /tmp/bench-venv-kinds/bin/python]

Writes a synthetic crowd (bench/aggregation/synthetic.py: 20 answers a worker, 10 a task,
5 labels; rows shuffled, string ids ``w123``/``t456``, labels as words) to a CSV file, then
times, alternating run by run so both see the same machine load, two whole processes that read
that file, fit Dawid-Skene and write ``task,label,confidence``:

- ours: ``.venv/bin/python -m chalicelib.aggregation --answers A.csv --method ds --out R.csv``
- crowd-kit 1.4.2 (its own venv, bench/aggregation/requirements.txt): pandas ``read_csv``,
  ``DawidSkene(n_iter=100, tol=1e-5).fit_predict_proba`` (the settings of run.py), the most
  probable label and its probability written with ``to_csv``.

Each process runs under ``/usr/bin/time`` (wall, user + system CPU, peak RSS of that process
alone, interpreter start and imports included). Accuracy = share of tasks whose written label
is the generator's truth.
"""
from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic import make_synthetic  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
LABEL_NAMES = np.array(["cat", "dog", "bird", "fish", "horse"])

CROWDKIT_SCRIPT = """
import sys
import pandas as pd
from crowdkit.aggregation import DawidSkene
answers, out = sys.argv[1], sys.argv[2]
frame = pd.read_csv(answers, dtype=str, keep_default_na=False)
probas = DawidSkene(n_iter=100, tol=1e-5).fit_predict_proba(frame)
result = pd.DataFrame({"label": probas.idxmax(axis=1), "confidence": probas.max(axis=1)})
result.index.name = "task"
result.to_csv(out, float_format="%.6f")
"""


def write_answers(path: Path, n_answers: int) -> dict[str, str]:
    """The answers file; returns the true label of each task id."""
    tasks, workers, labels, truth, *_ = make_synthetic(n_answers)
    order = np.random.default_rng(1).permutation(tasks.size)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("worker,task,label\n")
        handle.write("".join(f"w{w},t{t},{LABEL_NAMES[label]}\n" for w, t, label in zip(
            workers[order].tolist(), tasks[order].tolist(), labels[order].tolist())))
    return {f"t{task}": LABEL_NAMES[label] for task, label in enumerate(truth.tolist())}


def timed_process(command: list[str], workdir: Path) -> dict:
    """Wall and CPU seconds and peak RSS (MB) of one process, from GNU time."""
    report = workdir / "time.txt"
    subprocess.run(["/usr/bin/time", "-f", "%e %U %S %M", "-o", str(report), *command],
                   cwd=ROOT, check=True, capture_output=True, timeout=1800)
    wall, user, system, peak_kb = report.read_text().split()[-4:]
    return {"wall": float(wall), "cpu": float(user) + float(system), "peak_mb": int(peak_kb) / 1024}


def accuracy(results: Path, truth: dict[str, str]) -> float:
    with open(results, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(truth), (results, len(rows))
    return 100 * sum(truth[row["task"]] == row["label"] for row in rows) / len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--crowdkit-python", default="/tmp/bench-venv-kinds/bin/python")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        answers = workdir / "answers.csv"
        truth = write_answers(answers, args.answers)
        commands = {
            "crowd-kit DS": [args.crowdkit_python, "-c", CROWDKIT_SCRIPT, str(answers),
                             str(workdir / "crowdkit.csv")],
            "ours (ds)": [str(ROOT / ".venv/bin/python"), "-m", "chalicelib.aggregation",
                          "--answers", str(answers), "--method", "ds",
                          "--out", str(workdir / "ours.csv")],
        }
        outputs = {"crowd-kit DS": workdir / "crowdkit.csv", "ours (ds)": workdir / "ours.csv"}
        runs: dict[str, list[dict]] = {name: [] for name in commands}
        loads = [os.getloadavg()]
        for repeat in range(args.repeats):
            for name, command in commands.items():
                runs[name].append(timed_process(command, workdir))
                print(f"run {repeat + 1} {name}: {runs[name][-1]}", flush=True)
            loads.append(os.getloadavg())
        scores = {name: accuracy(path, truth) for name, path in outputs.items()}
    print(f"\n{args.answers:,} answers x 5 labels, {args.repeats} alternating runs each; "
          f"load average (1 min) before/after each round: "
          f"{', '.join(f'{load[0]:.2f}' for load in loads)}\n")
    print("| process | wall s (median) | wall s (runs) | CPU s (median) | peak RSS MB (max) "
          "| accuracy % |")
    print("|---|---:|---|---:|---:|---:|")
    for name, measured in runs.items():
        walls = ", ".join(f"{r['wall']:.2f}" for r in measured)
        print(f"| {name} | {statistics.median(r['wall'] for r in measured):.2f} "
              f"| {walls} "
              f"| {statistics.median(r['cpu'] for r in measured):.2f} "
              f"| {max(r['peak_mb'] for r in measured):.0f} | {scores[name]:.2f} |")
    theirs, ours = runs["crowd-kit DS"], runs["ours (ds)"]
    ratios = [t["wall"] / o["wall"] for t, o in zip(theirs, ours)]
    wall_ratio = (statistics.median(r["wall"] for r in theirs)
                  / statistics.median(r["wall"] for r in ours))
    cpu_ratio = (statistics.median(r["cpu"] for r in theirs)
                 / statistics.median(r["cpu"] for r in ours))
    peak = max(r["peak_mb"] for r in ours)
    print(f"\ncrowd-kit / ours: {wall_ratio:.1f}x wall (per round: "
          f"{', '.join(f'{r:.1f}x' for r in ratios)}), {cpu_ratio:.1f}x CPU "
          f"(goal >= 25x: {'met' if wall_ratio >= 25 else 'NOT met'}); our peak RSS {peak:.0f} MB "
          f"(goal < 1024: {'met' if peak < 1024 else 'NOT met'}); accuracy "
          f"{scores['ours (ds)']:.2f} vs {scores['crowd-kit DS']:.2f} % "
          f"({'as accurate or more' if scores['ours (ds)'] >= scores['crowd-kit DS'] else 'LESS accurate'})")


if __name__ == "__main__":
    main()
