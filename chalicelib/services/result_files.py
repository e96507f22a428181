"""The formats of a run's files, rendered as streams of byte chunks.

Each file is produced chunk by chunk (about CHUNK_LINES lines at a time) from the run's numpy
columns, so a run never holds a whole file, nor one Python object per answer, in memory: the
publisher writes the chunks to a temporary file, hashing them on the way (see
publishing.publish_run). The bytes are exactly those of rendering every row at once
(tests/results/golden).
"""
import csv
import io
import json
import struct
import zlib
from typing import Iterable, Iterator

CHUNK_LINES = 10_000


def jsonl(rows: Iterable[dict]) -> Iterator[bytes]:
    lines = []
    for row in rows:
        lines.append(json.dumps(row, separators=(",", ":"), sort_keys=False))
        if len(lines) == CHUNK_LINES:
            yield ("\n".join(lines) + "\n").encode()
            lines = []
    if lines:
        yield ("\n".join(lines) + "\n").encode()


def cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"), sort_keys=True)
    return str(value)


def table_csv(rows: Iterable[dict], columns: list[str]) -> Iterator[bytes]:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for count, row in enumerate(rows, 1):
        writer.writerow([cell(row.get(c)) for c in columns])
        if count % CHUNK_LINES == 0:
            yield out.getvalue().encode()
            out.seek(0)
            out.truncate()
    yield out.getvalue().encode()


def results_csv(rows: Iterable[dict], labels: list[str], payload_keys: list[str]) -> Iterator[bytes]:
    """results.jsonl flattened: payload fields as payload.<name>, the posterior as p:<label>.
    `payload_keys`: every payload field of the rows, sorted (the columns come first)."""
    flat = ({**{k: v for k, v in r.items() if k not in ("payload", "posterior")},
             **{f"payload.{k}": r["payload"].get(k) for k in payload_keys},
             **{f"p:{label}": r["posterior"][label] for label in labels}} for r in rows)
    columns = ["task_id", "label", "confidence", "answer_count", "gold", "method", "run_id", "created_at",
               *[f"p:{label}" for label in labels], *[f"payload.{k}" for k in payload_keys]]
    return table_csv(flat, columns)


# gzip.compress(data, mtime=0)'s header (level 9, no name, OS "unix"), so that streaming the
# compression gives the same bytes as compressing the whole file at once.
GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\x03"


def gzipped(chunks: Iterable[bytes]) -> Iterator[bytes]:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    crc, size = 0, 0
    yield GZIP_HEADER
    for chunk in chunks:
        crc, size = zlib.crc32(chunk, crc), size + len(chunk)
        compressed = compressor.compress(chunk)
        if compressed:
            yield compressed
    yield compressor.flush() + struct.pack("<II", crc, size & 0xFFFFFFFF)
