"""Result files on S3, published so that a reader never sees half a run.

Layout under the results prefix, per project:
    <prefix>/<project>/runs/<run_id>/results.jsonl   one line per task
    <prefix>/<project>/runs/<run_id>/manifest.json   the run, counts, each file's size and sha256
    <prefix>/<project>/latest.json                   pointer to the newest manifest, written last
The run's files are written first, then its manifest, and only then the pointer: a crash at
any step leaves the previous pointer, which names a complete run. Once the pointer has moved,
the previous run's data files are tagged foule-run=superseded: the bucket's lifecycle rule
(infra/template.yaml) expires tagged files after the retention period, never the latest run's
nor any manifest.
"""
import hashlib
import json

import boto3
from botocore.config import Config

from chalicelib.errors import NotFound
from chalicelib.schemas.projects import ResultFile, Results
from chalicelib.settings import settings

_s3 = None


def s3():
    global _s3
    if _s3 is None:
        _s3 = boto3.client("s3", region_name=settings.region,
                           config=Config(retries={"mode": "adaptive", "max_attempts": 5},
                                         signature_version="s3v4"))
    return _s3


def project_prefix(project_id: str) -> str:
    return f"{settings.results_prefix}/{project_id}"


def latest_key(project_id: str) -> str:
    return f"{project_prefix(project_id)}/latest.json"


def publish_run(project_id: str, run_id: str, files: dict[str, bytes], manifest: dict) -> dict:
    """Write the run's files, its manifest, then move the latest pointer. Returns the manifest."""
    previous = get_json(latest_key(project_id))
    run_prefix = f"{project_prefix(project_id)}/runs/{run_id}"
    listed = {}
    for name, data in files.items():
        key = f"{run_prefix}/{name}"
        s3().put_object(Bucket=settings.results_bucket, Key=key, Body=data,
                        ContentType=content_type(name))
        listed[name] = {"key": key, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    manifest = {**manifest, "project_id": project_id, "run_id": run_id, "files": listed}
    manifest_key = f"{run_prefix}/manifest.json"
    put_json(manifest_key, manifest)
    put_json(latest_key(project_id), {"project_id": project_id, "run_id": run_id,
                                      "manifest_key": manifest_key,
                                      "created_at": manifest["created_at"]})
    if previous and previous["run_id"] != run_id:
        mark_superseded(previous["manifest_key"])
    return manifest


SUPERSEDED = {"TagSet": [{"Key": "foule-run", "Value": "superseded"}]}


def mark_superseded(manifest_key: str) -> None:
    manifest = get_json(manifest_key) or {"files": {}}
    for entry in manifest["files"].values():
        s3().put_object_tagging(Bucket=settings.results_bucket, Key=entry["key"], Tagging=SUPERSEDED)


def content_type(name: str) -> str:
    return {"jsonl": "application/x-ndjson", "json": "application/json",
            "csv": "text/csv"}.get(name.rsplit(".", 1)[-1], "application/octet-stream")


def put_json(key: str, document: dict) -> None:
    s3().put_object(Bucket=settings.results_bucket, Key=key, ContentType="application/json",
                    Body=json.dumps(document, separators=(",", ":")).encode())


def get_json(key: str) -> dict | None:
    try:
        body = s3().get_object(Bucket=settings.results_bucket, Key=key)["Body"].read()
    except s3().exceptions.NoSuchKey:
        return None
    return json.loads(body)


def latest_results(project_id: str) -> Results:
    pointer = get_json(latest_key(project_id))
    if pointer is None:
        raise NotFound("No results have been published for this project yet.", code="no_results_yet")
    manifest = get_json(pointer["manifest_key"])
    files = {name: ResultFile(url=presigned_get(entry["key"]), **entry)
             for name, entry in manifest["files"].items()}
    return Results(project_id=project_id, run_id=manifest["run_id"], created_at=manifest["created_at"],
                   method=manifest["method"], manifest=manifest, files=files)


def presigned_get(key: str) -> str:
    return s3().generate_presigned_url("get_object", Params={"Bucket": settings.results_bucket, "Key": key},
                                       ExpiresIn=settings.presigned_url_seconds)
