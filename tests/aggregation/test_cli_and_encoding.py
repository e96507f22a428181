"""The offline CLI round trip and the string-id encoder."""
from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from chalicelib.aggregation import METHODS, encode, encode_known
from chalicelib.aggregation.__main__ import main as cli_main

REPO = Path(__file__).resolve().parents[2]


def write_csv(path: Path, header: list[str], rows: list[tuple]) -> Path:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "chalicelib.aggregation", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=60)


def test_cli_round_trip(tmp_path):
    answers = write_csv(tmp_path / "answers.csv", ["worker", "task", "label"], [
        ("alice", "t-1", "cat"), ("bob", "t-1", "cat"), ("carol", "t-1", "dog"),
        ("alice", "t-2", "dog"), ("bob", "t-2", "dog"), ("carol", "t-2", "dog"),
        ("alice", "t-3", "cat"), ("bob", "t-3", "dog"),
    ])
    known = write_csv(tmp_path / "known.csv", ["task", "label"], [("t-3", "bird")])
    out = tmp_path / "out.csv"
    completed = run_cli("--answers", str(answers), "--known", str(known), "--method", "mv",
                        "--out", str(out))
    assert completed.returncode == 0, completed.stderr
    rows = read_rows(out)
    assert [r["task"] for r in rows] == ["t-1", "t-2", "t-3"]
    # The gold label wins on t-3 even though nobody answered it.
    assert [r["label"] for r in rows] == ["cat", "dog", "bird"]
    assert [float(r["confidence"]) for r in rows] == pytest.approx([2 / 3, 1.0, 1.0], abs=1e-6)

    # Default method, no gold (in-process: a second interpreter start only costs time).
    assert cli_main(["--answers", str(answers), "--out", str(out)]) == 0
    rows = read_rows(out)
    assert [r["label"] for r in rows[:2]] == ["cat", "dog"]
    assert all(0.0 < float(r["confidence"]) <= 1.0 for r in rows)


def read_rows(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_cli_lists_methods(capsys):
    assert cli_main(["--list-methods"]) == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name in METHODS)
    with pytest.raises(SystemExit):
        cli_main(["--help"])
    help_text = capsys.readouterr().out
    assert all(name in help_text for name in METHODS)


def test_cli_rejects_unknown_method_and_missing_columns(tmp_path, capsys):
    answers = write_csv(tmp_path / "a.csv", ["worker", "task", "label"], [("w", "t", "x")])
    with pytest.raises(SystemExit) as exit_info:
        cli_main(["--answers", str(answers), "--method", "nope", "--out", str(tmp_path / "o")])
    assert exit_info.value.code != 0
    bad = write_csv(tmp_path / "b.csv", ["worker", "item", "label"], [("w", "t", "x")])
    with pytest.raises(SystemExit, match="missing column"):
        cli_main(["--answers", str(bad), "--out", str(tmp_path / "o.csv")])


def test_encode_keeps_string_ids_and_orders_labels_numerically():
    encoded = encode(["w2", "w1", "w2"], ["007", "7", "007"], ["10", "9", "2"])
    assert encoded.task_ids == ["007", "7"]  # distinct strings, order of first appearance
    assert encoded.worker_ids == ["w2", "w1"]
    assert encoded.label_values == ["2", "9", "10"]
    np.testing.assert_array_equal(encoded.tasks, [0, 1, 0])
    np.testing.assert_array_equal(encoded.workers, [0, 1, 0])
    np.testing.assert_array_equal(encoded.labels, [2, 1, 0])


def test_encode_with_label_order_and_known():
    encoded = encode(["a", "b"], ["t1", "t2"], ["yes", "no"], label_order=["no", "maybe", "yes"])
    np.testing.assert_array_equal(encoded.labels, [2, 0])
    known = encode_known(encoded, ["t2", "unanswered"], ["maybe", "yes"])
    np.testing.assert_array_equal(known, [-1, 1])
    with pytest.raises(ValueError):
        encode(["a"], ["t"], ["other"], label_order=["no", "yes"])
    with pytest.raises(ValueError):
        encode_known(encoded, ["t1"], ["other"])
