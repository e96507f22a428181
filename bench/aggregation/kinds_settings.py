"""How the defaults of the kinds were chosen: on synthetic crowds, not on the shared datasets
(issue 13; the brief: settings by a procedure, never by the benchmark's scores).

    .venv/bin/python bench/aggregation/kinds_settings.py

text: ROVER against the weighted medoid as the default: 400 synthetic transcriptions of 12
words from a 300-word vocabulary, 7 answers each from 60 workers whose per-word error rate
is 0.02 to 0.3 (substitution, deletion or insertion alike); WER of each method.

pairwise: Crowd-BT against plain Bradley-Terry: 30 items with strengths N(0, 1), 600 random
pairs x 5 answers from 25 workers, 20 % of them careless (eta 0.5) and 8 % adversarial (eta
0.2); Kendall tau-b against the true order, mean over 5 seeds. (The default has since moved to
`crowd_davidson`, Crowd-BT with per-worker tie propensities, which the held-out likelihood of
the answers prefers on both shared pairwise datasets: bench/aggregation/pairwise_synthetic.py
and bench/RESULTS.md, "Task kinds".)

rating (no shared dataset has ratings): the ordinal model against the median on 300 tasks on
a 5-point scale, 5 ratings each from 20 workers: 3 harsh (bias +0.8), 5 careful (spread 0.5),
12 rating at random; share of tasks rated right.

number: a synthetic crowd: 300 tasks with true values uniform on 0..100, 8 answers each from 40
workers; a worker has a bias ~ N(0, 6^2), a noise sd ~ 4 x lognormal(0, 0.6), and gives a wild
answer (uniform on 0..100) with probability 0.02 (80 % of workers) or 0.25 (20 %); answers are
clipped to 0..100 and rounded to integers. For each candidate setting the mean absolute error
over 6 seeds is printed, with the plain mean and median for scale; the lowest is the default.
Then the per-project choice among the model, the mean and the median by cross-validated
squared error of held-out answers (bias_variance's docstring) on that crowd and on an equal
crowd (every worker unbiased, noise sd 8, no wild answers), where the mean should win: which
candidate each seed chose, and the published estimate's MAE against the mean's.
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


def equal_crowd(seed: int, n_tasks: int = 300, n_workers: int = 40, per_task: int = 8):
    rng = np.random.default_rng(seed)
    truth = rng.uniform(0, 100, n_tasks)
    task = np.repeat(np.arange(n_tasks), per_task)
    worker = np.concatenate([rng.choice(n_workers, per_task, replace=False) for _ in range(n_tasks)])
    value = np.round(np.clip(truth[task] + rng.normal(0, 8, task.size), 0, 100))
    data = Numbers(task, worker, value, list(range(n_tasks)), list(range(n_workers)),
                   np.full(n_tasks, np.nan), 0.0, 100.0, None)
    return data, truth


def check_number_selection() -> None:
    from chalicelib.aggregation import KindAnswer, aggregate_kind

    for name, make in [("biased/noisy/wild crowd", crowd), ("equal crowd", equal_crowd)]:
        chosen, default_mae, mean_mae = [], [], []
        for seed in range(6):
            data, truth = make(seed)
            answers = [KindAnswer(str(w), str(t), float(v))
                       for t, w, v in zip(data.task, data.worker, data.value)]
            result = aggregate_kind("number", answers, {"min": 0, "max": 100})
            chosen.append(result.params["model"])
            default_mae.append(np.mean([abs(result.tasks[str(t)].answer - truth[t])
                                        for t in range(data.n_tasks)]))
            mean_mae.append(np.abs(task_moments(data.task, data.value, data.n_tasks)[0] - truth).mean())
        print(f"number selection on {name}: chose {chosen}; MAE default {np.mean(default_mae):.3f}, "
              f"mean {np.mean(mean_mae):.3f}")


def text_crowd(seed: int):
    from chalicelib.aggregation import KindAnswer

    rng = np.random.default_rng(seed)
    vocabulary = [f"w{i}" for i in range(300)]
    error = rng.uniform(0.02, 0.3, 60)
    answers, truth = [], {}
    for task in range(400):
        words = list(rng.choice(vocabulary, 12))
        truth[str(task)] = " ".join(words)
        for worker in rng.choice(60, 7, replace=False):
            written = []
            for word in words:
                roll = rng.random()
                if roll < error[worker] / 3:
                    written.append(str(rng.choice(vocabulary)))  # substitution
                elif roll < 2 * error[worker] / 3:
                    continue  # deletion
                elif roll < error[worker]:
                    written += [word, str(rng.choice(vocabulary))]  # insertion
                else:
                    written.append(word)
            answers.append(KindAnswer(str(worker), str(task), " ".join(written)))
    return answers, truth


def pairwise_crowd(seed: int):
    from chalicelib.aggregation import KindAnswer

    rng = np.random.default_rng(seed)
    strength = rng.normal(0, 1, 30)
    eta = np.where(rng.random(25) < 0.2, 0.5, rng.uniform(0.8, 1.0, 25))
    eta[rng.random(25) < 0.08] = 0.2
    answers = []
    for pair in range(600):
        i, j = rng.choice(30, 2, replace=False)
        for worker in rng.choice(25, 5, replace=False):
            truthful = rng.random() < 1 / (1 + np.exp(-(strength[i] - strength[j])))
            says_i = truthful if rng.random() < eta[worker] else not truthful
            answers.append(KindAnswer(str(worker), str(pair), {
                "left": str(i), "right": str(j), "winner": str(i if says_i else j)}))
    return answers, strength


def choose_text_and_pairwise() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from chalicelib.aggregation import aggregate_kind
    from kind_metrics import corpus_wer, kendall_tau_b

    for method in ("rover", "weighted_medoid", "medoid"):
        wer = []
        for seed in range(2):
            answers, truth = text_crowd(seed)
            result = aggregate_kind("text", answers, {}, method=method)
            wer.append(corpus_wer({t: o.answer for t, o in result.tasks.items()}, truth))
        print(f"text {method:16s} WER {np.mean(wer):.4f}")
    for method in ("crowd_bt", "bt", "win_rate"):
        taus = []
        for seed in range(5):
            answers, strength = pairwise_crowd(seed)
            result = aggregate_kind("pairwise", answers, {"allow_tie": False}, method=method)
            score = {row["item"]: row["score"] for row in result.ranking}
            items = sorted(score, key=int)
            taus.append(kendall_tau_b([score[i] for i in items], strength[[int(i) for i in items]]))
        print(f"pairwise {method:10s} tau-b {np.mean(taus):.4f}")


def compare_ratings() -> None:
    from chalicelib.aggregation import KindAnswer, aggregate_kind

    accuracy = {"ordinal": [], "median": []}
    for seed in range(3):
        rng = np.random.default_rng(seed)
        truth = rng.integers(0, 5, 300)
        answers = []
        for task in range(300):
            for worker in rng.choice(20, 5, replace=False):
                if worker < 8:
                    seen = truth[task] + rng.normal(0.8 if worker < 3 else 0.0, 0.5)
                else:
                    seen = rng.integers(0, 5)
                answers.append(KindAnswer(str(worker), str(task), int(np.clip(np.round(seen), 0, 4)) + 1))
        for method in accuracy:
            result = aggregate_kind("rating", answers, {"scale": list("12345")}, method=method)
            accuracy[method].append(np.mean([result.tasks[str(t)].answer - 1 == truth[t]
                                             for t in range(300)]))
    for method, values in accuracy.items():
        print(f"rating {method:8s} accuracy {np.mean(values):.3f}")


def main() -> int:
    compare_ratings()
    choose_text_and_pairwise()
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
    check_number_selection()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
