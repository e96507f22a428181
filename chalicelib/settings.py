"""Configuration, read from the environment in this one place.

Table and bucket names come from the infrastructure template's outputs (see infra/template.yaml):
the deployed Lambda gets them as environment variables, and the local stack exports the same
variables after deploying the template into moto. No other module spells a resource name.
"""
import os
from dataclasses import dataclass

TABLES = ("api_keys", "projects", "tasks", "assignments", "counters", "workers", "results", "webhooks",
          "ledger")


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
    cache_seconds: float

    def table(self, name: str) -> str:
        return self.tables[name]


def load() -> Settings:
    env = os.environ
    return Settings(
        region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
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
        # How long a process may reuse a key's authorization and a project's work settings
        # (chalicelib/cache.py); 0 reads the store on every request.
        cache_seconds=float(env.get("FOULE_CACHE_SECONDS", "5")),
    )


settings = load()
