"""Majority vote ("mv").

The baseline every crowdsourcing paper reports (see e.g. Zheng et al., "Truth Inference in
Crowdsourcing: Is the Problem Solved?", PVLDB 10(5), 2017). Model: every answer is an equally
trustworthy vote; the posterior of a task is the share of its votes per label, ties go to the
lowest label index. A worker's reliability is reported as their smoothed agreement with the
majority, (agree + 0.5) / (answers + 1). Gold tasks are clamped to their known label.
"""
from __future__ import annotations

from ._common import AggregationResult, Answers, agreement_reliability, hard_labels, make_result
from ._common import vote_posterior

SUMMARY = "majority vote (vote shares as posterior)"


def fit(answers: Answers, warm_start: dict | None = None) -> AggregationResult:
    posterior = vote_posterior(answers)
    reliability = agreement_reliability(answers, hard_labels(posterior))
    return make_result(answers, posterior, reliability, method="mv", iterations=1)
