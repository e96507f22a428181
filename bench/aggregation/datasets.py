"""Load the shared truth-inference datasets (worker,task,label CSVs) with the csv module."""
from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
DATASETS_DIR = REPO.parent / "shared" / "datasets"
DATASET_NAMES = ["rte", "temp", "bluebirds", "dog", "face", "product"]

from chalicelib.aggregation import encode, encode_known  # noqa: E402


def read_rows(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def load(name: str):
    """(encoded answers, gold label index per task or -1, raw answer rows) for one dataset."""
    folder = DATASETS_DIR / name
    answers = read_rows(folder / "answers.csv")
    gold = read_rows(folder / "gold.csv")
    encoded = encode([r["worker"] for r in answers], [r["task"] for r in answers],
                     [r["label"] for r in answers])
    truth = encode_known(encoded, [r["task"] for r in gold], [r["label"] for r in gold])
    return encoded, truth, answers


def available() -> list[str]:
    return [n for n in DATASET_NAMES if (DATASETS_DIR / n / "answers.csv").exists()]


def reveal_gold(truth: np.ndarray, share: float = 0.1, seed: int = 0) -> np.ndarray:
    """``known`` array revealing a seeded random ``share`` of the gold labels."""
    rng = np.random.default_rng(seed)
    candidates = np.flatnonzero(truth >= 0)
    chosen = rng.choice(candidates, size=int(round(share * candidates.size)), replace=False)
    known = np.full(truth.size, -1, dtype=np.int64)
    known[chosen] = truth[chosen]
    return known
