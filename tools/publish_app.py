"""Publish the worker app (web/worker/) to its S3 bucket behind CloudFront (infra/aws.yaml).

    python -m tools.publish_app --stack-name foule-dev      # what `make deploy` runs last

Reads the deployed stack's outputs, uploads every file of web/worker/ with its content type
and cache lifetime, writes config.json (the API's URL and the user pool, the same contract
`make run` serves through tools/web_server.py), deletes files the app no longer has, and
invalidates the distribution's cache so the new version is served at once.
"""
import argparse
import json
import mimetypes
import sys
import time
from pathlib import Path

import boto3

from tools.web_server import WORKER_APP, AppHandler, app_config

# Revalidated on every load (a deploy is seen at once; the service worker updates itself);
# the rest an hour in browsers and a day at the edge (each publication invalidates the edge).
SHORT_LIVED = {"index.html", "config.json", "sw.js"}
SHORT_CACHE = "no-cache"
LONG_CACHE = "public, max-age=3600, s-maxage=86400"


def content_type(name: str) -> str:
    """The Content-Type the local server sends for this file (tools/web_server.py)."""
    suffix = Path(name).suffix.lower()
    return (AppHandler.extensions_map.get(suffix) or mimetypes.guess_type(name)[0]
            or "application/octet-stream")


def cache_control(name: str) -> str:
    return SHORT_CACHE if name in SHORT_LIVED else LONG_CACHE


def app_files(root: Path = WORKER_APP) -> dict[str, Path]:
    """Object key -> file, for every file of the app (config.json is generated, never on disk)."""
    return {path.relative_to(root).as_posix(): path for path in sorted(root.rglob("*"))
            if path.is_file() and not path.name.startswith(".") and path.name != "config.json"}


def config_from_outputs(outputs: dict[str, str], region: str) -> dict:
    """config.json from the stack's outputs: chalice's EndpointURL, template.yaml's user pool."""
    return app_config(outputs["EndpointURL"], {
        "endpoint": f"https://cognito-idp.{region}.amazonaws.com/", "region": region,
        "user_pool_id": outputs["FouleUserPoolId"], "client_id": outputs["FouleUserPoolClientId"]})


def publish(s3, bucket: str, config: dict, root: Path = WORKER_APP) -> list[str]:
    """Upload the app and its config.json into `bucket`, remove what it no longer has; the keys written."""
    written = []
    for key, path in app_files(root).items():
        s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes(), ContentType=content_type(key),
                      CacheControl=cache_control(key))
        written.append(key)
    s3.put_object(Bucket=bucket, Key="config.json", Body=json.dumps(config).encode(),
                  ContentType="application/json", CacheControl=cache_control("config.json"))
    written.append("config.json")
    stale = [obj["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
             for obj in page.get("Contents", []) if obj["Key"] not in written]
    for start in range(0, len(stale), 1000):
        s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in stale[start:start + 1000]]})
    return written


def stack_outputs(cloudformation, stack_name: str) -> dict[str, str]:
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack-name", required=True)
    args = parser.parse_args(argv)
    session = boto3.session.Session()
    outputs = stack_outputs(session.client("cloudformation"), args.stack_name)
    config = config_from_outputs(outputs, session.region_name)
    written = publish(session.client("s3"), outputs["AppBucketName"], config)
    session.client("cloudfront").create_invalidation(
        DistributionId=outputs["AppDistributionId"],
        InvalidationBatch={"Paths": {"Quantity": 1, "Items": ["/*"]}, "CallerReference": str(time.time_ns())})
    print(f"worker app: {outputs['AppUrl']} ({len(written)} files in s3://{outputs['AppBucketName']}, "
          f"API {config['api_url']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
