"""Read chosen columns of a CSV file, fast when the file is plain.

The command line reads files of millions of answers. ``csv.DictReader`` spends about 3 µs a
row building dicts, so a plain file (no quotes, no carriage returns, no NUL, no empty lines,
the header's number of fields on every line, as numpy checks on the bytes) is read in bulk:

- :func:`read_columns` gives lists of strings: the text is split on commas and newlines at once;
- :func:`read_coded_columns` gives each column coded by first appearance (an index per row and
  the distinct values) without making a string per row: each field's bytes, zero-padded to
  8-byte words, are sorted as integers by numpy and only the distinct values are decoded.

Anything else goes through the csv module with ``csv.DictReader``'s semantics (empty lines
skipped, a missing field is ``None``, a repeated header name takes the last column). Both
paths give the same result for any file both accept.
"""
from __future__ import annotations

import csv

import numpy as np

from .classification._encoding import first_appearance_codes

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
    used, last_index = _resolve(path, fields, columns, alternatives)
    return {column: values_of(last_index[used[column]]) for column in columns}, used


def read_coded_columns(path: str, columns: list[str], alternatives: dict | None = None
                       ) -> tuple[dict[str, tuple[np.ndarray, list]], dict[str, str]]:
    """Like :func:`read_columns`, each column as ``(int64 index per row, distinct values in
    order of first appearance)``."""
    with open(path, "rb") as handle:
        data = handle.read()
    data.decode("utf-8")  # the same error as the csv path on a file that is not UTF-8
    layout = _plain_layout(data)
    if layout is None:
        values, used = read_columns(path, columns, alternatives)
        return {column: first_appearance_codes(values[column]) for column in columns}, used
    fields, body, starts, ends = layout
    used, last_index = _resolve(path, fields, columns, alternatives)
    return {column: _byte_codes(body, starts[:, last_index[used[column]]],
                                ends[:, last_index[used[column]]]) for column in columns}, used


def _resolve(path: str, fields: list[str], columns: list[str], alternatives: dict | None
             ) -> tuple[dict[str, str], dict[str, int]]:
    used = {}
    for column in columns:
        options = [column] + (alternatives or {}).get(column, [])
        found = next((c for c in options if c in fields), None)
        if found is None:
            raise SystemExit(f"{path}: missing column(s) {column}")
        used[column] = found
    last_index = {name: i for i, name in enumerate(fields)}  # dict(zip()) keeps the last
    return used, last_index


def _plain_layout(data: bytes):
    """``(header fields, body bytes, field starts, field ends)`` (offsets into the body, one
    row of the arrays per line) if the file is plain, else None."""
    if any(special in data for special in (b'"', b"\r", b"\x00")) or b"\n" not in data:
        return None
    header_end = data.index(b"\n")
    fields = data[:header_end].decode("utf-8").split(",")
    body = data[header_end + 1:]
    if body and not body.endswith(b"\n"):
        body += b"\n"
    raw = np.frombuffer(body, dtype=np.uint8)
    positions = np.flatnonzero((raw == _COMMA) | (raw == _NEWLINE))
    if positions.size % len(fields):
        return None
    separators = raw[positions].reshape(-1, len(fields))
    if not ((separators[:, -1] == _NEWLINE).all() and (separators[:, :-1] == _COMMA).all()):
        return None  # a line with too few or too many fields, or an empty line
    ends = positions.reshape(-1, len(fields))
    starts = np.empty_like(positions)
    starts[:1] = 0
    starts[1:] = positions[:-1] + 1
    return fields, body, starts.reshape(ends.shape), ends


def _byte_codes(body: bytes, starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, list]:
    """:func:`first_appearance_codes` of the fields ``body[start:end]``, sorting their bytes.

    Each field becomes its bytes zero-padded to whole 8-byte words (one-to-one, as a plain
    file has no NUL) and a sort by those words groups equal fields.
    """
    n_rows = starts.size
    if n_rows == 0:
        return np.zeros(0, dtype=np.int64), []
    lengths = ends - starts
    n_words = max(1, -(-int(lengths.max()) // 8))
    padded = np.frombuffer(body + bytes(8 * n_words), dtype=np.uint8)
    # Every 8-byte window of the body, as a view: gathering one is a single fancy index.
    windows = np.lib.stride_tricks.as_strided(padded, shape=(padded.size - 7, 8),
                                              strides=(1, 1))
    words = np.empty((n_words, n_rows), dtype=np.uint64)
    for k in range(n_words):
        word = np.ascontiguousarray(windows[starts + 8 * k]).view("<u8").ravel()
        keep = np.clip(lengths - 8 * k, 0, 8).astype(np.uint64)
        low_bits = np.where(keep == 8, np.uint64(0), np.uint64(1) << (keep * np.uint64(8)))
        words[k] = word & (low_bits - np.uint64(1))  # 8 bytes kept: 0 - 1 wraps to all ones
    # Unstable sort (several times faster than a stable one on 1M keys); a group's first
    # appearance is then the smallest row number among its rows.
    order = np.lexsort(words[::-1]) if n_words > 1 else np.argsort(words[0])
    ordered = words[:, order]
    new_group = np.ones(n_rows, dtype=bool)
    new_group[1:] = (ordered[:, 1:] != ordered[:, :-1]).any(axis=0)
    group_of_sorted = np.cumsum(new_group) - 1
    firsts = np.minimum.reduceat(order, np.flatnonzero(new_group))
    by_appearance = np.argsort(firsts)
    renumber = np.empty(firsts.size, dtype=np.int64)
    renumber[by_appearance] = np.arange(firsts.size)
    indices = np.empty(n_rows, dtype=np.int64)
    indices[order] = renumber[group_of_sorted]
    first_rows = firsts[by_appearance]
    distinct = [body[start:end].decode("utf-8") for start, end
                in zip(starts[first_rows].tolist(), ends[first_rows].tolist())]
    return indices, distinct


def _plain_header_and_body(data: bytes, text: str) -> tuple[list[str] | None, str]:
    """The header's fields and the rest of the text if the file is plain (the bulk split
    reads it exactly as the csv module would); ``(None, "")`` otherwise."""
    layout = _plain_layout(data)
    if layout is None:
        return None, ""
    return layout[0], text[text.index("\n") + 1:]


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
