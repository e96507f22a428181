"""Adaptive overlap and gold mixing, replayed on the shared datasets (a simulation, not a test).

    .venv/bin/python bench/adaptive_overlap.py            # prints the tables
    .venv/bin/python bench/adaptive_overlap.py --write    # and writes them into bench/RESULTS.md

Each dataset's recorded answers are replayed per task in a seeded random order (the same order
for every policy, so policies differ only in how many of a task's answers they take):
- fixed overlap k: every task gets its first k answers (all of them if it has fewer);
- adaptive (min, max, target): every task gets min answers; then in rounds, as the scheduled
  aggregator would, all collected answers are aggregated with the default method, and each task
  whose confidence is below the target and that has fewer than max answers gets one more of its
  recorded answers; collection stops when no task gets one.
Accuracy is on the gold labels of the datasets (every task has one). "Saved" compares an
adaptive setting with the fixed overlap it matches or beats in accuracy at the lowest cost.

Gold mixing: 10 % of the tasks (seeded) are control tasks whose labels are known to the
aggregation (`known`, as the aggregator uses a project's gold tasks); accuracy is measured on
the other 90 % with and without the known labels, at full overlap and adaptively.
Datasets that are absent (../shared/datasets) are skipped.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent / "aggregation"))
from datasets import REPO, available, load, reveal_gold  # noqa: E402

from chalicelib.aggregation import DEFAULT_METHOD, aggregate  # noqa: E402
from chalicelib.services.quality import reliability  # noqa: E402

RESULTS = REPO / "bench" / "RESULTS.md"
SECTION = "## Quality control (issue 4)"
SEEDS = (0, 1, 2)
TARGETS = (0.9, 0.95, 0.99, 0.999)
GOLD_SHARE = 0.1


class Replay:
    """A dataset's answers grouped per task, each task's in a seeded random order."""

    def __init__(self, encoded, truth, seed: int):
        rng = np.random.default_rng(seed)
        self.encoded, self.truth = encoded, truth
        self.n_tasks, self.n_workers = len(encoded.task_ids), len(encoded.worker_ids)
        self.n_labels = len(encoded.label_values)
        order = np.argsort(encoded.tasks, kind="stable")
        starts = np.searchsorted(encoded.tasks[order], np.arange(self.n_tasks + 1))
        self.per_task = [rng.permutation(order[starts[i]:starts[i + 1]]) for i in range(self.n_tasks)]
        self.available = np.array([len(p) for p in self.per_task])

    def fit(self, taken: np.ndarray, known: np.ndarray | None = None):
        rows = np.concatenate([self.per_task[i][:taken[i]] for i in range(self.n_tasks)])
        e = self.encoded
        return aggregate(DEFAULT_METHOD, e.tasks[rows], e.workers[rows], e.labels[rows],
                         self.n_tasks, self.n_workers, self.n_labels, known=known)

    def fixed(self, k: int, known=None, scored=None) -> tuple[int, float]:
        taken = np.minimum(self.available, k)
        return self.outcome(taken, self.fit(taken, known), scored)

    def adaptive(self, low: int, high: int, target: float, known=None, scored=None) -> tuple[int, float]:
        cap = np.minimum(self.available, high)
        taken = np.minimum(cap, low)
        if known is not None:  # control tasks keep every answer the workers gave them
            taken[known >= 0] = self.available[known >= 0]
        while True:
            result = self.fit(taken, known)
            more = (result.confidence < target) & (taken < cap)
            if known is not None:
                more &= known < 0
            if not more.any():
                return self.outcome(taken, result, scored)
            taken = taken + more

    def outcome(self, taken, result, scored) -> tuple[int, float]:
        scored = np.ones(self.n_tasks, dtype=bool) if scored is None else scored
        scored = scored & (self.truth >= 0)
        accuracy = float((result.labels[scored] == self.truth[scored]).mean() * 100)
        return int(taken[scored].sum()), accuracy


def mean_over_seeds(encoded, truth, run) -> tuple[float, float]:
    outcomes = [run(Replay(encoded, truth, seed)) for seed in SEEDS]
    return float(np.mean([o[0] for o in outcomes])), float(np.mean([o[1] for o in outcomes]))


def dataset_tables(name: str) -> tuple[list[str], dict]:
    encoded, truth, _ = load(name)
    replay = Replay(encoded, truth, 0)
    full = int(np.median(replay.available))
    ks = sorted({k for k in (1, 2, 3, 4, 5, 7, 10, 15, 20, 30, full) if k <= full})
    rows, fixed, adaptive = [], {}, {}
    for k in ks:
        fixed[k] = mean_over_seeds(encoded, truth, lambda r, k=k: r.fixed(k))
        rows.append(f"| fixed {k} | | {fixed[k][0]:,.0f} | {fixed[k][0] / replay.n_tasks:.2f} | {fixed[k][1]:.2f} |")
    lows = sorted({m for m in (1, 2, 3) if m < full})
    for low in lows:
        for target in TARGETS:
            setting = (low, full, target)
            adaptive[setting] = mean_over_seeds(encoded, truth, lambda r, s=setting: r.adaptive(*s))
            used, acc = adaptive[setting]
            rows.append(f"| adaptive min {low}, max {full}, target {target} | | {used:,.0f} | "
                        f"{used / replay.n_tasks:.2f} | {acc:.2f} |")
    summary, unmatched = [], []
    for k in ks:
        cost, accuracy = fixed[k]
        matching = [(used, acc, s) for s, (used, acc) in adaptive.items() if acc >= accuracy - 1e-9 and used < cost]
        if matching:
            used, acc, (low, high, target) = min(matching)
            summary.append(f"| {name} | {k} | {cost:,.0f} | {accuracy:.2f} | min {low}, max {high}, target {target} "
                           f"| {used:,.0f} | {acc:.2f} | {cost - used:,.0f} ({(cost - used) / cost * 100:.1f} %) |")
        elif k == full:
            unmatched.append(f"{name} ({full}: {accuracy:.2f} %)")
    table = [f"#### {name} ({replay.n_tasks:,} tasks, {len(encoded.tasks):,} answers, median {full} per task)", "",
             "| policy | | answers used | per task | accuracy % |", "|---|---|---:|---:|---:|", *rows, ""]
    return table, {"summary": summary, "unmatched": unmatched, "gold": gold_rows(name, encoded, truth, full)}


def gold_rows(name, encoded, truth, full) -> list[str]:
    out = []
    for label, run in (("fixed " + str(full), lambda r, known, scored: r.fixed(full, known, scored)),
                       (f"adaptive min 2, max {full}, target 0.95",
                        lambda r, known, scored: r.adaptive(min(2, full), full, 0.95, known, scored))):
        with_gold, without = [], []
        for seed in SEEDS:
            known = reveal_gold(truth, GOLD_SHARE, seed)
            scored = known < 0
            replay = Replay(encoded, truth, seed)
            with_gold.append(run(replay, known, scored))
            without.append(run(replay, None, scored))
        g_used, g_acc = np.mean(with_gold, axis=0)
        n_used, n_acc = np.mean(without, axis=0)
        out.append(f"| {name} | {label} | {n_used:,.0f} | {n_acc:.2f} | {g_used:,.0f} | {g_acc:.2f} | "
                   f"{g_acc - n_acc:+.2f} |")
    return out


MIN_WORKER_ANSWERS = 10  # a worker's true accuracy is too noisy to score below this
WEIGHTS = (4, 8, 16, 32)


def reliability_errors(name, encoded, truth) -> tuple[int, list[float]]:
    """How well each estimate predicts a worker's true accuracy (its answers against the
    datasets' gold labels, all tasks), when 10 % of the tasks are control tasks: gold alone
    (c + 0.5) / (n + 1), the method's estimate alone, and the combined formula of
    chalicelib.services.quality for several weights of the estimate. Mean absolute error in
    points, weighted by the worker's answers, over workers with MIN_WORKER_ANSWERS answers."""
    n_workers = len(encoded.worker_ids)
    answers = np.bincount(encoded.workers, minlength=n_workers)
    right = np.bincount(encoded.workers, weights=encoded.labels == truth[encoded.tasks], minlength=n_workers)
    scored = answers >= MIN_WORKER_ANSWERS
    true = right[scored] / answers[scored]
    errors = {k: [] for k in ("gold", "model", *WEIGHTS)}
    for seed in SEEDS:
        known = reveal_gold(truth, GOLD_SHARE, seed)
        result = aggregate(DEFAULT_METHOD, encoded.tasks, encoded.workers, encoded.labels,
                           len(encoded.task_ids), n_workers, len(encoded.label_values), known=known)
        on_gold = known[encoded.tasks] >= 0
        n = np.bincount(encoded.workers[on_gold], minlength=n_workers)[scored]
        c = np.bincount(encoded.workers[on_gold], weights=encoded.labels[on_gold] == known[encoded.tasks[on_gold]],
                        minlength=n_workers)[scored]
        model = result.worker_reliability[scored]
        estimates = {"gold": (c + 0.5) / (n + 1), "model": model}
        for weight in WEIGHTS:
            estimates[weight] = (c + weight * np.clip(model, 0, 1)) / (n + weight)
        for key, estimate in estimates.items():
            errors[key].append(np.average(np.abs(estimate - true), weights=answers[scored]) * 100)
    assert np.allclose(estimates[16], [reliability(int(a), int(b), float(m)) for a, b, m in zip(n, c, model)])
    return int(scored.sum()), [float(np.mean(errors[k])) for k in ("gold", "model", *WEIGHTS)]


def reliability_table(per_dataset: dict[str, tuple[int, list[float]]]) -> list[str]:
    rows = [f"| {name} | {workers} | " + " | ".join(f"{e:.2f}" for e in errors) + " |"
            for name, (workers, errors) in per_dataset.items()]
    columns = np.array([errors for _, errors in per_dataset.values()])
    rows.append("| **mean** | | " + " | ".join(f"{e:.2f}" for e in columns.mean(axis=0)) + " |")
    rows.append("| **worst** | | " + " | ".join(f"{e:.2f}" for e in columns.max(axis=0)) + " |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="write the tables into bench/RESULTS.md")
    args = parser.parse_args()
    names = available()
    if not names:
        print("../shared/datasets is absent: nothing to replay")
        return
    started = time.time()
    per_dataset, summary, gold, worker_errors, unmatched = [], [], [], {}, []
    for name in names:
        table, extra = dataset_tables(name)
        per_dataset += table
        summary += extra["summary"]
        unmatched += extra["unmatched"]
        gold += extra["gold"]
        worker_errors[name] = reliability_errors(name, *load(name)[:2])
        print("\n".join(table), flush=True)
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started))
    lines = [
        SECTION, "",
        f"Produced by `.venv/bin/python bench/adaptive_overlap.py --write` on {stamp} "
        f"({time.time() - started:.0f} s). Method `{DEFAULT_METHOD}`; every figure is the mean over "
        f"replay seeds {', '.join(map(str, SEEDS))} (the order in which each task's recorded answers "
        "arrive). See the script's docstring for the simulation.", "",
        "### Adaptive overlap: answers saved at equal or better accuracy", "",
        "For each fixed overlap, the cheapest adaptive setting whose accuracy is at least as high "
        "(no row: no adaptive setting both matched it and used fewer answers).", "",
        "| dataset | fixed overlap | answers | accuracy % | adaptive setting | answers | accuracy % | saved |",
        "|---|---:|---:|---:|---|---:|---:|---:|", *summary, "",
        "The full recorded overlap is matched by no adaptive setting tried on: "
        + (", ".join(unmatched) or "none") + ".", "",
        "### Every policy per dataset", "", *per_dataset,
        f"### Accuracy with and without gold mixing ({GOLD_SHARE:.0%} of tasks as known control tasks)", "",
        "Accuracy and answers on the other 90 % of the tasks (the control tasks' own answers are "
        "collected in both cases: only whether their labels are known differs).", "",
        "| dataset | collection | answers, no gold | accuracy % no gold | answers, gold mixed | "
        "accuracy % gold mixed | gain, points |", "|---|---|---:|---:|---:|---:|---:|", *gold, "",
        "### Worker reliability: which estimate predicts a worker's true accuracy", "",
        f"With {GOLD_SHARE:.0%} of the tasks as control tasks: mean absolute error (points, weighted "
        f"by answers; workers with {MIN_WORKER_ANSWERS}+ answers) between a worker's accuracy on all "
        "the dataset's tasks and its estimate from gold alone, (c + 0.5) / (n + 1); from the method "
        f"(`{DEFAULT_METHOD}`) alone; and combined, (c + w * estimate) / (n + w), the formula of "
        "chalicelib.services.quality (w = 16 there). Lower is better.", "",
        "| dataset | workers | gold alone | method alone | " + " | ".join(f"w = {w}" for w in WEIGHTS) + " |",
        "|---|---:|" + "---:|" * (2 + len(WEIGHTS)), *reliability_table(worker_errors), ""]
    text = "\n".join(lines)
    print(text)
    if args.write:
        current = RESULTS.read_text()
        if SECTION in current:
            before, _, after = current.partition(SECTION)
            rest = after.split("\n## ", 1)
            current = before + text + ("\n## " + rest[1] if len(rest) > 1 else "")
        else:
            current = current.rstrip("\n") + "\n\n" + text
        RESULTS.write_text(current)
        print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
