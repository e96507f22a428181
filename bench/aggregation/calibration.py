"""Calibrated confidence (issue 15, item 5): ECE of the default method's confidence on the
tasks without gold, before and after the cross-fitted Platt map, with 10 % of the gold
revealed, over seeds; on the shared datasets (skipped when absent).

    .venv/bin/python bench/aggregation/calibration.py [--seeds 5]

Nothing here was tuned on these figures: the map (Platt, prior precision 1 towards the
identity, 5 folds, at least 30 gold tasks) was fixed before they were first computed.
The sampling floor is the ECE a perfectly calibrated confidence would show on the same
number of tasks (outcomes drawn from the calibrated confidence itself): 15-bin ECE on a few
hundred tasks cannot be much below it, whatever the method.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from datasets import available, load, reveal_gold  # noqa: E402

from chalicelib.aggregation import DEFAULT_METHOD, aggregate  # noqa: E402
from chalicelib.aggregation.classification import calibration  # noqa: E402


def one_run(encoded, truth, seed: int) -> dict:
    sizes = (len(encoded.task_ids), len(encoded.worker_ids), len(encoded.label_values))
    known = reveal_gold(truth, 0.1, seed)

    def fit(known_labels):
        return aggregate(DEFAULT_METHOD, encoded.tasks, encoded.workers, encoded.labels, *sizes,
                         known=known_labels).posterior

    started = time.process_time()
    posterior = fit(known)
    fitted = calibration.calibrate(fit, known)
    seconds = time.process_time() - started
    after = fitted.apply(posterior)
    hidden = (truth >= 0) & (known < 0)

    def ece(p):
        return calibration.expected_calibration_error(p[hidden].max(1), p[hidden].argmax(1) == truth[hidden])

    confident = after[hidden].max(1)
    draws = np.random.default_rng(seed)
    floor = np.mean([calibration.expected_calibration_error(confident, draws.random(confident.size) < confident)
                     for _ in range(50)])
    return {"before": ece(posterior), "after": ece(after), "estimate": fitted.ece_after,
            "gold": fitted.gold_tasks, "floor": floor, "cpu": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    print(f"ECE (15 bins) of `{DEFAULT_METHOD}` on tasks without gold, 10 % gold revealed, "
          f"seeds 0..{args.seeds - 1}: mean [worst]")
    print()
    print("| dataset | gold tasks | before | after | manifest's estimate | sampling floor | "
          "goal: mean <= 0.05 | CPU s (fit + 5 refits) |")
    print("|---|---|---|---|---|---|---|---|")
    for name in available():
        encoded, truth, _ = load(name)
        runs = [one_run(encoded, truth, seed) for seed in range(args.seeds)]

        def cell(key):
            values = [r[key] for r in runs if r[key] is not None]
            return f"{np.mean(values):.3f} [{max(values):.3f}]" if values else "n/a (too little gold)"

        print(f"| {name} | {runs[0]['gold']} | {cell('before')} | {cell('after')} | {cell('estimate')} | "
              f"{np.mean([r['floor'] for r in runs]):.3f} | {'met' if np.mean([r['after'] for r in runs]) <= 0.05 else 'not met'} | "
              f"{np.median([r['cpu'] for r in runs]):.2f} |")


if __name__ == "__main__":
    main()
