"""Gold-weighted vote ("gold_weighted").

The "gold standard questions" practice of commercial crowdsourcing (e.g. Oleson et al.,
"Programmatic Gold: Targeted and Scalable Quality Assurance in Crowdsourcing", HCOMP 2011):
measure each worker on tasks whose answer is known and weight their votes by it. Model: a
worker's weight is their smoothed accuracy on gold tasks, (correct + 0.5) / (gold answers + 1);
a worker who answered no gold task is weighted by their smoothed agreement with the majority
vote instead (so without any gold this equals Wawa). The posterior is the weighted vote share;
gold tasks are clamped to their known label.
"""
from __future__ import annotations

from ._common import AggregationResult, Answers, gold_or_agreement_reliability, make_result
from ._common import vote_posterior

SUMMARY = "vote weighted by smoothed gold accuracy (agreement with majority if no gold)"


def fit(answers: Answers, warm_start: dict | None = None) -> AggregationResult:
    reliability = gold_or_agreement_reliability(answers)
    posterior = vote_posterior(answers, reliability)
    return make_result(answers, posterior, reliability, method="gold_weighted", iterations=1)
