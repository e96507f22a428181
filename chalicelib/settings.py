"""Configuration, read from the environment in this one place.

Table and bucket names come from the infrastructure template's outputs (see infra/template.yaml):
the deployed Lambda gets them as environment variables, and the local stack exports the same
variables after deploying the template into moto. No other module spells a resource name.
"""
import functools
import hashlib
import os
from dataclasses import dataclass, field

TABLES = ("api_keys", "projects", "tasks", "assignments", "counters", "workers", "results", "webhooks",
          "ledger", "audit", "usage")


def table_env_var(table: str) -> str:
    return f"FOULE_TABLE_{table.upper()}"


@dataclass(frozen=True)
class Settings:
    region: str
    tables: dict
    results_bucket: str
    results_prefix: str
    counter_shards: int
    max_body_bytes: int
    presigned_url_seconds: int
    aggregation_method: str
    aggregator_time_budget_seconds: float
    aggregation_min_interval_seconds: float
    webhooks_allow_local: bool
    webhook_timeout_seconds: float
    webhook_max_attempts: int
    auto_approve_batch: int
    review_shards: int
    # Keys, limits and retention (see services.keys, services.rate_limits).
    rate_limiter: str
    default_rate_limit: float
    default_burst_limit: int
    default_quota_limit: int | None
    default_quota_period: str
    expired_lease_retention_days: int
    webhook_log_retention_days: int
    live_shards: int
    open_task_shards: int
    counter_items: int
    cache_seconds: float
    # Task media (services/media.py): the private bucket, the largest file, and how long an
    # upload URL and a lease's read URLs stay valid.
    media_bucket: str = "foule-local-media"
    media_max_bytes: int = 20 * 1024 * 1024
    media_upload_seconds: int = 900
    media_url_seconds: int = 900
    # The deployment's secret: sealed lease ids and worker pseudonyms are keyed by it
    # (chalicelib/sealing.py). The local stack derives one per stack (tools/local_stack.py);
    # in AWS it is a Secrets Manager secret (infra/aws.yaml), named by its ARN.
    secret_key_text: str = field(default="", repr=False)
    secret_arn: str = ""
    # Per-key limits in API Gateway: the name prefix of the usage plans each key is mirrored
    # into (services/usage_plans.py); "" mirrors nothing.
    usage_plans: str = ""
    # Workers' sign-in (chalicelib/identity.py): the Cognito user pool and app client of
    # infra/template.yaml, and the cognito-idp endpoint that serves the pool's signing keys
    # (the regional one in AWS; moto server locally). The browser app's origins get CORS.
    user_pool_id: str = ""
    user_pool_client_id: str = ""
    cognito_endpoint: str = ""
    app_origins: tuple[str, ...] = ()

    def table(self, name: str) -> str:
        return self.tables[name]

    def cognito_issuer(self) -> str:
        """The `iss` of the pool's tokens (moto's say the same as AWS's)."""
        return f"https://cognito-idp.{self.region}.amazonaws.com/{self.user_pool_id}"

    def cognito_jwks_url(self) -> str:
        return f"{self.cognito_endpoint}/{self.user_pool_id}/.well-known/jwks.json"

    def secret_key(self) -> bytes:
        if self.secret_arn:
            return _stored_secret(self.secret_arn, self.region)
        if not self.secret_key_text:
            raise RuntimeError("Neither FOULE_SECRET_ARN nor FOULE_SECRET_KEY is set: "
                               "the deployment's secret keys sealed ids")
        return hashlib.sha256(self.secret_key_text.encode()).digest()


@functools.cache
def _stored_secret(arn: str, region: str) -> bytes:
    """The deployment's secret from Secrets Manager: read once per process, when first needed
    (a request that seals nothing never pays for it)."""
    import boto3

    text = boto3.client("secretsmanager", region_name=region).get_secret_value(SecretId=arn)["SecretString"]
    return hashlib.sha256(text.encode()).digest()


def load() -> Settings:
    env = os.environ
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"
    return Settings(
        region=region,
        tables={name: env.get(table_env_var(name), f"foule-local-{name}") for name in TABLES},
        results_bucket=env.get("FOULE_RESULTS_BUCKET", "foule-local-results"),
        results_prefix=env.get("FOULE_RESULTS_PREFIX", "results").strip("/"),
        # Writes of a popular project are spread over this many counter items and answer-index
        # partitions, so that no single key takes every write of the project.
        counter_shards=int(env.get("FOULE_COUNTER_SHARDS", "8")),
        max_body_bytes=int(env.get("FOULE_MAX_BODY_BYTES", str(6 * 1024 * 1024))),
        presigned_url_seconds=int(env.get("FOULE_PRESIGNED_URL_SECONDS", "3600")),
        # Empty means the aggregation package's documented default.
        aggregation_method=env.get("FOULE_AGGREGATION_METHOD", ""),
        # Stop starting new projects after this long, well inside the Lambda timeout.
        aggregator_time_budget_seconds=float(env.get("FOULE_AGGREGATOR_TIME_BUDGET_SECONDS", "600")),
        # A project that keeps receiving answers is re-aggregated at most this often
        # (a requester's explicit request is served on the next pass regardless).
        aggregation_min_interval_seconds=float(env.get("FOULE_AGGREGATION_MIN_INTERVAL_SECONDS", "60")),
        # Webhook URLs may be http://127.0.0.1 or localhost and resolve to private addresses:
        # for the local stack and the tests only, never in AWS (it would open the door to SSRF).
        webhooks_allow_local=env.get("FOULE_WEBHOOKS_ALLOW_LOCAL", "").lower() in ("1", "true", "yes"),
        # Per attempt: the first one is made right after a run is published, so it must be short.
        webhook_timeout_seconds=float(env.get("FOULE_WEBHOOK_TIMEOUT_SECONDS", "5")),
        webhook_max_attempts=int(env.get("FOULE_WEBHOOK_MAX_ATTEMPTS", "8")),
        # The auto-approval pass approves at most this many assignments per scheduled run.
        auto_approve_batch=int(env.get("FOULE_AUTO_APPROVE_BATCH", "2000")),
        # Partitions of the index of answers awaiting review: every answer of every project
        # is written to one of them, so there are more than a project's counter shards.
        review_shards=int(env.get("FOULE_REVIEW_SHARDS", "32")),
        # Partitions of the live-projects index and (at most) of a project's open-task index:
        # every /work/next reads one of each and every lease and answer writes to one open-task
        # partition (bench/capacity_model.py says how many a load needs). Raise, never lower.
        live_shards=int(env.get("FOULE_LIVE_SHARDS", "4")),
        open_task_shards=int(env.get("FOULE_OPEN_TASK_SHARDS", "8")),
        # Counter items a project's additions go to (each lease and answer transaction takes
        # one): two transactions meeting on one item cancel each other (TransactionConflict),
        # so a popular project needs many; a read is one query whatever their number.
        counter_items=int(env.get("FOULE_COUNTER_ITEMS", "256")),
        # Per-key limits enforced by the API with a DynamoDB counter ("store"), or "off": off in
        # AWS, where API Gateway's usage plans enforce them (FOULE_USAGE_PLANS, infra/aws.yaml).
        # The defaults apply to keys without their own; high enough that no test is ever throttled.
        rate_limiter=env.get("FOULE_RATE_LIMITER", "store"),
        default_rate_limit=float(env.get("FOULE_RATE_LIMIT", "200")),
        default_burst_limit=int(env.get("FOULE_BURST_LIMIT", "400")),
        default_quota_limit=int(env["FOULE_QUOTA_LIMIT"]) if env.get("FOULE_QUOTA_LIMIT") else None,
        default_quota_period=env.get("FOULE_QUOTA_PERIOD", "DAY"),
        # Time to live (DynamoDB deletes the items after it): expired leases' assignments and
        # webhook deliveries.
        expired_lease_retention_days=int(env.get("FOULE_EXPIRED_LEASE_RETENTION_DAYS", "30")),
        webhook_log_retention_days=int(env.get("FOULE_WEBHOOK_LOG_RETENTION_DAYS", "30")),
        secret_key_text=env.get("FOULE_SECRET_KEY", ""),
        secret_arn=env.get("FOULE_SECRET_ARN", ""),
        usage_plans=env.get("FOULE_USAGE_PLANS", ""),
        # How long a process may reuse a key's authorization and a project's work settings
        # (chalicelib/cache.py); 0 reads the store on every request.
        cache_seconds=float(env.get("FOULE_CACHE_SECONDS", "5")),
        media_bucket=env.get("FOULE_MEDIA_BUCKET", "foule-local-media"),
        media_max_bytes=int(env.get("FOULE_MEDIA_MAX_BYTES", str(20 * 1024 * 1024))),
        media_upload_seconds=int(env.get("FOULE_MEDIA_UPLOAD_SECONDS", "900")),
        media_url_seconds=int(env.get("FOULE_MEDIA_URL_SECONDS", "900")),
        user_pool_id=env.get("FOULE_USER_POOL_ID", ""),
        user_pool_client_id=env.get("FOULE_USER_POOL_CLIENT_ID", ""),
        cognito_endpoint=env.get("FOULE_COGNITO_ENDPOINT", f"https://cognito-idp.{region}.amazonaws.com").rstrip("/"),
        app_origins=tuple(o.strip().rstrip("/") for o in env.get("FOULE_APP_ORIGINS", "").split(",") if o.strip()),
    )


settings = load()
