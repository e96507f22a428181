from pynamodb.attributes import NumberAttribute, UnicodeAttribute, UnicodeSetAttribute
from pynamodb.models import Model

from chalicelib.models.base import meta


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
