"""Worker agreement with aggregate ("wawa").

Appen/Figure Eight's heuristic as packaged by Toloka crowd-kit (Ustalov et al., "Learning from
Crowds with Crowd-Kit", JOSS 9(96), 2024, doi:10.21105/joss.06227). Model: run a majority vote,
score each worker by the share of their answers that agree with it, then take one more vote in
which every answer weighs its worker's agreement score. Here the score is smoothed,
(agree + 0.5) / (answers + 1), so a worker with a single answer is not fully trusted. Gold tasks
are clamped to their known label in both votes.
"""
from __future__ import annotations

from ._common import AggregationResult, Answers, agreement_reliability, hard_labels, make_result
from ._common import vote_posterior

SUMMARY = "worker agreement with aggregate: vote weighted by agreement with majority"


def fit(answers: Answers, warm_start: dict | None = None) -> AggregationResult:
    majority = hard_labels(vote_posterior(answers))
    skill = agreement_reliability(answers, majority)
    posterior = vote_posterior(answers, skill)
    return make_result(answers, posterior, skill, method="wawa", iterations=2)
