"""The scheduled function as tests drive it."""


def run_aggregator(*project_ids):
    """The scheduled pass, restricted to these projects: the store holds every other test's
    projects too, and aggregating them all would only make each call slower."""
    from unittest import mock

    from chalicelib.models import Project
    from chalicelib.services import aggregator

    every_live = Project.live_projects.query

    def only_these(*args, **kwargs):
        return (p for p in every_live(*args, **kwargs) if p.project_id in project_ids)

    with mock.patch.object(Project.live_projects, "query", only_these):
        return {s["project_id"]: s for s in aggregator.run_due_projects()}
