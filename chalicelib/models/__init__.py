"""pynamodb models, one module per DynamoDB table.

Table names come from settings (the infrastructure template's outputs). The keys and indexes
declared here must match infra/template.yaml; tests/test_infra.py checks that they do.
"""
from chalicelib.models.api_keys import ApiKey
from chalicelib.models.assignments import Assignment
from chalicelib.models.audit import AuditEntry
from chalicelib.models.counters import ProjectCounter
from chalicelib.models.ledger import LedgerEntry
from chalicelib.models.projects import Project
from chalicelib.models.results import TaskResult
from chalicelib.models.tasks import Task
from chalicelib.models.usage import UsageCounter
from chalicelib.models.webhooks import WebhookDelivery, WebhookEndpoint
from chalicelib.models.workers import WorkerStats

ALL_MODELS = (ApiKey, Project, Task, Assignment, ProjectCounter, WorkerStats, TaskResult, WebhookEndpoint,
              WebhookDelivery, LedgerEntry, AuditEntry, UsageCounter)
