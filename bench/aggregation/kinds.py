"""Each task kind's default method against its simple baseline and crowd-kit 1.4.2, on the
shared ``<kind>-*`` datasets (issue 13).

    python -m venv /tmp/bench-venv-kinds
    /tmp/bench-venv-kinds/bin/pip install -r bench/aggregation/requirements.txt
    /tmp/bench-venv-kinds/bin/python bench/aggregation/kinds.py [--datasets DIR] [--only NAME ...]

Metrics as the datasets' READMEs define them: number MAE and Pearson r against the expert
value (each emotion dimension aggregated as its own project, as the README advises, for every
method); text corpus WER after lower-casing and dropping punctuation but apostrophes;
multiple choice F1 of each expert-judged label; boxes mean per-image F1 at IoU 0.5 (greedy
one-to-one matching); pairwise Kendall tau-b of the scores against the gold ranks (per query
for urbano-music, averaged). No method is given the gold. Settings of our methods were fixed
before this table was run (see each module's docstring); nothing here was tuned on it.
crowd-kit's pairwise methods take no ties: they get the answers with ties dropped, and, as a
second row, with every tie entered as one win each way (the better of the two is what the
goal compares against).
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from chalicelib.aggregation import KindAnswer, aggregate_kind, default_method  # noqa: E402
from kind_metrics import box_f1, corpus_wer, f1, ranking_tau  # noqa: E402

csv.field_size_limit(1 << 24)


def read(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def timed(function):
    start = time.perf_counter()
    value = function()
    return value, time.perf_counter() - start


# --- number ----------------------------------------------------------------------------------

def bench_number(folder: Path) -> list[tuple]:
    answers = [KindAnswer(r["worker"], r["task"], float(r["answer"])) for r in read(folder / "answers.csv")]
    gold = {r["task"]: float(r["answer"]) for r in read(folder / "gold.csv")}
    dimensions = sorted({a.task.split(":")[0] for a in answers})

    def run(method):
        estimate = {}
        for dimension in dimensions:
            config = {"min": -100, "max": 100} if dimension == "valence" else {"min": 0, "max": 100}
            part = [a for a in answers if a.task.split(":")[0] == dimension]
            estimate.update({t: o.answer for t, o in aggregate_kind("number", part, config,
                                                                    method=method).tasks.items()})
        return estimate

    rows = []
    for label, method in [(f"foule {default_method('number')} (default)", None),
                          ("mean (baseline)", "mean"), ("median (baseline)", "median")]:
        estimate, seconds = timed(lambda: run(method))
        tasks = list(gold)
        p = np.array([estimate[t] for t in tasks])
        g = np.array([gold[t] for t in tasks])
        rows.append((label, f"MAE {np.abs(p - g).mean():.3f}, r {np.corrcoef(p, g)[0, 1]:.4f}",
                     seconds))
    return rows


# --- text ------------------------------------------------------------------------------------

def bench_text(folder: Path) -> list[tuple]:
    raw = read(folder / "answers.csv")
    answers = [KindAnswer(r["worker"], r["task"], r["answer"]) for r in raw]
    gold = {r["task"]: r["answer"] for r in read(folder / "gold.csv")}
    rows = []
    for label, method in [(f"foule {default_method('text')} (default)", None),
                          ("foule weighted_medoid", "weighted_medoid"), ("medoid (baseline)", "medoid")]:
        result, seconds = timed(lambda: aggregate_kind("text", answers, {}, method=method))
        rows.append((label, f"WER {corpus_wer({t: o.answer for t, o in result.tasks.items()}, gold):.4f}",
                     seconds))
    try:
        import pandas as pd
        from crowdkit.aggregation import ROVER
    except ImportError:
        return rows + [("crowd-kit ROVER", "crowd-kit not installed", 0.0)]
    frame = pd.DataFrame({"task": [r["task"] for r in raw], "worker": [r["worker"] for r in raw],
                          "text": [" ".join(r["answer"].split()) for r in raw]})
    rover = ROVER(tokenizer=lambda s: s.split(" "), detokenizer=lambda words: " ".join(words))
    predicted, seconds = timed(lambda: rover.fit_predict(frame))
    rows.append(("crowd-kit ROVER", f"WER {corpus_wer(predicted.to_dict(), gold):.4f}", seconds))
    return rows


# --- multiple choice -------------------------------------------------------------------------

def bench_multilabel(folder: Path) -> list[tuple]:
    raw = read(folder / "answers.csv")
    answers = [KindAnswer(r["worker"], r["task"], json.loads(r["answer"])) for r in raw]
    gold = {r["task"]: (set(json.loads(r["answer"])), json.loads(r["judged_labels"]))
            for r in read(folder / "gold.csv")}
    judged = sorted({label for _, labels in gold.values() for label in labels})

    def score(predicted: dict) -> str:
        parts = []
        for label in judged:
            tasks = [t for t, (_, labels) in gold.items() if label in labels]
            p = np.array([label in set(predicted.get(t, [])) for t in tasks])
            g = np.array([label in gold[t][0] for t in tasks])
            parts.append(f"F1 {label} {f1(p, g):.3f}")
        return ", ".join(parts)

    rows = []
    for label, method in [(f"foule {default_method('multiple_choice')} (default)", None),
                          ("vote >= 50 % (baseline)", "label_vote")]:
        result, seconds = timed(lambda: aggregate_kind("multiple_choice", answers, {}, method=method))
        rows.append((label, score({t: o.answer for t, o in result.tasks.items()}), seconds))
    try:
        import pandas as pd
        from crowdkit.aggregation import BinaryRelevance, DawidSkene, MajorityVote
    except ImportError:
        return rows + [("crowd-kit BinaryRelevance", "crowd-kit not installed", 0.0)]
    frame = pd.DataFrame({"task": [r["task"] for r in raw], "worker": [r["worker"] for r in raw],
                          "label": [json.loads(r["answer"]) for r in raw]})
    for label, base in [("crowd-kit BinaryRelevance(MajorityVote)", MajorityVote()),
                        ("crowd-kit BinaryRelevance(DawidSkene)", DawidSkene(n_iter=100))]:
        predicted, seconds = timed(lambda: BinaryRelevance(base).fit_predict(frame))
        rows.append((label, score({t: list(v) for t, v in predicted.items()}), seconds))
    return rows


# --- boxes -----------------------------------------------------------------------------------

def bench_boxes(folder: Path) -> list[tuple]:
    answers = [KindAnswer(r["worker"], r["task"], json.loads(r["answer"])) for r in read(folder / "answers.csv")]
    gold = {r["task"]: json.loads(r["answer"]) for r in read(folder / "gold.csv")}
    rows = []
    for label, method in [(f"foule {default_method('boxes')} (default)", None),
                          ("medoid (baseline)", "medoid")]:
        result, seconds = timed(lambda: aggregate_kind("boxes", answers, {"iou": 0.5}, method=method))
        value = np.mean([box_f1(result.tasks[t].answer if t in result.tasks else [], g)
                         for t, g in gold.items()])
        rows.append((label, f"F1@IoU0.5 {value:.4f}", seconds))
    return rows + [("crowd-kit", "no multi-box method in 1.4.2", 0.0)]


# --- pairwise --------------------------------------------------------------------------------

def bench_pairwise(folder: Path) -> list[tuple]:
    raw = read(folder / "answers.csv")
    answers = [KindAnswer(r["worker"], r["task"], {"left": r["left"], "right": r["right"],
                                                   "winner": r["answer"]}) for r in raw]
    gold = {r["item"]: int(r["rank"]) for r in read(folder / "gold.csv")}
    per_query = "urbano" in folder.name  # items are only comparable within a query
    group = (lambda item: item.split("|")[0]) if per_query else (lambda item: "")

    rows = []
    for label, method in [(f"foule {default_method('pairwise')} (default)", None),
                          ("foule crowd_bt", "crowd_bt"), ("foule bt", "bt"),
                          ("win rate (baseline)", "win_rate")]:
        result, seconds = timed(lambda: aggregate_kind("pairwise", answers, {"allow_tie": True},
                                                       method=method))
        score = {row["item"]: row["score"] for row in result.ranking}
        rows.append((label, f"tau-b {ranking_tau(score, gold, group):.4f}", seconds))
    try:
        import pandas as pd
        from crowdkit.aggregation import BradleyTerry, NoisyBradleyTerry
    except ImportError:
        return rows + [("crowd-kit BradleyTerry", "crowd-kit not installed", 0.0)]
    decided = [r for r in raw if r["answer"] != "tie"]
    ties = [r for r in raw if r["answer"] == "tie"]
    both_ways = decided + [{**r, "answer": r["left"]} for r in ties] + [{**r, "answer": r["right"]} for r in ties]
    for variant, data in [("ties dropped", decided), ("tie = a win each way", both_ways)]:
        if variant != "ties dropped" and not ties:
            continue
        frame = pd.DataFrame({"worker": [r["worker"] for r in data], "left": [r["left"] for r in data],
                              "right": [r["right"] for r in data], "label": [r["answer"] for r in data]})
        for name, model in [("BradleyTerry", BradleyTerry(n_iter=100)), ("NoisyBT", NoisyBradleyTerry())]:
            scores, seconds = timed(lambda: model.fit_predict(frame))
            rows.append((f"crowd-kit {name} ({variant})",
                         f"tau-b {ranking_tau(scores.to_dict(), gold, group):.4f}", seconds))
    return rows


BENCHES = {"numeric": bench_number, "text": bench_text, "multilabel": bench_multilabel,
           "box": bench_boxes, "pairwise": bench_pairwise}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default=str(ROOT.parent / "shared" / "datasets"))
    parser.add_argument("--only", nargs="*", help="dataset folder names to run")
    args = parser.parse_args()
    folders = sorted(p for p in Path(args.datasets).glob("*-*") if p.is_dir()
                     and p.name.split("-")[0] in BENCHES)
    if args.only:
        folders = [p for p in folders if p.name in args.only]
    if not folders:
        print(f"no <kind>-* datasets under {args.datasets}; nothing to do")
        return 0
    print("| dataset | method | score | seconds |")
    print("|---|---|---|---:|")
    for folder in folders:
        for label, score, seconds in BENCHES[folder.name.split("-")[0]](folder):
            print(f"| {folder.name} | {label} | {score} | {seconds:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
