from pynamodb.attributes import NumberAttribute, UnicodeAttribute, UnicodeSetAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.models.base import meta

RECORD_PREFIX = "key#"  # a SHA-256 hex digest never starts so


class KeysByAccount(GlobalSecondaryIndex):
    """Sparse: only key records carry `account_id`, the account that manages the key (its
    owner, or for an integrator key the requester whose projects it reads)."""

    class Meta:
        index_name = "by_account"
        projection = AllProjection()

    account_id = UnicodeAttribute(hash_key=True)
    created_at = NumberAttribute(range_key=True)


class KeysByOwner(GlobalSecondaryIndex):
    """The keys of one requester or worker, oldest first: how a worker's keys are all revoked
    when it is erased (services.erasure), without a scan."""

    class Meta:
        index_name = "by_owner"
        projection = AllProjection()

    owner_id = UnicodeAttribute(hash_key=True)
    created_at = NumberAttribute(range_key=True)


class ApiKey(Model):
    """Two kinds of items share the table (chalicelib.auth writes both in one transaction):

    - a *secret* item, keyed by the SHA-256 of a secret: everything the authorizer needs, read
      with one consistent GetItem per request. A key has one current secret, and after a
      rotation the previous one until `retired_at`;
    - the key's *record*, keyed by "key#<key_id>": what the management routes read and list
      (never a secret, never a hash in any response), with the hashes of the live secrets so
      that a revocation or a change reaches every one of them in the same transaction.

    Fields the authorizer reads (role, owner, scope, expiry, revocation, limits) are written
    on the record and on every live secret item together.
    """

    Meta = meta("api_keys")
    key_hash = UnicodeAttribute(hash_key=True)
    key_id = UnicodeAttribute()
    role = UnicodeAttribute()  # admin | requester | worker | integrator
    owner_id = UnicodeAttribute()  # the requester or worker the key acts for
    name = UnicodeAttribute(default="")
    created_at = NumberAttribute()
    revoked_at = NumberAttribute(null=True)
    project_ids = UnicodeSetAttribute(null=True)  # integrator keys: the projects whose results it reads
    expires_at = NumberAttribute(null=True)  # ms; refused from then on
    # Per-key limits set by an admin (None: the deployment's defaults, see services.rate_limits).
    rate_limit = NumberAttribute(null=True)  # requests per second, sustained
    burst_limit = NumberAttribute(null=True)  # requests at once
    quota_limit = NumberAttribute(null=True)  # requests per quota_period
    quota_period = UnicodeAttribute(null=True)  # DAY | MONTH
    # Secret items only: a rotated-out secret is refused from `retired_at` (ms); DynamoDB's
    # time to live deletes it after `purge_at` (epoch seconds).
    retired_at = NumberAttribute(null=True)
    purge_at = NumberAttribute(null=True)
    # Records only.
    account_id = UnicodeAttribute(null=True)
    created_by = UnicodeAttribute(null=True)
    current_hash = UnicodeAttribute(null=True)
    previous_hash = UnicodeAttribute(null=True)
    previous_until = NumberAttribute(null=True)  # ms: the previous secret's grace ends then
    rotated_at = NumberAttribute(null=True)

    by_account = KeysByAccount()

    @property
    def is_record(self) -> bool:
        return self.key_hash.startswith(RECORD_PREFIX)


def record_key(key_id: str) -> str:
    return f"{RECORD_PREFIX}{key_id}"
