"""Opaque page cursors: DynamoDB's LastEvaluatedKey, base64-encoded.

A cursor is checked against the partition it was issued for, so a cursor from another
project or owner is a 400, never a way to read someone else's items.
"""
import base64
import json

from chalicelib.errors import BadRequest


def encode(last_key: dict | None) -> str | None:
    if not last_key:
        return None
    return base64.urlsafe_b64encode(json.dumps(last_key, sort_keys=True).encode()).decode()


def decode(cursor: str | None, partition_attribute: str, partition_value: str) -> dict | None:
    if not cursor:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        ok = isinstance(key, dict) and key.get(partition_attribute) == {"S": partition_value}
    except (ValueError, TypeError):
        ok = False
    if not ok:
        raise BadRequest("The cursor is not one this listing issued.", code="invalid_cursor")
    return key
