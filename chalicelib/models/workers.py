from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.models import Model

from chalicelib.models.base import meta

ALL_PROJECTS = "*"


class WorkerStats(Model):
    """A worker's record: scope "*" across projects, or one project's id.

    Answers, earnings and gold counts are added in the same transaction that accepts the
    answer, so each is counted exactly once; reliability is written by the aggregator.
    """

    Meta = meta("workers")
    worker_id = UnicodeAttribute(hash_key=True)
    scope = UnicodeAttribute(range_key=True)
    answers = NumberAttribute(default=0)
    # Money (services.review, services.ledger): a submitted answer's reward is pending until
    # reviewed; approved rewards and bonuses are earned (paid, in the ledger).
    earned_cents = NumberAttribute(default=0)
    pending_cents = NumberAttribute(default=0)
    approved = NumberAttribute(default=0)
    rejected = NumberAttribute(default=0)
    gold_answers = NumberAttribute(default=0)
    gold_correct = NumberAttribute(default=0)
    reliability = NumberAttribute(null=True)
    reliability_run_id = UnicodeAttribute(null=True)
