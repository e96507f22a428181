"""A worker's right to be forgotten: its id and profile are erased, its work and money stay.

The worker id is a key of everything the worker did: its assignments (range key, and the
by_worker index), its records (hash key of the workers table), its payments (the ledger's
by_worker index, and a reward's key), the task slots it holds, its lease ids (sealed, but they
contain it) and its API keys' owner. Erasure moves every one of them to a tombstone id, random
and linked to nothing ("x-" and 16 hex digits, as long as a worker id), reading them through
the worker's own indexes (no table scan):

- a worker signed in with the user pool has its account there (its email address) deleted
  first, and its API keys are revoked and re-owned by the tombstone, so the worker can do
  nothing while the rest moves;
- each assignment is re-written under the tombstone with a new lease id (the old one named the
  worker), together with the task slot it holds, in one transaction;
- its payments are re-keyed (a reward's key names the worker) or re-owned, pointing at the new
  lease ids: the money already paid stays in the ledger and in the project's spending;
- its records (per project and overall) move last; the profile on the overall record (display
  name, languages, country, terms) is dropped, not moved.

Afterwards requesters see the erased worker's answers under the tombstone's pseudonym (see
services.pseudonyms): answers, counts and money are unchanged, so the published results are
too. Nothing maps the old id to the tombstone, except while an erasure is under way: the
tombstone is noted on the worker's overall record (`erased_to`), so an erasure interrupted by a
crash resumes with the same tombstone when asked again (by an admin: the worker's keys are
already revoked), and that record is the last to move.
"""
import secrets

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib import auth
from chalicelib.errors import Conflict, NotFound
from chalicelib.models import ApiKey, Assignment, LedgerEntry, Task, WorkerStats
from chalicelib.models.assignments import task_key
from chalicelib.models.base import connection
from chalicelib.models.workers import ALL_PROJECTS
from chalicelib.schemas.erasure import ErasureOut
from chalicelib.services import gold, leases, ledger, work

TOMBSTONE_PREFIX = "x-"
ATTEMPTS = 3


def new_tombstone() -> str:
    return TOMBSTONE_PREFIX + secrets.token_hex(8)


def erase(worker_id: str, signed_in: bool = False) -> ErasureOut:
    """Erase a worker; 404 worker_not_found if there is no such worker (or no more).
    `signed_in`: the worker itself asks, signed in with the user pool (it exists, even if it
    has done nothing yet)."""
    keys = list(ApiKey.by_account.query(worker_id))  # a worker's keys are managed by itself
    is_worker = all(k.role == "worker" for k in keys) and \
        (signed_in or keys or next(iter(WorkerStats.query(worker_id, limit=1)), None) is not None)
    if not is_worker:  # nobody, or a requester's or admin's id: never erase those
        raise NotFound("No such worker.", code="worker_not_found")
    from chalicelib import identity  # here: PyJWT is imported only when needed

    account_deleted = identity.delete_user(worker_id)
    tombstone = _tombstone_for(worker_id)
    revoked = _revoke_keys(keys, tombstone)
    assignments = sum(_move_assignment(a, tombstone) for a in Assignment.by_worker.query(worker_id))
    payments = sum(_move_payment(e, tombstone) for e in LedgerEntry.by_worker.query(worker_id))
    records = _move_records(worker_id, tombstone)
    return ErasureOut(erased=True, keys_revoked=revoked, assignments=assignments, payments=payments,
                      records=records, account_deleted=account_deleted)


def _tombstone_for(worker_id: str) -> str:
    """The tombstone of this erasure: the one an interrupted erasure noted, else a new one,
    noted on the worker's overall record (created if the worker never answered)."""
    overall = WorkerStats(worker_id, ALL_PROJECTS)
    overall.update(actions=[WorkerStats.erased_to.set(WorkerStats.erased_to | new_tombstone())])
    return overall.erased_to


def _revoke_keys(records: list[ApiKey], tombstone: str) -> int:
    """Revoke each key (every live secret of it, as DELETE /keys/{id} does), then re-own the
    record and its secrets' items by the tombstone: the record last, as it is what finds them."""
    for record in records:
        if not record.revoked_at:
            record = auth.revoke(record)
        for key_hash in {record.current_hash, record.previous_hash} - {None}:
            ApiKey(key_hash).update(actions=[ApiKey.owner_id.set(tombstone)])
        record.update(actions=[ApiKey.owner_id.set(tombstone), ApiKey.account_id.set(tombstone)])
    return len(records)


def _copy(item, **changes):
    """The same item with some attributes changed (keys included), as a new model object."""
    copied = type(item).from_raw_data(item.serialize())
    for name, value in changes.items():
        setattr(copied, name, value)
    return copied


def _move_assignment(listed: Assignment, tombstone: str) -> int:
    try:  # the index may lag: move the item as it is now
        assignment = Assignment.get(listed.task_key, listed.worker_id, consistent_read=True)
    except Assignment.DoesNotExist:
        return 0
    for _ in range(ATTEMPTS):
        ref_slot = assignment.slot
        new_lease = leases.new_lease_id(assignment.project_id, assignment.task_id, tombstone, ref_slot)
        moved = _copy(assignment, worker_id=tombstone, lease_id=new_lease)
        holds_slot = False
        if ref_slot != gold.GOLD_SLOT:
            task = Task.get(assignment.project_id, assignment.task_id, consistent_read=True,
                            attributes_to_get=["project_id", "task_id", "slot_lease"])
            holds_slot = work.slots(task)[1].get(ref_slot) == assignment.lease_id
        try:
            with TransactWrite(connection=connection()) as tx:
                tx.save(moved, condition=Assignment.worker_id.does_not_exist())
                tx.delete(assignment, condition=Assignment.state == assignment.state)
                if holds_slot:
                    tx.update(Task(assignment.project_id, assignment.task_id),
                              actions=[Task.slot_lease[ref_slot].set(new_lease),
                                       Task.slot_worker[ref_slot].set(tombstone)],
                              condition=Task.slot_lease[ref_slot] == assignment.lease_id)
            return 1
        except TransactWriteError:
            # The worker's lease lapsed and its slot was taken, or the assignment just changed
            # (an answer, a review): read it again and move what is there now.
            try:
                assignment = Assignment.get(assignment.task_key, assignment.worker_id, consistent_read=True)
            except Assignment.DoesNotExist:
                return 0
    raise Conflict("The worker's assignments keep changing; ask again.", code="concurrent_update")


def _moved_lease_id(entry: LedgerEntry, tombstone: str) -> str | None:
    """The new id of the assignment a payment names (its old id names the worker): the
    assignments were moved first, under the same task."""
    if entry.assignment_id is None or entry.task_id is None:
        return None
    try:
        return Assignment.get(task_key(entry.project_id, entry.task_id), tombstone, consistent_read=True,
                              attributes_to_get=["task_key", "worker_id", "lease_id"]).lease_id
    except Assignment.DoesNotExist:
        return None


def _move_payment(entry: LedgerEntry, tombstone: str) -> int:
    assignment_id = _moved_lease_id(entry, tombstone)
    if entry.kind == "reward":  # its key names the worker: a new key, the same payment
        moved = _copy(entry, entry_id=ledger.reward_entry_id(entry.project_id, entry.task_id, tombstone),
                      worker_id=tombstone, assignment_id=assignment_id)
        with TransactWrite(connection=connection()) as tx:
            tx.save(moved, condition=LedgerEntry.entry_id.does_not_exist())
            tx.delete(entry)
    else:
        entry.update(actions=[LedgerEntry.worker_id.set(tombstone),
                              LedgerEntry.assignment_id.set(assignment_id) if assignment_id
                              else LedgerEntry.assignment_id.remove()])
    return 1


def _move_records(worker_id: str, tombstone: str) -> int:
    records = sorted(WorkerStats.query(worker_id, consistent_read=True),
                     key=lambda s: s.scope == ALL_PROJECTS)  # the overall record (the note) last
    for stats in records:
        moved = _copy(stats, worker_id=tombstone, erased_to=None, display_name=None, languages=None,
                      country=None, terms_accepted_at=None)
        with TransactWrite(connection=connection()) as tx:
            tx.save(moved)
            tx.delete(stats)
    return len(records)
