"""Money: the ledger of payments, the budget that bounds them, and a worker's balance.

Where each figure lives, and why there:
- A payment (an approved reward, a bonus) is one LedgerEntry whose key is its idempotency
  key, put with "does not exist" in the transaction that moves the balances, so it is paid
  once whatever the retries and races.
- A worker's balances are on its WorkerStats records (scope "*" and the project's):
  `pending_cents` (submitted, awaiting review) and `earned_cents` (approved rewards and
  bonuses). One worker's writes come at one worker's pace, so these items are never hot.
- A project's spending is added to its sharded counters (`paid_cents`, `bonus_cents`): the
  approvals of a popular project land on random shards, never on one item.
- The budget is the one figure a condition must guard, and a DynamoDB condition can read only
  one item, so it lives on the project's item: `budget_remaining_cents`, taken with the
  condition `>= cents`. Only projects created with a budget touch it (`budgeted`); for them the
  item takes one write per never-used lease slot and per bonus. Splitting the budget over
  shards would strand cents on shards (a worker refused while another shard still has money),
  which breaks "exactly N leases for a budget of N rewards".
"""
from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from chalicelib.auth import Caller
from chalicelib.errors import Conflict, NotFound
from chalicelib.models import Assignment, LedgerEntry, Project, WorkerStats
from chalicelib.models.assignments import task_key
from chalicelib.models.base import connection, conflicted, failed_conditions, now_ms, shard_partition
from chalicelib.models.workers import ALL_PROJECTS
from chalicelib.schemas.ledger import (Balance, BonusIn, BonusOut, LedgerEntryOut, LedgerPage,
                                       PaymentOut, PaymentPage)
from chalicelib.services import audit, counters, leases, paging, pseudonyms, sharded_paging


class BudgetExhausted(Exception):
    """The project's remaining budget cannot pay what was asked."""


def budget_exhausted_error(project_id: str) -> Conflict:
    return Conflict("The project's budget cannot pay for more work; the requester can raise it.",
                    code="budget_exhausted", details={"project_id": project_id})


# --- Budget -------------------------------------------------------------------------------
def reserve_in(tx, project, cents: int) -> None:
    """Take `cents` from the project's remaining budget inside a TransactWrite; the transaction
    fails (BudgetExhausted, once the caller reads the cancellation) if less remains.

    `project` is a Project or projects.Terms (anything with project_id and budgeted). A
    project without a budget is not touched at all."""
    if project.budgeted and cents:
        tx.update(Project(project.project_id), actions=[Project.budget_remaining_cents.add(-cents)],
                  condition=Project.budget_remaining_cents >= cents)


def budget_failed(error: TransactWriteError) -> bool:
    """Whether a cancelled transaction failed on the budget. reserve_in must be the last item
    added to the transaction: updates come last, so the project's update is the last item."""
    return failed_conditions(error)[-1:] == [True]


def release_in(tx, project, cents: int) -> None:
    """Give `cents` back to the project's remaining budget inside a TransactWrite."""
    if project.budgeted and cents:
        tx.update(Project(project.project_id), actions=[Project.budget_remaining_cents.add(cents)],
                  condition=Project.budget_remaining_cents.exists())


def change_budget(project: Project, budget_cents: int) -> Project:
    """Raise (or lower, down to what is committed) the budget of a project created with one."""
    if not project.budgeted:
        raise Conflict("This project was created without a budget (unlimited); a budget cannot be "
                       "added later.", code="budget_not_set")
    old = int(project.budget_cents)
    change = budget_cents - old
    try:
        # remaining + change >= 0, i.e. the new budget covers what is already reserved or paid;
        # conditional on the budget read, so two changes racing cannot both apply their delta.
        project.update(actions=[Project.budget_cents.set(budget_cents),
                                Project.budget_remaining_cents.add(change)],
                       condition=(Project.budget_cents == old) & (Project.budget_remaining_cents >= -change))
    except UpdateError:
        latest = Project.get(project.project_id, consistent_read=True)
        if int(latest.budget_cents) != old:
            raise Conflict("The budget changed meanwhile; read the project and try again.",
                           code="concurrent_update") from None
        committed = old - int(latest.budget_remaining_cents)
        raise Conflict(f"{committed} cents of the budget are already reserved or paid; the budget "
                       "cannot go below that.", code="budget_below_committed",
                       details={"committed_cents": committed}) from None
    return project


# --- Payments -----------------------------------------------------------------------------
def reward_entry_id(project_id: str, task_id: str, worker_id: str) -> str:
    """The idempotency key of an assignment's reward: one assignment, one reward, ever."""
    return f"reward#{task_key(project_id, task_id)}#{worker_id}"


def bonus_entry_id(project_id: str, client_token: str) -> str:
    return f"bonus#{project_id}#{client_token}"


def new_entry(entry_id: str, kind: str, worker_id: str, project_id: str, cents: int, *,
              task_id: str | None = None, assignment_id: str | None = None,
              reason: str | None = None) -> LedgerEntry:
    return LedgerEntry(entry_id, kind=kind, worker_id=worker_id, project_id=project_id,
                       project_shard=shard_partition(project_id, counters.random_shard()), cents=cents,
                       created_at=now_ms(), task_id=task_id, assignment_id=assignment_id, reason=reason)


def pay_in(tx, entry: LedgerEntry, worker_actions: list, project_scope_condition=None) -> None:
    """Write a payment once and move the balances it changes, inside a TransactWrite.

    Item order in the transaction's cancellation reasons: the entry (a put) comes before the
    updates, so failed_conditions(...)[0] is "already paid", [1] the worker's global record,
    [2] its record in the project (guarded by `project_scope_condition`)."""
    tx.save(entry, condition=LedgerEntry.entry_id.does_not_exist())
    actions = [WorkerStats.earned_cents.add(entry.cents), *worker_actions]
    tx.update(WorkerStats(entry.worker_id, ALL_PROJECTS), actions=actions)
    tx.update(WorkerStats(entry.worker_id, entry.project_id), actions=actions,
              condition=project_scope_condition)


# --- Bonuses --------------------------------------------------------------------------------
def _bonus_out(project: Project, entry: LedgerEntry) -> BonusOut:
    return BonusOut(bonus_id=entry.entry_id, project_id=entry.project_id,
                    worker_id=pseudonyms.for_requester(project.owner_id, entry.worker_id),
                    assignment_id=entry.assignment_id, cents=int(entry.cents), reason=entry.reason or "",
                    client_token=entry.entry_id.rsplit("#", 1)[1], created_at=int(entry.created_at))


def _bonus_target(project: Project, body: BonusIn) -> tuple[str, str | None, str | None]:
    """(worker, assignment id, task id) the bonus goes to. The requester names the worker by
    its pseudonym (services.pseudonyms), or by the assignment."""
    named = None if body.worker_id is None else pseudonyms.resolve_or_404(project.owner_id, body.worker_id)
    if body.assignment_id is None:
        return named, None, None
    ref = leases.parse(body.assignment_id)
    try:
        if ref.project_id != project.project_id:
            raise Assignment.DoesNotExist
        assignment = Assignment.get(task_key(ref.project_id, ref.task_id), ref.worker_id)
        if assignment.lease_id != body.assignment_id or assignment.submitted_at is None:
            raise Assignment.DoesNotExist
    except Assignment.DoesNotExist:
        raise NotFound("No submitted assignment with this id in this project.",
                       code="assignment_not_found") from None
    if named not in (None, ref.worker_id):
        raise Conflict("The assignment is another worker's.", code="worker_mismatch")
    return ref.worker_id, body.assignment_id, ref.task_id


def send_bonus(project: Project, body: BonusIn, actor: Caller) -> BonusOut:
    """Pay a bonus once per client token: a re-sent request gets the first bonus back (and
    the audit log, written with the payment, has one entry)."""
    worker_id, assignment_id, task_id = _bonus_target(project, body)
    entry = new_entry(bonus_entry_id(project.project_id, body.client_token), "bonus", worker_id,
                      project.project_id, body.cents, task_id=task_id, assignment_id=assignment_id,
                      reason=body.reason)
    for _ in range(3):
        try:
            return _pay_bonus(project, entry, actor)
        except TransactWriteError as error:
            if not conflicted(error):
                raise
    raise Conflict("Other payments to this worker are being written; send the same request again.",
                   code="concurrent_update")


def _pay_bonus(project: Project, entry: LedgerEntry, actor: Caller) -> BonusOut:
    worker_id, cents = entry.worker_id, int(entry.cents)
    try:
        with TransactWrite(connection=connection()) as tx:
            # Only a worker who answered in this project can get its bonus.
            pay_in(tx, entry, [], project_scope_condition=WorkerStats.answers >= 1)
            audit.put_in(tx, audit.entry(audit.project_log(project.project_id), "bonus", actor,
                                         project_id=project.project_id,
                                         worker_id=pseudonyms.for_requester(project.owner_id, worker_id),
                                         cents=cents, reason=entry.reason,
                                         details={"bonus_id": entry.entry_id}))
            counters.add_in(tx, project.project_id, paid_cents=cents, bonus_cents=cents)
            reserve_in(tx, project, cents)
    except TransactWriteError as error:
        # Puts first (the entry, then the audit entry), then the worker's two records.
        already_paid, _, _, not_a_worker = (failed_conditions(error) + [False] * 4)[:4]
        if already_paid:
            return _same_bonus(project, entry)
        if not_a_worker:
            raise NotFound("This worker has not answered in this project.", code="worker_not_found",
                           details={"worker_id": pseudonyms.for_requester(project.owner_id, worker_id)}) from None
        if budget_failed(error):
            raise budget_exhausted_error(project.project_id) from None
        raise
    return _bonus_out(project, entry)


def _same_bonus(project: Project, entry: LedgerEntry) -> BonusOut:
    first = LedgerEntry.get(entry.entry_id, consistent_read=True)
    if (first.worker_id, int(first.cents), first.assignment_id, first.reason) != \
            (entry.worker_id, int(entry.cents), entry.assignment_id, entry.reason):
        raise Conflict("This client token was already used for a different bonus.",
                       code="client_token_reused", details={"bonus_id": first.entry_id})
    return _bonus_out(project, first)


# --- A worker's balance and history ---------------------------------------------------------
def balance(worker_id: str) -> Balance:
    try:
        stats = WorkerStats.get(worker_id, ALL_PROJECTS, consistent_read=True)
    except WorkerStats.DoesNotExist:
        return Balance(pending_cents=0, earned_cents=0)
    return Balance(pending_cents=int(stats.pending_cents or 0), earned_cents=int(stats.earned_cents or 0))


def _entry_fields(e: LedgerEntry) -> dict:
    return dict(entry_id=e.entry_id, kind=e.kind, project_id=e.project_id, task_id=e.task_id,
                assignment_id=e.assignment_id, cents=int(e.cents), reason=e.reason,
                created_at=int(e.created_at))


def history(caller: Caller, limit: int, cursor: str | None) -> LedgerPage:
    start = paging.decode(cursor, {"entry_id": "S", "worker_id": "S", "created_at": "N"},
                          "worker_id", caller.owner_id)
    page = LedgerEntry.by_worker.query(caller.owner_id, limit=limit, last_evaluated_key=start,
                                       scan_index_forward=False)
    items = [LedgerEntryOut(**_entry_fields(e)) for e in page]
    return LedgerPage(balance=balance(caller.owner_id), items=items,
                      next_cursor=paging.encode(page.last_evaluated_key))


def project_payments(project: Project, limit: int, cursor: str | None) -> PaymentPage:
    """What a project paid, entry by entry, from the ledger's sharded project index."""
    entries, next_cursor = sharded_paging.page(
        LedgerEntry, LedgerEntry.by_project, project.project_id, "project_shard",
        {"entry_id": "S", "project_shard": "S", "created_at": "N"}, limit, cursor)
    items = []
    for e in entries:
        alias = pseudonyms.for_requester(project.owner_id, e.worker_id)
        items.append(PaymentOut(**{**_entry_fields(e), "entry_id": shown_entry_id(e, alias)}, worker_id=alias))
    return PaymentPage(items=items, next_cursor=next_cursor)


def shown_entry_id(entry: LedgerEntry, worker_name: str) -> str:
    """An entry's id with the worker named as the reader knows it: a reward's key ends with the
    worker's id (see reward_entry_id), which only the worker itself may see."""
    if entry.kind != "reward":
        return entry.entry_id
    return f"{entry.entry_id.rpartition('#')[0]}#{worker_name}"
