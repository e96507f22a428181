"""``python -m chalicelib.aggregation --kind KIND`` on tiny files and on the shared datasets."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from chalicelib.aggregation.__main__ import main as cli_main

DATASETS = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"


def write_csv(path: Path, header: list[str], rows: list[tuple]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def read_rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def run(tmp_path, kind: str, rows: list[tuple], known: list[tuple] | None = None,
        header=("worker", "task", "answer"), method: str | None = None) -> list[dict]:
    answers = write_csv(tmp_path / "answers.csv", list(header), rows)
    args = ["--kind", kind, "--answers", str(answers), "--out", str(tmp_path / "out.csv")]
    if known is not None:
        args += ["--known", str(write_csv(tmp_path / "known.csv", ["task", "answer"], known))]
    if method:
        args += ["--method", method]
    assert cli_main(args) == 0
    return read_rows(tmp_path / "out.csv")


def test_cli_number_with_gold(tmp_path):
    rows = [("a", "t1", "10"), ("b", "t1", "12"), ("c", "t1", "11"), ("a", "t2", "3.5")]
    out = run(tmp_path, "number", rows, known=[("t3", "7")])
    assert [r["task"] for r in out] == ["t1", "t2", "t3"]
    assert 10 <= float(out[0]["answer"]) <= 12 and out[2]["answer"] == "7"
    assert float(out[2]["confidence"]) == 1.0


def test_cli_multiple_choice_rating_text_and_boxes_keep_the_input_format(tmp_path):
    out = run(tmp_path, "multiple_choice", [("a", "t", '["x", "y"]'), ("b", "t", '["x"]'),
                                            ("c", "t", '["x"]')])
    assert json.loads(out[0]["answer"]) == ["x"]
    out = run(tmp_path, "rating", [("a", "t", "4"), ("b", "t", "4"), ("c", "t", "2")])
    assert out[0]["answer"] == "4"
    text = 'He said "hi",\nthen left.'
    out = run(tmp_path, "text", [("a", "t", text), ("b", "t", text), ("c", "t", "he sad hi")])
    assert out[0]["answer"] == 'He said "hi", then left.'  # whitespace normalised
    box = json.dumps([{"x1": 0, "y1": 0, "x2": 10, "y2": 10}])
    out = run(tmp_path, "boxes", [("a", "t", box), ("b", "t", box), ("c", "t", "[]")])
    assert [[round(v) for v in b.values()] for b in json.loads(out[0]["answer"])] == [[0, 0, 10, 10]]


def test_cli_pairwise_writes_a_ranking(tmp_path):
    rows = [(w, "ab", "a", "b", "a") for w in "123"] + [(w, "bc", "b", "c", "b") for w in "123"]
    rows += [("1", "ac", "a", "c", "tie")]
    out = run(tmp_path, "pairwise", rows, header=("worker", "task", "left", "right", "answer"))
    assert [r["item"] for r in out] == ["a", "b", "c"]
    assert [r["rank"] for r in out] == ["1", "2", "3"]
    assert all(float(r["low"]) < float(r["score"]) < float(r["high"]) for r in out)


def test_cli_rejects_a_bad_value_and_an_unknown_method(tmp_path):
    answers = write_csv(tmp_path / "a.csv", ["worker", "task", "answer"], [("w", "t", "ten")])
    with pytest.raises(SystemExit, match="not a valid number"):
        cli_main(["--kind", "number", "--answers", str(answers), "--out", str(tmp_path / "o.csv")])
    with pytest.raises(SystemExit) as exit_info:
        cli_main(["--kind", "text", "--answers", str(answers), "--method", "ds",
                  "--out", str(tmp_path / "o.csv")])
    assert exit_info.value.code == 2


def test_cli_single_choice_answer_column(tmp_path):
    out = run(tmp_path, "single_choice", [("a", "t", "cat"), ("b", "t", "cat"), ("c", "t", "dog")],
              method="mv")
    assert out == [{"task": "t", "answer": "cat", "confidence": "0.666667"}]


SHARED = [  # (folder, kind, answer rows to use: the slower ones are cut to keep the suite quick;
    #  bench/aggregation/kinds.py runs every dataset whole)
    ("numeric-snow-affect", "number", None),
    ("multilabel-crowdtruth-medical", "multiple_choice", 3000),
    ("pairwise-urbano-music", "pairwise", None),
    ("pairwise-potato-visual", "pairwise", None),
    ("box-annotationmodeling-multibox", "boxes", 60),
    ("text-crowdspeech-dev-clean", "text", 300),
]


@pytest.mark.parametrize("folder,kind,limit", SHARED)
def test_cli_on_shared_datasets(tmp_path, folder, kind, limit):
    source = DATASETS / folder / "answers.csv"
    if not source.exists():
        pytest.skip(f"{source} not present")
    with open(source, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        rows = [row for _, row in zip(range(limit or 10 ** 9), reader)]
    answers = write_csv(tmp_path / "answers.csv", header, rows)
    out_path = tmp_path / "out.csv"
    assert cli_main(["--kind", kind, "--answers", str(answers), "--out", str(out_path)]) == 0
    out = read_rows(out_path)
    if kind == "pairwise":
        items = {r[2] for r in rows} | {r[3] for r in rows}
        assert {r["item"] for r in out} == items and out[0]["rank"] == "1"
        return
    assert [r["task"] for r in out] == list(dict.fromkeys(r[1] for r in rows))
    assert all(0.0 <= float(r["confidence"]) <= 1.0 for r in out)
    if kind in ("multiple_choice", "boxes"):
        assert all(isinstance(json.loads(r["answer"]), list) for r in out)
    if kind == "number":
        assert all(-100 <= float(r["answer"]) <= 100 for r in out)
