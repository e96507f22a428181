"""Lease ids: opaque to clients, but they carry the keys of the assignment they name.

That lets a submission find its assignment with one read, and tell a lease of another
worker (403) from one that does not exist (404) without any index. The keys are sealed
(chalicelib/sealing.py): a lease id is also the assignment id a requester reviews, and must not
give it the worker's id.
"""
import json
import secrets
import zlib
from dataclasses import dataclass

from chalicelib import sealing
from chalicelib.errors import NotFound
from chalicelib.settings import settings


PURPOSE = "lease"


@dataclass(frozen=True)
class LeaseRef:
    project_id: str
    task_id: str
    worker_id: str
    slot: str
    nonce: str


def new_lease_id(project_id: str, task_id: str, worker_id: str, slot: str) -> str:
    raw = json.dumps([project_id, task_id, worker_id, slot, secrets.token_hex(6)], separators=(",", ":"))
    return sealing.seal(PURPOSE, raw.encode())


def parse(lease_id: str) -> LeaseRef:
    try:
        opened = sealing.unseal(PURPOSE, lease_id)
        if opened is None:
            raise ValueError
        fields = json.loads(opened)
        if not (isinstance(fields, list) and len(fields) == 5 and all(isinstance(f, str) for f in fields)):
            raise ValueError
    except (ValueError, TypeError, UnicodeDecodeError):
        raise NotFound("No such lease.", code="lease_not_found") from None
    return LeaseRef(*fields)


def answer_shard(project_id: str, task_id: str) -> str:
    """The answers-index partition of a task's answers (stable, spread over the shards)."""
    return f"{project_id}#{zlib.crc32(task_id.encode()) % settings.counter_shards}"
