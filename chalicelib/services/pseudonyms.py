"""Worker pseudonyms: how a requester names a worker, never by the worker's id.

A requester sees each worker under a pseudonym of its own: the same in all of that requester's
projects (so it can follow a worker from project to project, and join the API with its result
files), different for every other requester (so two requesters cannot match their workers),
and telling nothing of the worker's id. It is the sealed pair (requester, worker) (see
chalicelib/sealing.py: deterministic authenticated encryption keyed by the deployment's
secret), so it opens again to the worker id without any lookup table, and only for the
requester it was made for: a pseudonym sent by another requester, a raw worker id, or a forged
string resolves to nothing, which the routes answer with 404 worker_not_found.

The audit log and any other code that shows a worker to a requester calls `for_requester`;
code that takes a worker named by a requester calls `resolve` (or `resolve_or_404`).
"""
from chalicelib import sealing
from chalicelib.errors import NotFound

PURPOSE = "worker-pseudonym"
PREFIX = "wp-"
SEPARATOR = b"\x00"


def for_requester(owner_id: str, worker_id: str) -> str:
    """The pseudonym under which the requester `owner_id` sees the worker `worker_id`."""
    return PREFIX + sealing.seal(PURPOSE, owner_id.encode() + SEPARATOR + worker_id.encode())


def resolve(owner_id: str, pseudonym: str) -> str | None:
    """The worker id behind a pseudonym made for `owner_id`; None for anything else."""
    if not isinstance(pseudonym, str) or not pseudonym.startswith(PREFIX):
        return None
    opened = sealing.unseal(PURPOSE, pseudonym[len(PREFIX):])
    if opened is None:
        return None
    owner, _, worker = opened.partition(SEPARATOR)
    if owner != owner_id.encode() or not worker:
        return None
    return worker.decode()


def not_found() -> NotFound:
    # The same answer for a raw id, another requester's pseudonym and a forgery: no oracle.
    return NotFound("No such worker in your projects: name workers by the pseudonym you were given.",
                    code="worker_not_found")


def resolve_or_404(owner_id: str, pseudonym: str) -> str:
    worker_id = resolve(owner_id, pseudonym)
    if worker_id is None:
        raise not_found()
    return worker_id
