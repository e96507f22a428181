from pynamodb.attributes import (BooleanAttribute, ListAttribute, NumberAttribute, UnicodeAttribute,
                                 UnicodeSetAttribute)
from pynamodb.indexes import GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from chalicelib.models.base import meta

ALL_PROJECTS = "*"
FOREVER = 2**53  # blocked_until of a block "for good" (epoch ms no clock reaches)


class WorkersByScope(GlobalSecondaryIndex):
    """A project's workers (scope = project id), in worker-id order, for the requester's listing.

    Keys only: the index is written when a worker's record for a project is created, not on
    every answer that updates the record, so a busy project costs the index nothing more.
    """

    class Meta:
        index_name = "by_scope"
        projection = KeysOnlyProjection()

    scope = UnicodeAttribute(hash_key=True)
    worker_id = UnicodeAttribute(range_key=True)


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
    # Quality figures and blocks (chalicelib.services.quality and rules): written only there.
    model_reliability = NumberAttribute(null=True)  # the aggregation method's P(correct)
    agreement = NumberAttribute(null=True)  # share of answers equal to the published label
    agreement_answers = NumberAttribute(null=True)  # answers that share was measured on
    median_answer_seconds = NumberAttribute(null=True)
    blocked_until = NumberAttribute(null=True)  # epoch ms; FOREVER = for good
    block_reason = UnicodeAttribute(null=True)  # "requester" or "rule:<measure>"
    block_message = UnicodeAttribute(null=True)
    excluded = BooleanAttribute(null=True)  # answers left out of aggregation
    exclude_reason = UnicodeAttribute(null=True)
    rules_fired = UnicodeSetAttribute(null=True)  # ids of rules whose condition holds (fired once)
    # Written in the lease/answer transactions of the work path.
    served = NumberAttribute(default=0)  # leases taken in this project, gold included
    gold_served = NumberAttribute(default=0)
    gold_cursor = UnicodeAttribute(null=True)  # open_order of the last gold window served in full
    gold_window = UnicodeSetAttribute(null=True)  # gold tasks served of the window after the cursor
    gold_block = NumberAttribute(null=True)  # mixing block of the last gold served (services/gates)
    qualified = BooleanAttribute(null=True)  # passed the project's qualification (services/gates)
    skipped_in_row = NumberAttribute(default=0)  # returned/expired leases since the last answer
    # Erasure (services.erasure), on the overall record only, while an erasure is under way.
    erased_to = UnicodeAttribute(null=True)
    # The worker's profile (services.profiles), on the overall record only; erased with it.
    display_name = UnicodeAttribute(null=True)
    languages = ListAttribute(of=UnicodeAttribute, null=True)  # ISO 639-1, the worker's order
    country = UnicodeAttribute(null=True)  # ISO 3166-1 alpha-2
    terms_accepted_at = NumberAttribute(null=True)  # epoch ms

    by_scope = WorkersByScope()
