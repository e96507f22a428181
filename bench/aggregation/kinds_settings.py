"""How the settings of the ``number`` model were chosen: on synthetic crowds, not on the
shared datasets (issue 13; the brief: settings by a procedure, never by the benchmark's scores).

    .venv/bin/python bench/aggregation/kinds_settings.py

A synthetic crowd: 300 tasks with true values uniform on 0..100, 8 answers each from 40
workers; a worker has a bias ~ N(0, 6^2), a noise sd ~ 4 x lognormal(0, 0.6), and gives a wild
answer (uniform on 0..100) with probability 0.02 (80 % of workers) or 0.25 (20 %); answers are
clipped to 0..100 and rounded to integers. For each candidate setting the mean absolute error
over 6 seeds is printed, with the plain mean and median for scale; the lowest is the default.
"""
from __future__ import annotations

import itertools
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from chalicelib.aggregation.numeric._numbers import Numbers  # noqa: E402
from chalicelib.aggregation.numeric.bias_variance import fit_arrays  # noqa: E402
from chalicelib.aggregation.numeric.mean import task_moments  # noqa: E402
from chalicelib.aggregation.numeric.median import task_medians  # noqa: E402


def crowd(seed: int, n_tasks: int = 300, n_workers: int = 40, per_task: int = 8):
    rng = np.random.default_rng(seed)
    truth = rng.uniform(0, 100, n_tasks)
    bias = rng.normal(0, 6, n_workers)
    sd = 4 * rng.lognormal(0, 0.6, n_workers)
    wild = np.where(rng.random(n_workers) < 0.2, 0.25, 0.02)
    task = np.repeat(np.arange(n_tasks), per_task)
    worker = np.concatenate([rng.choice(n_workers, per_task, replace=False) for _ in range(n_tasks)])
    value = truth[task] + bias[worker] + rng.normal(0, 1, task.size) * sd[worker]
    value = np.where(rng.random(task.size) < wild[worker], rng.uniform(0, 100, task.size), value)
    value = np.round(np.clip(value, 0, 100))
    data = Numbers(task, worker, value, list(range(n_tasks)), list(range(n_workers)),
                   np.full(n_tasks, np.nan), 0.0, 100.0, None)
    return data, truth


def main() -> int:
    seeds = range(6)
    crowds = [crowd(seed) for seed in seeds]
    mae = lambda estimate, truth: float(np.abs(estimate - truth).mean())  # noqa: E731
    print(f"mean   {np.mean([mae(task_moments(d.task, d.value, d.n_tasks)[0], t) for d, t in crowds]):.3f}")
    print(f"median {np.mean([mae(task_medians(d.task, d.value, d.n_tasks), t) for d, t in crowds]):.3f}")
    grid = {"bias_strength": [1.0, 3.0, 10.0], "variance_strength": [3.0, 10.0, 30.0],
            "outlier_prior": [0.0, 0.02, 0.05], "robust_scale": [True, False]}
    results = []
    for values in itertools.product(*grid.values()):
        setting = dict(zip(grid, values))
        score = np.mean([mae(fit_arrays(d, **setting)[0], t) for d, t in crowds])
        results.append((score, setting))
    for score, setting in sorted(results, key=lambda r: r[0])[:8]:
        print(f"{score:.3f} {setting}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
