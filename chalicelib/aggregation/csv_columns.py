"""Read chosen columns of a CSV file as lists of strings, fast when the file is plain.

The command line reads files of millions of answers. ``csv.DictReader`` spends about 3 µs a
row building dicts, so a plain file (no quotes, no carriage returns, no NUL, no empty lines,
the header's number of fields on every line) is split in bulk instead: the whole text is
split on commas and newlines at once, after numpy has checked on the bytes that every line has
exactly the header's number of fields. Anything else goes through the csv module with
``csv.DictReader``'s semantics (empty lines skipped, a missing field is ``None``, a repeated
header name takes the last column). Both paths return the same lists for any file both accept.
"""
from __future__ import annotations

import csv

import numpy as np

csv.field_size_limit(1 << 24)  # long transcriptions and box lists

_COMMA, _NEWLINE = ord(","), ord("\n")


def read_columns(path: str, columns: list[str], alternatives: dict | None = None
                 ) -> tuple[dict[str, list], dict[str, str]]:
    """``({requested name: values}, {requested name: column used})`` for the file at ``path``.

    ``alternatives`` maps a requested name to other accepted header names (the first present
    wins); a name with none present raises SystemExit naming the file.
    """
    with open(path, "rb") as handle:
        data = handle.read()
    text = data.decode("utf-8")
    fields, body = _plain_header_and_body(data, text)
    if fields is None:
        fields, values_of = _parsed(path)
    else:
        values_of = _split_plain(body, len(fields))
    used = {}
    for column in columns:
        options = [column] + (alternatives or {}).get(column, [])
        found = next((c for c in options if c in fields), None)
        if found is None:
            raise SystemExit(f"{path}: missing column(s) {column}")
        used[column] = found
    last_index = {name: i for i, name in enumerate(fields)}  # dict(zip()) keeps the last
    return {column: values_of(last_index[used[column]]) for column in columns}, used


def _plain_header_and_body(data: bytes, text: str) -> tuple[list[str] | None, str]:
    """The header's fields and the rest of the text if the fast split reads the file exactly
    as the csv module would; ``(None, "")`` otherwise."""
    if any(special in data for special in (b'"', b"\r", b"\x00")) or b"\n" not in data:
        return None, ""
    header_end = data.index(b"\n")
    fields = text[:text.index("\n")].split(",")
    body = data[header_end + 1:]
    if body and not body.endswith(b"\n"):
        body += b"\n"
    raw = np.frombuffer(body, dtype=np.uint8)
    separators = raw[np.flatnonzero((raw == _COMMA) | (raw == _NEWLINE))]
    if separators.size % len(fields):
        return None, ""
    per_row = separators.reshape(-1, len(fields))
    if not ((per_row[:, -1] == _NEWLINE).all() and (per_row[:, :-1] == _COMMA).all()):
        return None, ""  # a line with too few or too many fields, or an empty line
    return fields, text[text.index("\n") + 1:]


def _split_plain(body: str, width: int):
    values = body.rstrip("\n").replace("\n", ",").split(",") if body.strip("\n") else []
    return lambda index: values[index::width]


def _parsed(path: str):
    """Header and column getter through the csv module (quoted fields, odd lines)."""
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        fields = next(reader, [])
        rows = [row for row in reader if row]

    def values_of(index: int) -> list:
        return [row[index] if index < len(row) else None for row in rows]
    return fields, values_of
