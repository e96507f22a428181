"""Lease ids: opaque to clients, but they carry the keys of the assignment they name.

That lets a submission find its assignment with one read, and tell a lease of another
worker (403) from one that does not exist (404) without any index.
"""
import base64
import json
import secrets
from dataclasses import dataclass

from chalicelib.errors import NotFound


@dataclass(frozen=True)
class LeaseRef:
    project_id: str
    task_id: str
    worker_id: str
    slot: str
    nonce: str


def new_lease_id(project_id: str, task_id: str, worker_id: str, slot: str) -> str:
    raw = json.dumps([project_id, task_id, worker_id, slot, secrets.token_hex(6)], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def parse(lease_id: str) -> LeaseRef:
    try:
        padded = lease_id + "=" * (-len(lease_id) % 4)
        fields = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not (isinstance(fields, list) and len(fields) == 5 and all(isinstance(f, str) for f in fields)):
            raise ValueError
    except (ValueError, TypeError, UnicodeDecodeError):
        raise NotFound("No such lease.", code="lease_not_found") from None
    return LeaseRef(*fields)
