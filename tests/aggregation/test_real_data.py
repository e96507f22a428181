"""The default method on a real crowd (Snow et al. 2008 RTE), when the shared data is present."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest

from chalicelib.aggregation import DEFAULT_METHOD, aggregate, encode, encode_known

RTE = Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "rte"


def read(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.skipif(not (RTE / "answers.csv").exists(), reason="shared rte dataset absent")
def test_default_beats_majority_vote_on_rte():
    answers, gold = read(RTE / "answers.csv"), read(RTE / "gold.csv")
    encoded = encode([r["worker"] for r in answers], [r["task"] for r in answers],
                     [r["label"] for r in answers])
    truth = encode_known(encoded, [r["task"] for r in gold], [r["label"] for r in gold])
    sizes = len(encoded.task_ids), len(encoded.worker_ids), len(encoded.label_values)
    scored = truth >= 0

    def accuracy(method: str) -> float:
        result = aggregate(method, encoded.tasks, encoded.workers, encoded.labels, *sizes)
        return float((result.labels[scored] == truth[scored]).mean())

    majority, default = accuracy("mv"), accuracy(DEFAULT_METHOD)
    assert majority == pytest.approx(0.91875)  # crowd-kit MV figure in the datasets README
    assert default > majority
