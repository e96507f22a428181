"""Offline truth inference from CSV files.

    python -m chalicelib.aggregation --answers answers.csv [--known known.csv]
        [--method NAME] --out results.csv

answers.csv has a header ``worker,task,label``; known.csv ``task,label`` (gold labels);
results.csv gets ``task,label,confidence``, one row per task that has answers, in order of
first appearance. Ids and labels are kept as strings.
"""
from __future__ import annotations

import argparse
import csv
import sys

from . import DEFAULT_METHOD, METHOD_SUMMARIES, aggregate, encode, encode_known


def _read_columns(path: str, columns: list[str]) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in columns if c not in (reader.fieldnames or [])]
        if missing:
            raise SystemExit(f"{path}: missing column(s) {', '.join(missing)}")
        rows = list(reader)
    return [[row[c] for row in rows] for c in columns]


def _method_list() -> str:
    return "\n".join(f"  {name:14s} {summary}" for name, summary in METHOD_SUMMARIES.items())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m chalicelib.aggregation",
        description="Infer true labels from crowd answers.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="methods:\n" + _method_list(),
    )
    parser.add_argument("--answers", help="CSV with columns worker,task,label")
    parser.add_argument("--known", help="optional CSV with columns task,label (gold labels)")
    parser.add_argument("--method", default=DEFAULT_METHOD, choices=list(METHOD_SUMMARIES),
                        help=f"aggregation method (default: {DEFAULT_METHOD}); one of: "
                             + ", ".join(METHOD_SUMMARIES))
    parser.add_argument("--out", help="output CSV with columns task,label,confidence")
    parser.add_argument("--list-methods", action="store_true", help="print the methods and exit")
    args = parser.parse_args(argv)

    if args.list_methods:
        print(_method_list())
        return 0
    if not args.answers or not args.out:
        parser.error("--answers and --out are required")

    workers, tasks, labels = _read_columns(args.answers, ["worker", "task", "label"])
    encoded = encode(workers, tasks, labels)
    known = None
    if args.known:
        known_tasks, known_labels = _read_columns(args.known, ["task", "label"])
        # Gold labels nobody answered still belong to the label set.
        extra = sorted(set(known_labels) - set(encoded.label_values))
        if extra:
            encoded = encode(workers, tasks, labels, encoded.label_values + extra)
        known = encode_known(encoded, known_tasks, known_labels)
    result = aggregate(args.method, encoded.tasks, encoded.workers, encoded.labels,
                       len(encoded.task_ids), len(encoded.worker_ids),
                       len(encoded.label_values), known=known)

    with open(args.out, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["task", "label", "confidence"])
        for task, label, confidence in zip(encoded.task_ids, result.labels, result.confidence):
            writer.writerow([task, encoded.label_values[label], f"{confidence:.6f}"])
    print(f"{len(encoded.task_ids)} tasks aggregated with {args.method} -> {args.out}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
