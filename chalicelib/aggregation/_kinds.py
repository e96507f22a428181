"""The data types of :mod:`chalicelib.aggregation.by_kind` (kept apart so that every method
module can import them without importing the registry that imports the method modules)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

KINDS = ("single_choice", "multiple_choice", "number", "rating", "text", "pairwise", "boxes")
TIE = "tie"  # the pairwise answer (and result) when neither item is better


@dataclass(frozen=True)
class KindAnswer:
    """One crowd answer as the API stores it; ``value`` has the form of the task's kind."""

    worker: str
    task: str
    value: Any


@dataclass
class TaskOutcome:
    """The aggregated answer of one task, in the same form as :attr:`KindAnswer.value`."""

    answer: Any
    confidence: float  # in [0, 1]
    details: dict = field(default_factory=dict)  # kind-specific, JSON-able


@dataclass
class KindResult:
    """What :func:`aggregate_kind` returns (every field is JSON-able)."""

    method: str
    tasks: dict[str, TaskOutcome]  # task id -> outcome, every task with answers or gold
    workers: dict[str, float]  # worker id -> reliability in [0, 1]
    ranking: list[dict] | None = None  # pairwise only: [{"item","score","low","high","rank"}]
    params: dict = field(default_factory=dict)  # pass back as warm_start next run


def index_ids(values) -> tuple[list[int], list]:
    """(index of each value, distinct values in order of first appearance)."""
    positions: dict = {}
    codes = [positions.setdefault(v, len(positions)) for v in values]
    return codes, list(positions)


def task_ids_with_gold(answer_tasks: list, known: dict) -> list:
    """The answered tasks in order of first appearance, then gold tasks nobody answered."""
    _, tasks = index_ids(answer_tasks)
    seen = set(tasks)
    return tasks + [task for task in known if task not in seen]
