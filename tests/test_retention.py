"""Time to live on what nobody needs for ever: each such item carries `purge_at` (epoch
seconds) at the right time, nothing live carries it, and the tables delete on it. moto never
deletes expired items itself: what is checked is the attribute and the tables' setting."""
import os
import time

import boto3

from tools import local_stack
from tools.package import load_cfn

DAY = 86400
PURGED_TABLES = {"ApiKeysTable", "AssignmentsTable", "WebhooksTable", "UsageTable"}


def test_the_tables_delete_items_on_purge_at_and_the_audit_log_never(moto_endpoint):
    template = load_cfn(local_stack.TEMPLATE)
    declared = {logical_id for logical_id, r in template["Resources"].items()
                if r.get("Properties", {}).get("TimeToLiveSpecification") ==
                {"AttributeName": "purge_at", "Enabled": True}}
    assert declared == PURGED_TABLES
    dynamodb = boto3.client("dynamodb", endpoint_url=moto_endpoint)
    for table in ("api_keys", "assignments", "webhooks", "usage", "audit", "ledger"):
        description = dynamodb.describe_time_to_live(TableName=os.environ[f"FOULE_TABLE_{table.upper()}"])
        status = description["TimeToLiveDescription"]
        if table in ("audit", "ledger"):
            assert status["TimeToLiveStatus"] == "DISABLED", table
        else:
            assert (status["TimeToLiveStatus"], status["AttributeName"]) == ("ENABLED", "purge_at"), table


def test_an_expired_lease_is_purged_after_the_retention_and_a_new_lease_is_not(
        api, make_project, add_tasks, new_key, monkeypatch):
    from chalicelib.models import Assignment, Project
    from chalicelib.models.assignments import task_key
    from chalicelib.services import lifecycle
    from chalicelib.settings import settings

    project_id = make_project(overlap=1)
    add_tasks(project_id, [{"task_id": "t", "payload": {}}])
    worker, worker_id = new_key("worker")
    status, lease = api.post(f"/projects/{project_id}/tasks/t/lease", worker)
    assert status == 200 and Assignment.get(task_key(project_id, "t"), worker_id).purge_at is None
    expired_at = lease["expires_at"] + 1
    monkeypatch.setattr(lifecycle, "now_ms", lambda: expired_at)
    assert lifecycle.sweep_project(Project.get(project_id, consistent_read=True), time.monotonic() + 60) == 1
    expired = Assignment.get(task_key(project_id, "t"), worker_id, consistent_read=True)
    assert expired.state == "expired"
    assert expired.purge_at == expired_at // 1000 + settings.expired_lease_retention_days * DAY
    # Leased again: a new item, which nothing will purge.
    monkeypatch.undo()
    status, again = api.post(f"/projects/{project_id}/tasks/t/lease", worker)
    assert status == 200, again
    live = Assignment.get(task_key(project_id, "t"), worker_id, consistent_read=True)
    assert live.state == "leased" and live.purge_at is None


def test_a_webhook_delivery_log_is_purged_after_the_retention_and_the_endpoint_never(
        api, requester, make_project, monkeypatch):
    import dataclasses

    from chalicelib.models import WebhookDelivery, WebhookEndpoint
    from chalicelib.services import webhook_http, webhooks
    from chalicelib.settings import settings

    local = dataclasses.replace(settings, webhooks_allow_local=True, webhook_timeout_seconds=1)
    monkeypatch.setattr(webhooks, "settings", local)
    monkeypatch.setattr(webhook_http, "settings", local)
    project_id = make_project()
    # Nothing listens there: attempts fail at once, which changes nothing here.
    assert api.request("PUT", f"/projects/{project_id}/webhook", requester,
                       {"url": f"http://127.0.0.1:{local_stack.free_port()}/hook"})[0] == 200
    manifest = {"project_id": project_id, "run_id": "r1", "created_at": 1, "created_at_iso": "x", "answers": 0, "tasks": 0, "workers": 0}
    delivery = webhooks.record_publication(manifest, "results/x/manifest.json")
    stored = WebhookDelivery.get(project_id, delivery.item, consistent_read=True)
    assert stored.purge_at == int(stored.created_at) // 1000 + settings.webhook_log_retention_days * DAY
    endpoint = WebhookEndpoint.get(project_id, webhooks.ENDPOINT, consistent_read=True)
    assert "purge_at" not in endpoint.attribute_values
    # A replay keeps the log for the retention counted from the replay.
    status, _ = api.post(f"/projects/{project_id}/webhook/deliveries/{delivery.item}/replay", requester)
    assert status == 202
    stored = WebhookDelivery.get(project_id, delivery.item, consistent_read=True)
    assert stored.purge_at >= int(time.time()) + settings.webhook_log_retention_days * DAY - 60


def test_aggregation_locks_need_no_time_to_live():
    """The aggregation lock is two attributes of the project's item (models/aggregation_lock):
    DynamoDB's time to live deletes whole items, so it cannot apply; the lock is released after
    each run and a crashed run's claim lapses by its `aggregation_lock_until`."""
    from chalicelib.models.aggregation_lock import ProjectAggregation
    from chalicelib.models.projects import Project

    assert ProjectAggregation.Meta.table_name == Project.Meta.table_name
    assert "purge_at" not in Project.get_attributes()
