"""Lease ids: opaque to clients, but they carry the keys of the assignment they name.

That lets a submission find its assignment with one read, and tell a lease of another
worker (403) from one that does not exist (404) without any index.

A lease id is sealed (chalicelib/sealing.py): nobody but this deployment reads it, and an
altered or forged one opens as nothing (a 404). It must not tell a gold lease from a real one,
so its plaintext has the same layout and the same length for both:

    nonce (12 random bytes) | slot (2 bytes; GOLD for a gold lease) |
    project, task, worker (each a 2-byte length and its UTF-8) | zeros up to a multiple of 32

The slot is a fixed-width number, and padding to 32 bytes also blurs the task id's length.
"""
import base64
import json
import secrets
import struct
from dataclasses import dataclass

from chalicelib import sealing
from chalicelib.errors import NotFound

PURPOSE = "lease"
NONCE_BYTES = 12
PAD_TO = 32
GOLD_SLOT = "g"  # the slot of a gold lease, which holds no slot of its task (services/gold)
_GOLD_NUMBER = 0xFFFF


@dataclass(frozen=True)
class LeaseRef:
    project_id: str
    task_id: str
    worker_id: str
    slot: str
    legacy: bool = False  # an unsealed id issued before lease ids were sealed


def new_lease_id(project_id: str, task_id: str, worker_id: str, slot: str) -> str:
    number = _GOLD_NUMBER if slot == GOLD_SLOT else int(slot)
    plaintext = secrets.token_bytes(NONCE_BYTES) + struct.pack(">H", number)
    for field in (project_id, task_id, worker_id):
        encoded = field.encode()
        plaintext += struct.pack(">H", len(encoded)) + encoded
    plaintext += bytes(-len(plaintext) % PAD_TO)
    return sealing.seal(PURPOSE, plaintext)


def _fields(plaintext: bytes) -> LeaseRef:
    (number,) = struct.unpack_from(">H", plaintext, NONCE_BYTES)
    at, fields = NONCE_BYTES + 2, []
    for _ in range(3):
        (length,) = struct.unpack_from(">H", plaintext, at)
        fields.append(plaintext[at + 2:at + 2 + length].decode())
        at += 2 + length
    if at > len(plaintext) or any(plaintext[at:]) or not all(fields):
        raise ValueError("not a lease")
    return LeaseRef(*fields, slot=GOLD_SLOT if number == _GOLD_NUMBER else str(number))


def _legacy(lease_id: str) -> LeaseRef:
    """Ids issued before sealing (base64 of JSON): still held by workers, or the assignment ids
    of answers awaiting review. Its own assignment must still carry it (work.own_assignment)."""
    fields = json.loads(base64.urlsafe_b64decode((lease_id + "=" * (-len(lease_id) % 4)).encode()))
    if not (isinstance(fields, list) and len(fields) == 5 and all(isinstance(f, str) for f in fields)):
        raise ValueError("not a lease")
    return LeaseRef(*fields[:4], legacy=True)


def parse(lease_id: str) -> LeaseRef:
    plaintext = sealing.unseal(PURPOSE, lease_id)
    try:
        return _fields(plaintext) if plaintext is not None else _legacy(lease_id)
    except (ValueError, TypeError, struct.error, UnicodeDecodeError):
        raise NotFound("No such lease.", code="lease_not_found") from None
