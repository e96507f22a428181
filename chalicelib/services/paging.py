"""Opaque page cursors: DynamoDB's LastEvaluatedKey, sealed.

A cursor is checked against the partition it was issued for, so a cursor from another
project or owner is a 400, never a way to read someone else's items. It is sealed
(chalicelib/sealing.py) because the keys it holds may name a worker (a worker listing, a
review listing, a payment's ledger key), which a requester must never see.
"""
import json

from chalicelib import sealing
from chalicelib.errors import BadRequest

PURPOSE = "cursor"


def encode(last_key: dict | None) -> str | None:
    if not last_key:
        return None
    return sealing.seal(PURPOSE, json.dumps(last_key, sort_keys=True).encode())


def opened(cursor: str):
    """The JSON a cursor of ours holds; ValueError if it is not one."""
    raw = sealing.unseal(PURPOSE, cursor)
    if raw is None:
        raise ValueError("not a cursor of this deployment")
    return json.loads(raw)


def decode(cursor: str | None, key_types: dict[str, str], partition_attribute: str,
           partition_value: str) -> dict | None:
    """The start key a cursor stands for, or a 400 if it is not one this listing issues.

    `key_types` names every attribute of the listing's keys with its DynamoDB type ("S" or
    "N"): a cursor must hold exactly those, typed so, and the caller's own partition.
    """
    if not cursor:
        return None
    try:
        key = opened(cursor)
        ok = (isinstance(key, dict) and set(key) == set(key_types)
              and all(_typed(key[name], kind) for name, kind in key_types.items())
              and key[partition_attribute] == {"S": partition_value})
    except (ValueError, TypeError):
        ok = False
    if not ok:
        raise BadRequest("The cursor is not one this listing issued.", code="invalid_cursor")
    return key


def _typed(value, kind: str) -> bool:
    if not (isinstance(value, dict) and list(value) == [kind] and isinstance(value[kind], str)):
        return False
    if kind == "N":
        float(value[kind])  # ValueError: not a number
    return True
