from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.models import Model

from chalicelib.models.base import meta


class ProjectAggregation(Model):
    """The aggregator's bookkeeping on a project's item, in the projects table.

    A second, narrow view of the same items as chalicelib.models.Project, holding only what the
    aggregator claims and writes, so that a run's lock never travels with the project's other
    fields:
    - `aggregation_lock_until`/`aggregation_lock_owner`: a run claims the project with a
      conditional UpdateItem (no lock, or an expired one, and no run published since it read
      the project) and releases it after publishing; a crashed run's claim expires by itself.
    """

    Meta = meta("projects")
    project_id = UnicodeAttribute(hash_key=True)
    aggregation_lock_until = NumberAttribute(null=True)
    aggregation_lock_owner = UnicodeAttribute(null=True)
    last_run_id = UnicodeAttribute(null=True)
