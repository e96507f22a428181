"""Result files on S3, published so that a reader never sees half a run, and announced.

Layout under the results prefix, per project:
    <prefix>/<project>/runs/<run_id>/results.jsonl      one line per task
    <prefix>/<project>/runs/<run_id>/results.csv        the same, flattened
    <prefix>/<project>/runs/<run_id>/workers.csv        one line per (pseudonymous) worker
    <prefix>/<project>/runs/<run_id>/answers.jsonl.gz   every raw answer
    <prefix>/<project>/runs/<run_id>/report.html        the run's report for people (services.report)
    <prefix>/<project>/runs/<run_id>/manifest.json      the run, counts, each file's size and sha256
    <prefix>/<project>/latest.json                      pointer to the newest manifest, written last
The run's files are written first, then its manifest, and only then the pointer: a crash at
any step leaves the previous pointer, which names a complete run (a run folder without a
manifest is never listed by the API). Once the pointer has moved, the previous run's data
files are tagged foule-run=superseded: the bucket's lifecycle rule (infra/template.yaml)
expires tagged files after the retention period, never the latest run's nor any manifest.
Each publication is then announced on EventBridge's default bus (source "foule",
detail-type "ResultsPublished").
"""
import hashlib
import json
import logging
import re
import tempfile
import time
from typing import Iterable

import boto3
from botocore.config import Config

from chalicelib.errors import NotFound
from chalicelib.schemas.results import Report, ResultFile, Results
from chalicelib.settings import settings

log = logging.getLogger("foule.publishing")

EVENT_SOURCE = "foule"
EVENT_DETAIL_TYPE = "ResultsPublished"
# Entries refused inside a successful PutEvents answer are sent again this often.
ANNOUNCE_ATTEMPTS = 4
ANNOUNCE_PAUSE_SECONDS = 0.2
RUN_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,127}$")

_s3 = None
_events = None


def _config() -> Config:
    return Config(retries={"mode": "adaptive", "max_attempts": 5}, signature_version="s3v4")


def s3():
    global _s3
    if _s3 is None:
        _s3 = boto3.client("s3", region_name=settings.region, config=_config())
    return _s3


def events():
    global _events
    if _events is None:
        # connect/read timeouts well under the defaults (60 s): an unreachable EventBridge must
        # not hold the aggregator for minutes after a run is published.
        _events = boto3.client("events", region_name=settings.region,
                               config=Config(retries={"mode": "adaptive", "max_attempts": 5},
                                             connect_timeout=5, read_timeout=10))
    return _events


def project_prefix(project_id: str) -> str:
    return f"{settings.results_prefix}/{project_id}"


def latest_key(project_id: str) -> str:
    return f"{project_prefix(project_id)}/latest.json"


def manifest_key(project_id: str, run_id: str) -> str:
    return f"{project_prefix(project_id)}/runs/{run_id}/manifest.json"


def publish_run(project_id: str, run_id: str, files: dict[str, Iterable[bytes]], manifest: dict) -> dict:
    """Write the run's files (each given as chunks of bytes), its manifest, then move the
    latest pointer; tag the previous run superseded and announce the new one. Returns the
    manifest."""
    previous = get_json(latest_key(project_id))
    run_prefix = f"{project_prefix(project_id)}/runs/{run_id}"
    listed = {}
    for name, chunks in files.items():
        key = f"{run_prefix}/{name}"
        listed[name] = {"key": key, **upload(key, chunks, content_type(name))}
    manifest = {**manifest, "project_id": project_id, "run_id": run_id, "files": listed}
    key = manifest_key(project_id, run_id)
    put_json(key, manifest)
    put_json(latest_key(project_id), {"project_id": project_id, "run_id": run_id, "manifest_key": key,
                                      "created_at": manifest["created_at"]})
    if previous and previous["run_id"] != run_id:
        mark_superseded(previous["manifest_key"])
    announce(project_id, run_id, key)
    return manifest


def upload(key: str, chunks: Iterable[bytes], content_type: str) -> dict:
    """Put one object from its chunks, spooled to a temporary file (Lambda's /tmp) rather than
    held in memory, and hashed on the way; its size and sha256."""
    digest, size = hashlib.sha256(), 0
    with tempfile.TemporaryFile() as spool:
        for chunk in chunks:
            digest.update(chunk)
            size += len(chunk)
            spool.write(chunk)
        spool.seek(0)
        s3().put_object(Bucket=settings.results_bucket, Key=key, Body=spool, ContentType=content_type)
    return {"bytes": size, "sha256": digest.hexdigest()}


def announce(project_id: str, run_id: str, key: str) -> bool:
    """PutEvents on the default bus; whether EventBridge took the event. botocore retries
    throttling and 5xx answers of the call (see events()); an entry refused inside a 200
    answer (FailedEntryCount > 0, e.g. ThrottlingException or InternalFailure for that entry)
    is sent again here, up to ANNOUNCE_ATTEMPTS times with a growing pause. The results are
    already published: a failure is logged, never raised."""
    entry = {"Source": EVENT_SOURCE, "DetailType": EVENT_DETAIL_TYPE, "Resources": [],
             "Detail": json.dumps({"project_id": project_id, "run_id": run_id, "manifest_key": key,
                                   "bucket": settings.results_bucket})}
    for attempt in range(1, ANNOUNCE_ATTEMPTS + 1):
        try:
            response = events().put_events(Entries=[entry])
        except Exception:  # never undo a publication for an announcement
            log.exception("ResultsPublished event for %s run %s not sent", project_id, run_id)
            return False
        if not response.get("FailedEntryCount"):
            return True
        log.warning("ResultsPublished event for %s run %s refused (attempt %d): %s", project_id, run_id,
                    attempt, response.get("Entries"))
        if attempt < ANNOUNCE_ATTEMPTS:
            time.sleep(ANNOUNCE_PAUSE_SECONDS * 2 ** (attempt - 1))
    log.error("ResultsPublished event for %s run %s given up after %d attempts", project_id, run_id,
              ANNOUNCE_ATTEMPTS)
    return False


SUPERSEDED = {"TagSet": [{"Key": "foule-run", "Value": "superseded"}]}


def mark_superseded(key: str) -> None:
    manifest = get_json(key) or {"files": {}}
    for entry in manifest["files"].values():
        s3().put_object_tagging(Bucket=settings.results_bucket, Key=entry["key"], Tagging=SUPERSEDED)


def content_type(name: str) -> str:
    if name.endswith(".gz"):
        return "application/gzip"
    return {"jsonl": "application/x-ndjson", "json": "application/json",
            "csv": "text/csv", "html": "text/html; charset=utf-8"}.get(name.rsplit(".", 1)[-1], "application/octet-stream")


def put_json(key: str, document: dict) -> None:
    s3().put_object(Bucket=settings.results_bucket, Key=key, ContentType="application/json",
                    Body=json.dumps(document, separators=(",", ":")).encode())


def get_json(key: str) -> dict | None:
    try:
        body = s3().get_object(Bucket=settings.results_bucket, Key=key)["Body"].read()
    except s3().exceptions.NoSuchKey:
        return None
    return json.loads(body)


def published_manifest(project_id: str, run_id: str | None = None) -> tuple[dict, bool]:
    """The latest run's manifest (run_id None) or an older run's, and whether it is the latest.
    A run whose manifest was never written (a crash between files) does not exist for readers."""
    pointer = get_json(latest_key(project_id))
    if run_id is None:
        if pointer is None:
            raise NotFound("No results have been published for this project yet.", code="no_results_yet")
        return get_json(pointer["manifest_key"]), True
    manifest = get_json(manifest_key(project_id, run_id)) if RUN_ID_PATTERN.match(run_id) else None
    if manifest is None:
        raise NotFound(f"No published run {run_id!r} for this project.", code="run_not_found")
    return manifest, (pointer or {}).get("run_id") == run_id


def latest_results(project_id: str) -> Results:
    return _results(*published_manifest(project_id))


def run_results(project_id: str, run_id: str) -> Results:
    """An older (or the latest) run, by id."""
    return _results(*published_manifest(project_id, run_id))


def latest_report(project_id: str) -> Report:
    return _report(*published_manifest(project_id))


def run_report(project_id: str, run_id: str) -> Report:
    return _report(*published_manifest(project_id, run_id))


def _report(manifest: dict, latest: bool) -> Report:
    """The run's report.html (runs published before reports existed have none: 404 no_report)."""
    entry = manifest["files"].get("report.html")
    if entry is None:
        raise NotFound(f"Run {manifest['run_id']!r} has no report.", code="no_report")
    return Report(project_id=manifest["project_id"], run_id=manifest["run_id"], created_at=manifest["created_at"],
                  latest=latest, url=presigned_get(entry["key"]), **entry)


def _results(manifest: dict, latest: bool) -> Results:
    files = {name: ResultFile(url=presigned_get(entry["key"]), **entry)
             for name, entry in manifest["files"].items()}
    return Results(project_id=manifest["project_id"], run_id=manifest["run_id"],
                   created_at=manifest["created_at"], method=manifest["method"], latest=latest,
                   manifest=manifest, files=files)


def presigned_get(key: str) -> str:
    return s3().generate_presigned_url("get_object", Params={"Bucket": settings.results_bucket, "Key": key},
                                       ExpiresIn=settings.presigned_url_seconds)
