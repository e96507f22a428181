from pynamodb.attributes import NumberAttribute, UnicodeAttribute, UnicodeSetAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.models.base import meta


class KeysByOwner(GlobalSecondaryIndex):
    """The keys of one requester or worker, oldest first: how a worker's keys are all revoked
    when it is erased (services.erasure), without a scan."""

    class Meta:
        index_name = "by_owner"
        projection = AllProjection()

    owner_id = UnicodeAttribute(hash_key=True)
    created_at = NumberAttribute(range_key=True)


class ApiKey(Model):
    """An API key, stored only as the SHA-256 of the secret. The key id is public."""

    Meta = meta("api_keys")
    key_hash = UnicodeAttribute(hash_key=True)
    key_id = UnicodeAttribute()
    role = UnicodeAttribute()  # admin | requester | worker | integrator
    owner_id = UnicodeAttribute()  # the requester or worker the key acts for
    name = UnicodeAttribute(default="")
    created_at = NumberAttribute()
    revoked_at = NumberAttribute(null=True)
    project_ids = UnicodeSetAttribute(null=True)  # integrator keys: the projects whose results it reads

    by_owner = KeysByOwner()
