"""Overlap per task: carried to the tasks when a project's overlap changes, and adapted to
confidence after each aggregation run (adaptive overlap).

The criterion is the same for every task kind, on the confidence of the task's published
result: the chosen answer's probability (single and multiple choice, rating, pairwise: so a
pair stops when the ranking is sure of its winner, and work goes to the pairs it is least
sure of), the probability that the truth lies within the tolerance of the value (number), the
answers' agreement (text), the mean box confidence (boxes). See chalicelib.kinds.

A task's overlap is its number of slots (models.tasks.Task). Every change here is one
conditional write on the task as it was read, with the complete-count moved in the same
transaction, so a change racing an answer or another change is simply retried or left to the
next pass; no answer is ever removed, and a live lease on a slot beyond a lowered overlap keeps
its slot and can still be answered (the task then ends with more answers than its overlap).
"""
from time import monotonic

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.models import Project, Task
from chalicelib.models.base import connection, failed_conditions
from chalicelib.services import counters

TASK_FIELDS = ["project_id", "task_id", "overlap", "answer_count", "open_project", "gold_project", "cancelled_at"]
RETRIES = 3


def set_task_overlap(project_id: str, task: Task, overlap: int) -> bool:
    """Give the task `overlap` slots; re-open it if it now needs more answers, complete it if
    it has enough. False if the task changed meanwhile (the caller re-reads and retries)."""
    if task.gold_project or task.cancelled_at is not None:
        return True  # gold has no slot limit; a cancelled task stays cancelled
    answers, was_open = int(task.answer_count), bool(task.open_project)
    now_open = answers < overlap
    read_overlap = (Task.overlap == int(task.overlap)) if task.overlap is not None else Task.overlap.does_not_exist()
    condition = read_overlap & Task.cancelled_at.does_not_exist() & \
        (Task.open_project.exists() if was_open else Task.open_project.does_not_exist()) & \
        ((Task.answer_count < overlap) if now_open else (Task.answer_count >= overlap))
    actions = [Task.overlap.set(overlap)]
    if now_open and not was_open:
        actions.append(Task.open_project.set(project_id))
    elif was_open and not now_open:
        actions.append(Task.open_project.remove())
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.update(Task(project_id, task.task_id), actions=actions, condition=condition)
            if was_open != now_open:
                counters.add_in(tx, project_id, tasks_complete=1 if was_open else -1)
    except TransactWriteError as error:
        if not any(failed_conditions(error)):
            raise
        return False
    return True


def _apply(project_id: str, task: Task, overlap_of) -> None:
    """Set the overlap `overlap_of(task)` (None: leave the task), retrying on a race."""
    for _ in range(RETRIES):
        overlap = overlap_of(task)
        if overlap is None or set_task_overlap(project_id, task, overlap):
            return
        # A query for the one key, not a GetItem: the scheduled function reads tasks by Query only.
        fresh = list(Task.query(project_id, Task.task_id == task.task_id, consistent_read=True,
                                attributes_to_get=TASK_FIELDS))
        if not fresh:
            return
        task = fresh[0]


# --- After PATCH overlap: the housekeeping pass -------------------------------------------
def sync_project(project: Project, deadline: float, page_size: int = 100) -> bool:
    """Carry the project's overlap to its tasks, a page at a time from the cursor kept on the
    project; True when every task has it. A PATCH during the walk restarts it (its cursor
    write is conditional on the overlap it carries)."""
    target = int(project.overlap)
    start = (project.overlap_sync or {}).get("cursor")
    same_change = (Project.overlap == target) & Project.overlap_sync.exists()
    while monotonic() < deadline:
        page = Task.query(project.project_id, limit=page_size, last_evaluated_key=start,
                          consistent_read=True, attributes_to_get=TASK_FIELDS)
        for task in page:
            if task.overlap is None or int(task.overlap) != target:
                _apply(project.project_id, task, lambda _task: target)
        start = page.last_evaluated_key
        try:
            project.update(actions=[Project.overlap_sync.set({"cursor": start})] if start
                           else [Project.overlap_sync.remove()], condition=same_change)
        except Exception:  # UpdateError: the overlap changed again; next pass restarts
            return False
        if not start:
            return True
    return False


# --- Adaptive overlap: after each aggregation run ------------------------------------------
def adaptive_target(settings: dict, confidence: float, task: Task) -> int | None:
    """The overlap the task should have after a run, or None to leave it.

    Confident with at least min answers: complete (overlap = its answers). Below target with all
    its answers: one more slot, up to max. Otherwise it is still collecting."""
    answers = int(task.answer_count)
    overlap = int(task.overlap) if task.overlap is not None else int(settings["min_overlap"])
    if confidence >= float(settings["target_confidence"]):
        if answers >= int(settings["min_overlap"]) and task.open_project:
            return answers
        return None
    if answers >= overlap and overlap < int(settings["max_overlap"]):
        return overlap + 1
    return None


def after_run(project: Project, rows: list[dict]) -> dict:
    """The aggregator's hook: apply adaptive overlap from the run's per-task confidence.
    Reads only the tasks the run could change, a hundred per request."""
    settings = project.adaptive_overlap
    if not settings:
        return {}
    target = float(settings["target_confidence"])
    wanted = {r["task_id"]: float(r["confidence"]) for r in rows if not r.get("gold") and (
        (r["confidence"] >= target and r["answer_count"] >= int(settings["min_overlap"]))
        or (r["confidence"] < target and r["answer_count"] < int(settings["max_overlap"])))}
    keys = [(project.project_id, task_id) for task_id in wanted]
    changed = {"completed": 0, "raised": 0}
    for task in Task.batch_get(keys, attributes_to_get=TASK_FIELDS):
        overlap = adaptive_target(settings, wanted[task.task_id], task)
        if overlap is None:
            continue
        _apply(project.project_id, task, lambda t: adaptive_target(settings, wanted[t.task_id], t))
        changed["completed" if wanted[task.task_id] >= target else "raised"] += 1
    return changed
