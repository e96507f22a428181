"""Tasks: added in batches, read one by one or a page at a time."""
from typing import get_args

from pydantic import ValidationError
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.auth import Caller
from chalicelib.errors import Conflict, FouleError, NotFound
from chalicelib.models import Assignment, Project, Task, TaskResult
from chalicelib.models.assignments import task_key
from chalicelib.models.base import connection, conflicted, failed_conditions, now_ms
from chalicelib.schemas.answers import parse_answer_type
from chalicelib.schemas.review import ReviewState
from chalicelib.schemas.tasks import (TaskAnswer, TaskBatch, TaskBatchResult, TaskDetail, TaskError,
                                      TaskIn, TaskPage, TaskResultOut, TaskSummary)
from chalicelib.services import counters, open_tasks, paging, projects, pseudonyms, views

MAX_PAYLOAD_BYTES = 64 * 1024
ANSWER_STATES = get_args(ReviewState)  # an answer, whatever its review


def open_order(created_at: int, index: int) -> str:
    """Gold tasks are mixed in the order they were added (real tasks: open_tasks.order_key)."""
    return f"{created_at:013d}#{index:04d}"


def _validate_items(project, batch: TaskBatch) -> tuple[list[tuple[int, TaskIn]], list[TaskError]]:
    answer_type = parse_answer_type(project.answer_type)
    valid, errors, seen = [], [], set()
    for index, raw in enumerate(batch.tasks):
        task_id = raw.get("task_id") if isinstance(raw, dict) else None
        task_id = task_id if isinstance(task_id, str) else None
        try:
            item = TaskIn.model_validate(raw)
            answer_type.check_payload(item.payload)
            views.check_payload(project, item.payload)  # its payload_schema and its view
            if item.known_answer is not None:
                item.known_answer = answer_type.check(item.known_answer, item.payload)
            if len(TaskIn.model_dump_json(item)) > MAX_PAYLOAD_BYTES:
                raise FouleError(f"The task is larger than {MAX_PAYLOAD_BYTES} bytes.", code="task_too_large")
        except ValidationError as error:
            first = error.errors(include_url=False)[0]
            where = ".".join(str(p) for p in first["loc"])
            errors.append(TaskError(index=index, task_id=task_id, code="validation_error",
                                    message=f"{where}: {first['msg']}"))
            continue
        except FouleError as error:
            errors.append(TaskError(index=index, task_id=task_id, code=error.code, message=error.message,
                                    details=error.details))
            continue
        if item.task_id in seen:
            errors.append(TaskError(index=index, task_id=item.task_id, code="duplicate_in_batch",
                                    message="This task id appears earlier in the same batch."))
            continue
        seen.add(item.task_id)
        valid.append((index, item))
    return valid, errors


def add_batch(caller: Caller, project_id: str, batch: TaskBatch) -> TaskBatchResult:
    """Add up to 1,000 tasks. Tasks already present are left untouched, so that re-sending a
    batch duplicates nothing and never resets a task's answers."""
    project = projects.get_owned(caller, project_id)
    if project.status == "closed":
        raise Conflict("The project is closed.", code="project_closed")
    valid, errors = _validate_items(project, batch)
    existing = {t.task_id: t for t in Task.batch_get([(project_id, item.task_id) for _, item in valid])}
    now = now_ms()
    created = unchanged = 0
    pending = []
    for index, item in valid:
        if item.task_id not in existing:
            pending.append((index, item))
        elif (error := _compare_existing(index, item, existing[item.task_id])) is not None:
            errors.append(error)
        else:
            unchanged += 1
    if pending:
        open_tasks.grow(project, len(pending))
    for chunk in _transaction_chunks(pending):
        written, chunk_unchanged, chunk_errors = _create_counted(project, chunk, now)
        created, unchanged = created + written, unchanged + chunk_unchanged
        errors.extend(chunk_errors)
    # Set from the gold tasks stored (created now or before), not from what this call created:
    # a re-sent batch whose first sending died after writing its tasks still marks the project.
    refused = {e.task_id for e in errors if e.code == "task_exists"}
    if not project.has_gold and any(item.known_answer is not None and item.task_id not in refused
                                    for _, item in valid):
        project.update(actions=[Project.has_gold.set(1)])
    errors.sort(key=lambda e: e.index)
    return TaskBatchResult(created=created, unchanged=unchanged, errors=errors)


def _compare_existing(index: int, item: TaskIn, old: Task | None) -> TaskError | None:
    """An error if a different task already has this id (task ids are final), else None."""
    if old is None or (old.payload == item.payload and old.known_answer == item.known_answer):
        return None
    return TaskError(index=index, task_id=item.task_id, code="task_exists",
                     message="A different task with this id exists; task ids are final.")


# A transaction holds at most 100 items and 4 MB: the new tasks and one counter update.
TASKS_PER_TRANSACTION = 99
BYTES_PER_TRANSACTION = 3 * 1024 * 1024


def _transaction_chunks(items: list[tuple[int, TaskIn]]) -> list[list[tuple[int, TaskIn]]]:
    chunks, size = [[]], 0
    for index, item in items:
        item_size = len(TaskIn.model_dump_json(item)) + 200  # attributes the store adds
        if len(chunks[-1]) == TASKS_PER_TRANSACTION or (chunks[-1] and size + item_size > BYTES_PER_TRANSACTION):
            chunks.append([])
            size = 0
        chunks[-1].append((index, item))
        size += item_size
    return [chunk for chunk in chunks if chunk]


def _create_counted(project: Project, chunk: list[tuple[int, TaskIn]], now: int
                    ) -> tuple[int, int, list[TaskError]]:
    """Write new tasks and add them to the project's counters in one transaction, so that a
    function dying in between cannot leave tasks stored but uncounted (a re-sent batch finds
    them present and counts nothing). A task another request created meanwhile fails its
    condition, and the chunk is written again without it. Returns (created, unchanged, errors)."""
    unchanged, errors = 0, []
    for _ in range(5):
        if not chunk:
            break
        try:
            with TransactWrite(connection=connection()) as tx:
                for index, item in chunk:
                    tx.save(new_task(project, item, now, index), condition=Task.task_id.does_not_exist())
                counters.add_in(tx, project.project_id, tasks=len(chunk),
                                gold_tasks=sum(item.known_answer is not None for _, item in chunk))
            return len(chunk), unchanged, errors
        except TransactWriteError as error:
            taken = [entry for entry, failed in zip(chunk, failed_conditions(error)) if failed]
            if not taken and not conflicted(error):
                raise
        # Created meanwhile by another request (or by this one, whose response was lost):
        # compare with what is stored now, and write the rest again.
        stored = {t.task_id: t for t in Task.batch_get([(project.project_id, item.task_id) for _, item in taken],
                                                        consistent_read=True)}
        for index, item in taken:
            error = _compare_existing(index, item, stored.get(item.task_id))
            if error is not None:
                errors.append(error)
            elif item.task_id in stored:
                unchanged += 1
        chunk = [entry for entry in chunk if entry not in taken or entry[1].task_id not in stored]
    if chunk:
        raise Conflict("Other requests are adding the same tasks; send the same batch again.",
                       code="concurrent_update")
    return 0, unchanged, errors


def new_task(project, item: TaskIn, now: int, index: int) -> Task:
    """A real task is open with the project's overlap (an adaptive project's min_overlap); a
    gold task goes to the gold index instead, where it has no slot limit (services/gold)."""
    if item.known_answer is not None:
        where = {"gold_project": project.project_id, "open_order": open_order(now, index)}
    else:  # spread over the project's open-task shards, at a random position (services/open_tasks)
        where = {"open_project": open_tasks.key_of(project, item.task_id),
                 "open_order": open_tasks.order_key(item.task_id, now, index)}
    return Task(project.project_id, item.task_id, payload=item.payload, known_answer=item.known_answer,
                created_at=now, answer_count=0, overlap=int(project.overlap), **where)


def task_status(task: Task) -> str:
    if task.cancelled_at is not None:
        return "cancelled"
    return "open" if task.open_project or task.gold_project else "complete"


def summary(task: Task) -> TaskSummary:
    return TaskSummary(task_id=task.task_id, payload=task.payload, known_answer=task.known_answer,
                       status=task_status(task), overlap=None if task.gold_project else task.overlap,
                       answer_count=int(task.answer_count), created_at=int(task.created_at))


def list_page(caller: Caller, project_id: str, limit: int, cursor: str | None) -> TaskPage:
    projects.get_owned(caller, project_id)
    start = paging.decode(cursor, {"project_id": "S", "task_id": "S"}, "project_id", project_id)
    results = Task.query(project_id, limit=limit, last_evaluated_key=start)
    items = [summary(t) for t in results]
    return TaskPage(items=items, next_cursor=paging.encode(results.last_evaluated_key))


def detail(caller: Caller, project_id: str, task_id: str) -> TaskDetail:
    owner_id = projects.get_owned(caller, project_id).owner_id
    try:
        task = Task.get(project_id, task_id)
    except Task.DoesNotExist:
        raise NotFound(f"No task {task_id!r} in this project.", code="task_not_found") from None
    # Every answer, whatever its review (an approved or rejected answer is still an answer).
    answers = [TaskAnswer(worker_id=pseudonyms.for_requester(owner_id, a.worker_id), answer=a.answer, submitted_at=int(a.submitted_at),
                          time_spent_ms=a.time_spent_ms, state=a.state)
               for a in Assignment.query(task_key(project_id, task_id)) if a.state in ANSWER_STATES]
    try:
        r = TaskResult.get(project_id, task_id)
        result = TaskResultOut(label=r.label, confidence=r.confidence,
                               answer_count=int(r.answer_count), run_id=r.run_id)
    except TaskResult.DoesNotExist:
        result = None
    return TaskDetail(**summary(task).model_dump(), answers=answers, result=result)
