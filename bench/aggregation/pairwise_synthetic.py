"""Pairwise methods on synthetic crowds (issue 13): does the choice of default generalise
beyond the two shared datasets?

    .venv/bin/python bench/aggregation/pairwise_synthetic.py [--seeds N]

Each crowd: 40 items with strengths ~ N(0, 1), 600 pairs drawn at random, 3 answers per pair
(or 1,800 pairs with one answer each) from 30 workers. Workers, by kind: careful (eta ~ U(0.85, 1)), spammers (answer uniformly at
random among left / right / tie), adversarial (eta 0.2), left-biased (pick the left item 60 %
of the time whatever it is); each worker has its own tie propensity (nu_w ~ N(nu, 1.5)), so
some call almost everything a tie. Honest answers follow Davidson's tie model. Scenarios vary
the tie level and the share of bad workers. Metric: Kendall tau-b of the scores against the
true strengths, mean over seeds.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from chalicelib.aggregation import KindAnswer, aggregate_kind  # noqa: E402
from kind_metrics import kendall_tau_b  # noqa: E402

METHODS = ("crowd_davidson", "crowd_bt", "bt", "win_rate")
SCENARIOS = {  # name: (mean tie propensity nu, spammer, adversarial, left-biased shares,
    #                pairs, answers per pair)
    "no ties, 20 % spammers": (-30.0, 0.2, 0.05, 0.0, 600, 3),
    "some ties (~30 %), 20 % spammers": (-0.5, 0.2, 0.05, 0.0, 600, 3),
    "many ties (~45 %), 20 % spammers": (0.7, 0.2, 0.05, 0.0, 600, 3),
    "many ties, 30 % left-biased": (0.7, 0.1, 0.0, 0.3, 600, 3),
    "many ties, 40 % spammers": (0.7, 0.4, 0.05, 0.0, 600, 3),
    "many ties, 20 % spammers, 1 answer per pair": (0.7, 0.2, 0.05, 0.0, 1800, 1),
}


def crowd(seed: int, nu: float, spam: float, adversarial: float, left_biased: float,
          n_pairs: int, per_pair: int, n_items: int = 40, n_workers: int = 30):
    rng = np.random.default_rng(seed)
    strength = rng.normal(0, 1, n_items)
    kind = rng.choice(4, n_workers, p=[1 - spam - adversarial - left_biased, spam, adversarial,
                                       left_biased])
    eta = np.where(kind == 2, 0.2, rng.uniform(0.85, 1.0, n_workers))
    nu_w = nu + (rng.normal(0, 1.5, n_workers) if nu > -10 else np.zeros(n_workers))
    answers = []
    for pair in range(n_pairs):
        i, j = rng.choice(n_items, 2, replace=False)
        for w in rng.choice(n_workers, per_pair, replace=False):
            d = strength[i] - strength[j]
            p = np.exp([d / 2, -d / 2, nu_w[w]])
            outcome = rng.choice(3, p=p / p.sum())  # 0: i, 1: j, 2: tie
            if kind[w] == 1:
                outcome = rng.integers(0, 3) if nu > -10 else rng.integers(0, 2)
            elif kind[w] == 3 and outcome != 2 and rng.random() < 0.6:
                outcome = 0
            elif outcome != 2 and rng.random() > eta[w]:
                outcome = 1 - outcome
            winner = {0: str(i), 1: str(j), 2: "tie"}[int(outcome)]
            answers.append(KindAnswer(str(w), str(pair), {"left": str(i), "right": str(j),
                                                          "winner": winner}))
    return answers, strength


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    print("scenario | " + " | ".join(METHODS))
    for name, settings in SCENARIOS.items():
        taus = {m: [] for m in METHODS}
        for seed in range(args.seeds):
            answers, strength = crowd(seed, *settings)
            for method in METHODS:
                result = aggregate_kind("pairwise", answers, {"allow_tie": True}, method=method)
                score = {row["item"]: row["score"] for row in result.ranking}
                items = sorted(score)
                taus[method].append(kendall_tau_b([score[i] for i in items],
                                                  [strength[int(i)] for i in items]))
        print(f"{name} | " + " | ".join(f"{np.mean(taus[m]):.4f}" for m in METHODS), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
