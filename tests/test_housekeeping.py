"""The scheduled function runs every pass even when one fails, then reports the failure."""
import pytest

from chalicelib.services import housekeeping


def test_a_failing_pass_does_not_stop_the_next_one_and_is_reported(monkeypatch):
    ran = []

    def broken(deadline):
        ran.append("broken")
        raise RuntimeError("store unavailable")

    def healthy(deadline):
        ran.append("healthy")
        return {"done": 1}

    monkeypatch.setattr(housekeeping, "passes", lambda: [("broken", broken), ("healthy", healthy)])
    with pytest.raises(housekeeping.HousekeepingFailed, match="broken: RuntimeError"):
        housekeeping.run(time_budget_seconds=5)
    assert ran == ["broken", "healthy"]


def test_the_aggregation_pass_reports_what_it_published(monkeypatch):
    monkeypatch.setattr("chalicelib.services.aggregator.run_due_projects",
                        lambda time_budget_seconds: [{"project_id": "p-1", "budget": time_budget_seconds}])
    summaries = housekeeping.run(time_budget_seconds=30)
    assert summaries["aggregation"][0]["project_id"] == "p-1"
    assert 0 < summaries["aggregation"][0]["budget"] <= 30
