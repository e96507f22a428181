"""Truth-inference benchmark: our methods vs crowd-kit 1.4.2 on the shared datasets + synthetic.

    /tmp/bench-venv/bin/python bench/aggregation/run.py            # full run, writes RESULTS.md
    /tmp/bench-venv/bin/python bench/aggregation/run.py --quick    # fewer repeats, no 1M crowd-kit

Not a test. Needs the packages in bench/aggregation/requirements.txt. Every timing ratio is
computed from timings taken in this same run (machine noise cancels out). Datasets that are
absent (../shared/datasets relative to the repo) are skipped.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from datasets import REPO, available, load, reveal_gold  # noqa: E402
from synthetic import make_synthetic  # noqa: E402

from chalicelib.aggregation import DEFAULT_METHOD, METHODS, aggregate  # noqa: E402
from chalicelib.aggregation.classification import calibration  # noqa: E402

CROWDKIT = ["MV", "Wawa", "DS", "GLAD", "MACE", "OneCoinDS"]
ECE_BINS = 15
RESULTS = REPO / "bench" / "RESULTS.md"
HEADING = "## Truth inference (issue 3)"
# Best crowd-kit 1.4.2 accuracy per dataset from ../shared/datasets/README.md (any method,
# including the 500-step "DS-conv" run), the reference of the per-dataset goal.
README_BEST_CROWDKIT = {"rte": 92.75, "temp": 94.37, "bluebirds": 89.81, "dog": 84.26,
                        "face": 64.04, "product": 93.97}
# Filled by the sections below, read by goals_summary().
FINDINGS: dict = {"accuracy": {}, "ds_ratio": {}, "gold": {}, "scale": {}}


# --- helpers -----------------------------------------------------------------------------------


def expected_calibration_error(posterior: np.ndarray, truth: np.ndarray) -> float:
    """ECE with 15 equal-width confidence bins over the tasks that have a true label (the
    aggregation's own measure, classification.calibration)."""
    scored = truth >= 0
    return calibration.expected_calibration_error(posterior[scored].max(axis=1),
                                                  posterior[scored].argmax(axis=1) == truth[scored], ECE_BINS)


def timed(function, repeats: int, budget_seconds: float = 30.0):
    """(last result, median wall seconds, median CPU seconds of this process).

    CPU time is reported next to wall time because this 2-core machine is shared: other
    processes inflate wall time (short runs the most), not the CPU time we consume.
    Stops repeating once ``budget_seconds`` are spent.
    """
    walls, cpus, result = [], [], None
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = function()
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - start_cpu)
        if sum(walls) > budget_seconds:
            break
    return result, statistics.median(walls), statistics.median(cpus)


def crowdkit_model(name: str):
    from crowdkit.aggregation import GLAD, MACE, DawidSkene, MajorityVote, OneCoinDawidSkene, Wawa
    return {"MV": MajorityVote, "Wawa": Wawa, "DS": lambda: DawidSkene(n_iter=100, tol=1e-5),
            "GLAD": GLAD, "MACE": MACE, "OneCoinDS": OneCoinDawidSkene}[name]()


def crowdkit_frame(tasks, workers, labels):
    import pandas as pd
    return pd.DataFrame({"worker": workers, "task": tasks, "label": labels})


def crowdkit_fitted(name: str, frame, true_labels=None):
    """(model, its labels) after ``fit_predict`` on ``frame``: the part that is timed."""
    model = crowdkit_model(name)
    if true_labels is not None:
        return model, model.fit_predict(frame, true_labels=true_labels)
    return model, model.fit_predict(frame)


def crowdkit_outputs(fitted, n_tasks: int, n_labels: int):
    """(labels per task index, posterior matrix or None) of a fitted crowd-kit model."""
    model, labels = fitted
    predicted = np.full(n_tasks, -1)
    predicted[labels.index.to_numpy(dtype=int)] = labels.to_numpy(dtype=int)
    probas = getattr(model, "probas_", None)
    posterior = None
    if probas is not None:
        probas = probas.reindex(index=range(n_tasks), columns=range(n_labels)).fillna(0.0)
        posterior = probas.to_numpy(dtype=float)
    return predicted, posterior


def crowdkit_iterations(fitted) -> int | None:
    history = getattr(fitted[0], "loss_history_", None)
    return None if history is None else len(history)


def accuracy(predicted: np.ndarray, truth: np.ndarray, mask: np.ndarray | None = None) -> float:
    scored = truth >= 0 if mask is None else mask & (truth >= 0)
    return float((predicted[scored] == truth[scored]).mean() * 100)


# --- sections ----------------------------------------------------------------------------------


def real_datasets(repeats: int, ck_repeats: int, skip_crowdkit: bool) -> list[str]:
    lines = ["### Real datasets: accuracy % (median fit time), ECE of the posterior", ""]
    ours = list(METHODS)
    theirs = [] if skip_crowdkit else CROWDKIT
    header = ["dataset"] + [f"**{m}**" if m == DEFAULT_METHOD else m for m in ours] + \
             [f"ck {m}" for m in theirs] + [f"ck DS / {DEFAULT_METHOD}: wall, CPU"]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    ece_rows, means = [], {m: [] for m in ours + [f"ck {m}" for m in theirs]}
    for name in available():
        encoded, truth, _ = load(name)
        sizes = len(encoded.task_ids), len(encoded.worker_ids), len(encoded.label_values)
        cells, eces, times, cpu_times = [name], [name], {}, {}
        for method in ours:
            result, seconds, cpu_seconds = timed(
                lambda: aggregate(method, encoded.tasks, encoded.workers, encoded.labels, *sizes),
                repeats)
            score = accuracy(result.labels, truth)
            FINDINGS["accuracy"].setdefault(name, {})[method] = score
            means[method].append(score)
            times[method], cpu_times[method] = seconds, cpu_seconds
            cells.append(f"{score:.2f} ({seconds:.3f}s)")
            eces.append(f"{expected_calibration_error(result.posterior, truth):.3f}")
        if theirs:
            frame = crowdkit_frame(encoded.tasks, encoded.workers, encoded.labels)
        for method in theirs:
            fitted, seconds, cpu_seconds = timed(lambda: crowdkit_fitted(method, frame),
                                                 ck_repeats)
            predicted, posterior = crowdkit_outputs(fitted, sizes[0], sizes[2])
            score = accuracy(predicted, truth)
            FINDINGS["accuracy"].setdefault(name, {})[f"ck {method}"] = score
            means[f"ck {method}"].append(score)
            times[f"ck {method}"], cpu_times[f"ck {method}"] = seconds, cpu_seconds
            cells.append(f"{score:.2f} ({seconds:.3f}s)")
            eces.append("n/a" if posterior is None
                        else f"{expected_calibration_error(posterior, truth):.3f}")
        if "ck DS" in times:
            ratios = (times["ck DS"] / times[DEFAULT_METHOD],
                      cpu_times["ck DS"] / cpu_times[DEFAULT_METHOD])
            FINDINGS["ds_ratio"][name] = ratios
            cells.append(f"{ratios[0]:.0f}x, {ratios[1]:.0f}x")
        else:
            cells.append("n/a")
        lines.append("| " + " | ".join(cells) + " |")
        ece_rows.append("| " + " | ".join(eces) + " |")
        print(lines[-1], flush=True)
    lines.append("| **mean** | " + " | ".join(f"{np.mean(v):.2f}" for v in means.values())
                 + " | |")
    lines += ["", "ECE (15 equal-width bins; lower is better):", "",
              "| " + " | ".join(["dataset"] + header[1:-1]) + " |", "|" + "---|" * (len(header) - 1)]
    lines += ece_rows
    return lines


def gold_revealed(skip_crowdkit: bool, share: float = 0.1, seeds: int = 5) -> list[str]:
    """Seed 0 for every method; the default vs crowd-kit DS + gold also over ``seeds`` seeds."""
    ours = [m for m in METHODS if m not in ("mv", "wawa")]
    lines = [f"### {share:.0%} of gold revealed; accuracy % on the other tasks", "",
             "Our methods get the revealed labels as `known`; crowd-kit DS gets them as "
             "`true_labels` (its semi-supervised mode, the fair comparison) and, for reference, "
             f"nothing. Method columns use seed 0; the last columns compare `{DEFAULT_METHOD}` "
             f"with crowd-kit DS + gold over seeds 0..{seeds - 1}: mean [worst seed] difference "
             "in points, and per seed the difference in tasks labelled right (+ = ours "
             "better).", ""]
    header = ["dataset"] + ours + ([] if skip_crowdkit else [
        "ck DS + gold", "ck DS no gold", f"{DEFAULT_METHOD} - ck DS+gold, {seeds} seeds",
        "tasks per seed"])
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name in available():
        encoded, truth, _ = load(name)
        sizes = len(encoded.task_ids), len(encoded.worker_ids), len(encoded.label_values)
        frame = None if skip_crowdkit else crowdkit_frame(encoded.tasks, encoded.workers,
                                                          encoded.labels)
        cells, differences, task_differences = [name], [], []
        for seed in range(seeds if not skip_crowdkit else 1):
            known = reveal_gold(truth, share, seed)
            hidden = known < 0
            for method in ours if seed == 0 else [DEFAULT_METHOD]:
                result = aggregate(method, encoded.tasks, encoded.workers, encoded.labels,
                                   *sizes, known=known)
                score = accuracy(result.labels, truth, hidden)
                if seed == 0:
                    cells.append(f"{score:.2f}")
                    FINDINGS["gold"].setdefault(name, {})[method] = score
                if method == DEFAULT_METHOD:
                    default_score = score
            if frame is None:
                continue
            with_gold = _crowdkit_ds_accuracy(frame, sizes, truth, known)
            differences.append(default_score - with_gold)
            scored_hidden = int((hidden & (truth >= 0)).sum())
            task_differences.append(round((default_score - with_gold) * scored_hidden / 100))
            if seed == 0:
                without_gold = _crowdkit_ds_accuracy(frame, sizes, truth, known, use_gold=False)
                cells += [f"{with_gold:.2f}", f"{without_gold:.2f}"]
                FINDINGS["gold"][name]["ck DS + gold"] = with_gold
        if differences:
            FINDINGS["gold"][name]["seeds"] = differences
            FINDINGS["gold"][name]["task_seeds"] = task_differences
            cells.append(f"{np.mean(differences):+.2f} [{min(differences):+.2f}]")
            cells.append(" ".join(f"{d:+d}" for d in task_differences))
        lines.append("| " + " | ".join(cells) + " |")
        print(lines[-1], flush=True)
    return lines


def _crowdkit_ds_accuracy(frame, sizes, truth, known, use_gold: bool = True) -> float:
    import pandas as pd
    revealed = np.flatnonzero(known >= 0)
    gold = pd.Series(known[revealed], index=revealed) if use_gold else None
    predicted, _ = crowdkit_outputs(crowdkit_fitted("DS", frame, gold), sizes[0], sizes[2])
    return accuracy(predicted, truth, known < 0)


def scale_child(kind: str, method: str, n_answers: int) -> None:
    """Runs in a fresh subprocess so peak RSS belongs to one fit only; prints JSON."""
    tasks, workers, labels, truth, n_tasks, n_workers, n_labels = make_synthetic(n_answers)
    if kind == "crowdkit":
        frame = crowdkit_frame(tasks, workers, labels)
        fit = lambda: crowdkit_fitted(method, frame)  # noqa: E731
    else:
        fit = lambda: aggregate(method, tasks, workers, labels, n_tasks, n_workers,  # noqa: E731
                                n_labels)
    # Warm up on a tiny crowd first so lazy imports and first-call costs (pandas, scipy) are
    # not billed to the timed fit, for crowd-kit and for us alike.
    small = make_synthetic(2_000)
    if kind == "crowdkit":
        crowdkit_fitted(method, crowdkit_frame(*small[:3]))
    else:
        aggregate(method, *small[:3], small[4], small[5], small[6])
    before = _reset_peak_rss_mb()
    start, start_cpu = time.perf_counter(), time.process_time()
    fitted = fit()
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - start_cpu
    peak = _peak_rss_mb()
    if kind == "crowdkit":
        predicted, iterations = crowdkit_outputs(fitted, n_tasks, n_labels)[0], \
            crowdkit_iterations(fitted)
    else:
        predicted, iterations = fitted.labels, fitted.iterations
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu_seconds, "peak_mb": peak,
                      "extra_mb": peak - before, "iterations": iterations,
                      "accuracy": float((predicted == truth).mean() * 100)}))


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _reset_peak_rss_mb() -> float:
    """Reset the kernel's peak-RSS mark (Linux) and return the current RSS in MB.

    ru_maxrss is useless here: Linux carries it over from the parent across exec.
    """
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass
    return _status_mb("VmRSS")


def _peak_rss_mb() -> float:
    return _status_mb("VmHWM")


def _child(kind: str, method: str, n_answers: int) -> dict:
    completed = subprocess.run(
        [sys.executable, __file__, "--scale-child", kind, method, str(n_answers)],
        capture_output=True, text=True, check=True)
    return json.loads(completed.stdout.strip().splitlines()[-1])


def _median_run(runs: list[dict]) -> dict:
    best = sorted(runs, key=lambda r: r["seconds"])[len(runs) // 2]
    return {**best, "runs": len(runs),
            "cpu_seconds": statistics.median(r["cpu_seconds"] for r in runs)}


def run_child(kind: str, method: str, n_answers: int, repeats: int) -> dict:
    runs = []
    for _ in range(repeats):
        runs.append(_child(kind, method, n_answers))
        if sum(r["seconds"] for r in runs) > 60:
            break
    return _median_run(runs)


def run_pair(method: str, n_answers: int, repeats: int) -> tuple[dict, dict]:
    """crowd-kit DS and our ``method``, alternating run by run, so that both see the same
    machine (this one is shared, and its load drifts over minutes)."""
    theirs, ours = [], []
    for _ in range(repeats):
        theirs.append(_child("crowdkit", "DS", n_answers))
        ours.append(_child("ours", method, n_answers))
    return _median_run(theirs), _median_run(ours)


def synthetic_scaling(scales: list[int], repeats: int, ck_max: int, skip_crowdkit: bool
                      ) -> list[str]:
    lines = ["### Synthetic scaling (20 answers/worker, 10 answers/task, 5 labels)", "",
             "Each fit in a fresh subprocess (after a 2,000-answer warm-up fit); time = median of "
             f"the runs; crowd-kit DS and `{DEFAULT_METHOD}` alternate run by run (same machine "
             "load). Only the fit is timed (crowd-kit: `fit` on a prepared DataFrame; ours: "
             "`aggregate` on index arrays, validation and sorting included). Both stop when the "
             "objective per answer changes by less than tol = 1e-5 (crowd-kit: its ELBO / "
             "answers, `new - old < tol`; ours: log-likelihood + log prior / answers), at most "
             "100 iterations; `iter` = EM iterations. Peak = process peak RSS (Python, "
             "libraries and data included), extra = peak growth during the fit. The generator "
             "never gives a worker the same task twice.", "",
             "| answers | method | wall time | CPU time | peak RSS | extra | iter | accuracy % "
             "| ck DS / ours (wall, CPU) |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for n in scales:
        reference, rows = None, {}
        if not skip_crowdkit and n <= ck_max:
            reference, rows[DEFAULT_METHOD] = run_pair(DEFAULT_METHOD, n, repeats)
        for kind, method in [("ours", m) for m in METHODS] + (
                [("crowdkit", "DS")] if reference else []):
            if kind == "crowdkit":
                row = reference
            else:
                row = rows.get(method) or run_child(kind, method, n, repeats)
            label = f"ck {method}" if kind == "crowdkit" else method
            FINDINGS["scale"][(n, label)] = row
            ratio = (f"{reference['seconds'] / row['seconds']:.0f}x, "
                     f"{reference['cpu_seconds'] / row['cpu_seconds']:.0f}x"
                     if reference and kind == "ours" else "")
            lines.append(f"| {n:,} | {label} | {row['seconds']:.3f}s | {row['cpu_seconds']:.3f}s "
                         f"| {row['peak_mb']:.0f} MB | {row['extra_mb']:.0f} MB "
                         f"| {row.get('iterations') or ''} | {row['accuracy']:.2f} | {ratio} |")
            print(lines[-1], flush=True)
    return lines


def goals_summary() -> list[str]:
    """The issue's goals, checked against the numbers measured in this run."""
    lines = ["### Goals (issue 3), checked on this run", ""]
    default = DEFAULT_METHOD
    accuracies = FINDINGS["accuracy"]
    if accuracies:
        mean = np.mean([row[default] for row in accuracies.values()])
        lines.append(f"- mean accuracy of `{default}` over {len(accuracies)} datasets: "
                     f"{mean:.3f} % (goal >= 86.6): {'met' if mean >= 86.6 else 'NOT met'}")
        gaps = []
        for name, row in accuracies.items():
            best = max([README_BEST_CROWDKIT.get(name, 0.0)]
                       + [v for k, v in row.items() if k.startswith("ck ")])
            gaps.append(f"{name} {row[default] - best:+.2f}")
        worst = min(float(g.split()[1]) for g in gaps)
        lines.append(f"- `{default}` minus best crowd-kit (README or this run), points: "
                     f"{', '.join(gaps)} (goal >= -0.5): {'met' if worst >= -0.5 else 'NOT met'}")
    if FINDINGS["gold"]:
        rows = [(n, r[default] - r["ck DS + gold"]) for n, r in FINDINGS["gold"].items()
                if "ck DS + gold" in r]
        if rows:
            lines.append(f"- 10 % gold, `{default}` minus crowd-kit DS given the same gold "
                         f"(seed 0), points: {', '.join(f'{n} {d:+.2f}' for n, d in rows)} "
                         f"(goal: never below): "
                         f"{'met' if min(d for _, d in rows) >= 0 else 'NOT met on this seed'}")
        spread = [(n, r["seeds"]) for n, r in FINDINGS["gold"].items() if "seeds" in r]
        if spread:
            below = sum(d < 0 for _, ds in spread for d in ds)
            total = sum(len(ds) for _, ds in spread)
            tasks = [d for r in FINDINGS["gold"].values() for d in r.get("task_seeds", [])]
            lines.append(f"  over {len(spread[0][1])} seeds: mean difference per dataset "
                         + ", ".join(f"{n} {np.mean(ds):+.2f}" for n, ds in spread)
                         + f"; below crowd-kit in {below} of {total} (dataset, seed) runs, "
                         f"worst {min(min(ds) for _, ds in spread):+.2f} points; in tasks "
                         f"labelled right: {sum(d > 0 for d in tasks)} runs ahead, "
                         f"{sum(d == 0 for d in tasks)} level, {sum(d < 0 for d in tasks)} behind "
                         f"(worst {min(tasks):+d}, total {sum(tasks):+d})")
    if FINDINGS["ds_ratio"]:
        ratios = ", ".join(f"{n} {wall:.0f}x / {cpu:.0f}x"
                           for n, (wall, cpu) in FINDINGS["ds_ratio"].items())
        product = FINDINGS["ds_ratio"].get("product")
        verdict = "" if product is None else (
            ": met" if min(product) >= 30 else ": NOT met")
        lines.append(f"- speed, crowd-kit DS / `{default}` median time, wall / CPU (same run; "
                     f"goal >= 30x on product{verdict}): {ratios}")
    for n in sorted({n for n, _ in FINDINGS["scale"]}):
        ours, theirs = FINDINGS["scale"].get((n, default)), FINDINGS["scale"].get((n, "ck DS"))
        if ours and theirs:
            wall = theirs["seconds"] / ours["seconds"]
            cpu = theirs["cpu_seconds"] / ours["cpu_seconds"]
            better = ours["accuracy"] >= theirs["accuracy"]
            lines.append(f"- synthetic {n:,} answers: crowd-kit DS / `{default}` time "
                         f"{wall:.0f}x wall, {cpu:.0f}x CPU (goal >= 30x: "
                         f"{'met' if min(wall, cpu) >= 30 else 'NOT met'}), "
                         f"{ours['iterations']} vs {theirs['iterations']} iterations, accuracy "
                         f"{ours['accuracy']:.2f} vs {theirs['accuracy']:.2f} % "
                         f"({'equal or better' if better else 'WORSE'})")
    million = FINDINGS["scale"].get((1_000_000, default))
    if million:
        ok = million["seconds"] < 5 and million["peak_mb"] < 1024
        lines.append(f"- 1M answers x 5 labels with `{default}`: {million['seconds']:.2f} s wall "
                     f"({million['cpu_seconds']:.2f} s CPU), peak RSS {million['peak_mb']:.0f} MB "
                     f"(goal < 5 s and < 1 GB): {'met' if ok else 'NOT met'}")
    return lines


def write_results(lines: list[str], command: str) -> None:
    section = [HEADING, "", f"Produced by `{command}` (from the repo root) on "
               f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. "
               f"Default method: `{DEFAULT_METHOD}`. `ck` = crowd-kit 1.4.2.", ""] + lines + [""]
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n\n"
    start = text.find(HEADING)
    if start >= 0:  # replace only our own section, keep the others'
        end = text.find("\n## ", start + len(HEADING))
        text = text[:start] + "\n".join(section) + ("" if end < 0 else text[end:])
    else:
        text = text.rstrip("\n") + "\n\n" + "\n".join(section)
    RESULTS.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1 repeat, crowd-kit up to 100k")
    parser.add_argument("--skip-crowdkit", action="store_true")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--only", choices=["real", "gold", "scale"],
                        help="run one section (implies --no-write)")
    parser.add_argument("--scale-child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.scale_child:
        kind, method, n = args.scale_child
        return scale_child(kind, method, int(n))
    if not available():
        print("no datasets found under ../shared/datasets; skipping the real-data sections")
    repeats, ck_repeats = (1, 1) if args.quick else (5, 3)
    wanted = {args.only} if args.only else {"real", "gold", "scale"}
    lines = []
    if "real" in wanted and available():
        lines += real_datasets(repeats, ck_repeats, args.skip_crowdkit) + [""]
    if "gold" in wanted and available():
        lines += gold_revealed(args.skip_crowdkit) + [""]
    if "scale" in wanted:
        lines += synthetic_scaling([10_000, 100_000, 1_000_000], 1 if args.quick else 3,
                                   100_000 if args.quick else 1_000_000,
                                   args.skip_crowdkit) + [""]
    lines += goals_summary()
    print("\n".join(lines))
    if not args.no_write and not args.only:
        write_results(lines, "python " + " ".join(["bench/aggregation/run.py"] + sys.argv[1:]))


if __name__ == "__main__":
    main()
