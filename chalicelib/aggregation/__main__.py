"""Offline truth inference from CSV files, for every task kind.

    python -m chalicelib.aggregation [--kind KIND] --answers answers.csv [--known known.csv]
        [--method NAME] --out results.csv

KIND is one of single_choice (the default), multiple_choice, number, rating, text, pairwise,
boxes. answers.csv has a header ``worker,task,answer`` with the answer as the worker gave it: a
label, a JSON list of labels, a number, a position on the rating scale (1..n), a text, a JSON
list of boxes ``{"x1","y1","x2","y2"}`` (optionally ``"label"``); for pairwise
``worker,task,left,right,answer`` with the winning item id or ``tie``. Single-choice files
may name the column ``label`` (then the output does too). known.csv has ``task,answer`` (or
``task,label``): gold answers in the same format. results.csv gets ``task,answer,confidence``,
one row per task in order of first appearance, the answer in the input's format; for pairwise
``item,score,rank,low,high`` (rank 1 = best, low/high the 95 % interval of the score).
Files are read with a CSV parser (texts may hold quoted line breaks); ids are kept as strings.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys

from . import DEFAULT_METHOD, METHOD_SUMMARIES, aggregate, encode_known
from .by_kind import KINDS, KindAnswer, aggregate_kind, default_method, method_summaries
from .classification import encode_codes
from .csv_columns import read_coded_columns, read_columns

def _method_list(kind: str) -> str:
    return "\n".join(f"  {name:16s} {summary}" for name, summary in method_summaries(kind).items())


def _parse(kind: str, text: str, where: str):
    try:
        if kind in ("multiple_choice", "boxes"):
            return json.loads(text)
        if kind == "number":
            return float(text)
        if kind == "rating":
            return int(float(text))
    except ValueError:
        raise SystemExit(f"{where}: {text!r} is not a valid {kind} answer") from None
    return text


def _format(kind: str, value) -> str:
    if kind in ("multiple_choice", "boxes"):
        return json.dumps(value)
    if kind == "number":
        return repr(float(value)) if float(value) != int(value) else str(int(value))
    return str(value)


def _single_choice_legacy(args) -> int:
    """``worker,task,label`` files: the array interface, as before the other kinds existed."""
    coded, used = read_coded_columns(args.answers, ["worker", "task", "answer"],
                                     {"answer": ["label"]})
    column = used["answer"]
    encoded = encode_codes(*coded["worker"], *coded["task"], *coded["answer"])
    known = None
    if args.known:
        known_values, _ = read_columns(args.known, ["task", "answer"], {"answer": ["label"]})
        known_tasks, known_labels = known_values["task"], known_values["answer"]
        # Gold labels nobody answered still belong to the label set.
        extra = sorted(set(known_labels) - set(encoded.label_values))
        if extra:  # appended: the answers' label indices stay as they are
            encoded = encoded._replace(label_values=encoded.label_values + extra)
        known = encode_known(encoded, known_tasks, known_labels)
    result = aggregate(args.method, encoded.tasks, encoded.workers, encoded.labels,
                       len(encoded.task_ids), len(encoded.worker_ids),
                       len(encoded.label_values), known=known)
    with open(args.out, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["task", column, "confidence"])
        writer.writerows(zip(encoded.task_ids,
                             map(encoded.label_values.__getitem__, result.labels.tolist()),
                             [f"{confidence:.6f}" for confidence in result.confidence.tolist()]))
    print(f"{len(encoded.task_ids)} tasks aggregated with {args.method} -> {args.out}",
          file=sys.stderr)
    return 0


def _read_answers(kind: str, path: str) -> list[KindAnswer]:
    if kind == "pairwise":
        v, _ = read_columns(path, ["worker", "task", "left", "right", "answer"])
        return [KindAnswer(worker, task, {"left": left, "right": right, "winner": winner})
                for worker, task, left, right, winner
                in zip(v["worker"], v["task"], v["left"], v["right"], v["answer"])]
    v, _ = read_columns(path, ["worker", "task", "answer"])
    return [KindAnswer(worker, task, _parse(kind, answer, f"{path} line {i + 2}"))
            for i, (worker, task, answer) in enumerate(zip(v["worker"], v["task"], v["answer"]))]


def _read_known(kind: str, path: str) -> dict:
    v, _ = read_columns(path, ["task", "answer"], {"answer": ["label"]})
    return {task: _parse(kind, answer, f"{path} line {i + 2}")
            for i, (task, answer) in enumerate(zip(v["task"], v["answer"]))}


def _config(kind: str, answers: list[KindAnswer], known: dict) -> dict:
    """What the files imply about the project's answer type (only what the methods need)."""
    if kind == "rating":
        values = [a.value for a in answers] + list(known.values())
        return {"scale": [str(k) for k in range(1, max(values, default=1) + 1)]}
    if kind == "number":  # results stay within what anyone answered
        values = [a.value for a in answers] + list(known.values())
        return {"min": min(values), "max": max(values)} if values else {}
    if kind == "pairwise":
        return {"allow_tie": True}
    return {}


def _write(kind: str, result, path: str) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        if kind == "pairwise":
            writer.writerow(["item", "score", "rank", "low", "high"])
            for row in result.ranking:
                writer.writerow([row["item"], f"{row['score']:.6f}", row["rank"],
                                 f"{row['low']:.6f}", f"{row['high']:.6f}"])
            return
        writer.writerow(["task", "answer", "confidence"])
        for task, outcome in result.tasks.items():
            writer.writerow([task, _format(kind, outcome.answer), f"{outcome.confidence:.6f}"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m chalicelib.aggregation",
        description="Infer true answers from crowd answers, for every task kind.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join(f"{kind} methods:\n{_method_list(kind)}" for kind in KINDS),
    )
    parser.add_argument("--kind", default="single_choice", choices=KINDS,
                        help="task kind (default: single_choice)")
    parser.add_argument("--answers", help="CSV with columns worker,task,answer "
                                          "(pairwise: worker,task,left,right,answer)")
    parser.add_argument("--known", help="optional CSV with columns task,answer (gold answers)")
    parser.add_argument("--method", help="aggregation method (default: the kind's default)")
    parser.add_argument("--out", help="output CSV: task,answer,confidence "
                                      "(pairwise: item,score,rank,low,high)")
    parser.add_argument("--list-methods", action="store_true", help="print the methods and exit")
    args = parser.parse_args(argv)

    if args.list_methods:
        print(_method_list(args.kind))
        return 0
    if not args.answers or not args.out:
        parser.error("--answers and --out are required")
    if args.kind == "single_choice":
        args.method = args.method or DEFAULT_METHOD
        if args.method not in METHOD_SUMMARIES:
            parser.error(f"unknown method {args.method!r}; choose one of {', '.join(METHOD_SUMMARIES)}")
        return _single_choice_legacy(args)
    method = args.method or default_method(args.kind)
    if method not in method_summaries(args.kind):
        parser.error(f"unknown method {method!r} for {args.kind}; choose one of "
                     f"{', '.join(method_summaries(args.kind))}")
    answers = _read_answers(args.kind, args.answers)
    known = _read_known(args.kind, args.known) if args.known else {}
    try:
        result = aggregate_kind(args.kind, answers, _config(args.kind, answers, known), known,
                                method)
    except ValueError as error:
        raise SystemExit(f"{args.answers}: {error}") from None
    _write(args.kind, result, args.out)
    print(f"{len(result.tasks)} tasks aggregated with {args.kind}/{method} -> {args.out}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
