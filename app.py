"""Foule's HTTP API and its scheduled aggregator.

Each view authenticates (through the route decorator), gets a validated body, and calls one
service function. The aggregator's numpy code is imported only inside the scheduled handler,
so the API function never pays for it at cold start.
"""
import functools

from chalice import Chalice, Rate

from chalicelib import auth, openapi
from chalicelib.api import Api
from chalicelib.schemas.audit import AccountAuditQuery, AuditPage
from chalicelib.schemas.common import PageQuery
from chalicelib.schemas.erasure import ErasureOut
from chalicelib.schemas.keys import KeyCreate, KeyCreated, KeyOut, KeyPage, KeyQuery, KeyRotate, KeyUpdate
from chalicelib.schemas.ledger import BonusIn, BonusOut, LedgerPage, PaymentPage
from chalicelib.schemas.projects import (AggregationQueued, Progress, ProjectCreate, ProjectOut,
                                         ProjectPage, ProjectUpdate)
from chalicelib.schemas.profile import OpenProjectPage, OpenProjectsQuery, ProfileIn, ProfileOut
from chalicelib.schemas.quality import BlockIn, WorkerDetail, WorkerOut, WorkerPage
from chalicelib.schemas.results import Results
from chalicelib.schemas.review import (ApproveIn, AssignmentQuery, RejectIn, ReviewAssignmentPage,
                                       ReviewResults)
from chalicelib.schemas.tasks import CancelRequest, CancelResult, TaskBatch, TaskBatchResult, TaskDetail, TaskPage
from chalicelib.schemas.webhooks import DeliveryOut, DeliveryPage, WebhookCreated, WebhookIn, WebhookOut, WebhookRemoved
from chalicelib.schemas.work import (AnswerBatch, AnswerBatchResult, AnswerIn, AnswerReceipt, AssignmentPage,
                                     ExtendIn, LeaseExtended, LeaseOut, NextTaskRequest, Released, WorkerProfile)
from chalicelib.services import (audit, erasure, keys, ledger, lifecycle, open_projects, profiles, projects,
                                 publishing, quality, review, tasks, webhooks, work, workers)
from chalicelib.settings import settings

app = Chalice(app_name="foule")
api = Api(app)
REQUESTER, WORKER, ADMIN = ("requester",), ("worker",), ("admin",)
RESULTS_READERS = ("requester", "integrator")  # integrator keys: only these routes, only their projects


# --- Requesters: projects ---------------------------------------------------------------
@api.route("/projects", "POST", roles=REQUESTER, body=ProjectCreate, response=ProjectOut, status=201,
           summary="Create a project")
def create_project(caller, body):
    return projects.create(caller, body)


@api.route("/projects", "GET", roles=REQUESTER, query=PageQuery, response=ProjectPage,
           summary="List your projects, newest first")
def list_projects(caller, query):
    return projects.list_page(caller, query.limit, query.cursor)


@api.route("/projects/{project_id}", "GET", roles=REQUESTER, response=ProjectOut, summary="Read a project")
def read_project(caller, project_id):
    return projects.read(caller, project_id)


@api.route("/projects/{project_id}", "PATCH", roles=REQUESTER, body=ProjectUpdate, response=ProjectOut,
           summary="Pause, resume or close a project; change its priority, overlap, expiry, gold rate")
def update_project(caller, project_id, body):
    return projects.update(caller, project_id, body)


@api.route("/projects/{project_id}/progress", "GET", roles=REQUESTER, response=Progress,
           summary="Tasks open and complete, answers, leases outstanding")
def project_progress(caller, project_id):
    return projects.progress(caller, project_id)


# --- Requesters: tasks and results ------------------------------------------------------
@api.route("/projects/{project_id}/tasks", "POST", roles=REQUESTER, body=TaskBatch, response=TaskBatchResult,
           summary="Add up to 1,000 tasks; re-sending a batch duplicates nothing")
def add_tasks(caller, project_id, body):
    return tasks.add_batch(caller, project_id, body)


@api.route("/projects/{project_id}/tasks", "GET", roles=REQUESTER, query=PageQuery, response=TaskPage,
           summary="Page through tasks in task-id order")
def list_tasks(caller, project_id, query):
    return tasks.list_page(caller, project_id, query.limit, query.cursor)


@api.route("/projects/{project_id}/tasks/{task_id}", "GET", roles=REQUESTER, response=TaskDetail,
           summary="Read a task with its answers and result")
def read_task(caller, project_id, task_id):
    return tasks.detail(caller, project_id, task_id)


@api.route("/projects/{project_id}/tasks/cancel", "POST", roles=REQUESTER, body=CancelRequest,
           response=CancelResult, summary="Cancel tasks: they serve no more work (live leases stay answerable)")
def cancel_tasks(caller, project_id, body):
    return lifecycle.cancel(caller, project_id, body)


@api.route("/projects/{project_id}/results", "GET", roles=RESULTS_READERS, response=Results,
           summary="The latest published results, with presigned URLs (requester or integrator key)")
def latest_results(caller, project_id):
    auth.check_results_reader(caller, project_id, projects.get_owned)
    return publishing.latest_results(project_id)


@api.route("/projects/{project_id}/results/{run_id}", "GET", roles=RESULTS_READERS, response=Results,
           summary="An earlier published run, with presigned URLs (requester or integrator key)")
def run_results(caller, project_id, run_id):
    auth.check_results_reader(caller, project_id, projects.get_owned)
    return publishing.run_results(project_id, run_id)


@api.route("/projects/{project_id}/aggregate", "POST", roles=REQUESTER, response=AggregationQueued,
           status=202, summary="Ask for an aggregation run on the next scheduler pass")
def request_aggregation(caller, project_id):
    return projects.request_aggregation(caller, project_id)


# --- Requesters: webhooks (chalicelib/services/webhooks.py) ----------------------------------
@api.route("/projects/{project_id}/webhook", "PUT", roles=REQUESTER, body=WebhookIn, response=WebhookCreated,
           summary="Register the https URL told of each publication; the signing secret is shown once")
def register_webhook(caller, project_id, body):
    return webhooks.register(caller, project_id, body)


@api.route("/projects/{project_id}/webhook", "GET", roles=REQUESTER, response=WebhookOut,
           summary="The registered webhook (without its secret)")
def read_webhook(caller, project_id):
    return webhooks.read(caller, project_id)


@api.route("/projects/{project_id}/webhook", "DELETE", roles=REQUESTER, response=WebhookRemoved,
           summary="Remove the webhook")
def remove_webhook(caller, project_id):
    return webhooks.remove(caller, project_id)


@api.route("/projects/{project_id}/webhook/deliveries", "GET", roles=REQUESTER, query=PageQuery,
           response=DeliveryPage, summary="The webhook's deliveries, newest first")
def list_webhook_deliveries(caller, project_id, query):
    return webhooks.list_page(caller, project_id, query.limit, query.cursor)


@api.route("/projects/{project_id}/webhook/deliveries/{delivery_id}/replay", "POST", roles=REQUESTER,
           response=DeliveryOut, status=202,
           summary="Send a delivery again now (the same event); a double click sends it once")
def replay_webhook_delivery(caller, project_id, delivery_id):
    return webhooks.replay(caller, project_id, delivery_id)


# --- Requesters: their workers' quality -----------------------------------------------
@api.route("/projects/{project_id}/workers", "GET", roles=REQUESTER, query=PageQuery, response=WorkerPage,
           summary="The project's workers (your pseudonyms for them) with answers, gold accuracy, "
                   "agreement, reliability, blocks")
def list_workers(caller, project_id, query):
    return quality.list_page(caller, project_id, query.limit, query.cursor)


@api.route("/projects/{project_id}/workers/{worker_id}", "GET", roles=REQUESTER, response=WorkerDetail,
           summary="One worker of the project (by your pseudonym), with its reliability across your projects")
def read_worker(caller, project_id, worker_id):
    return quality.read(caller, project_id, worker_id)


@api.route("/projects/{project_id}/workers/{worker_id}/block", "PUT", roles=REQUESTER, body=BlockIn,
           response=WorkerOut, summary="Block a worker from this project, for a duration or for good")
def block_worker(caller, project_id, worker_id, body):
    return quality.block(caller, project_id, worker_id, body)


@api.route("/projects/{project_id}/workers/{worker_id}/block", "DELETE", roles=REQUESTER, response=WorkerOut,
           summary="Unblock a worker")
def unblock_worker(caller, project_id, worker_id):
    return quality.unblock(caller, project_id, worker_id)


@api.route("/projects/{project_id}/workers/{worker_id}/exclude", "PUT", roles=REQUESTER, response=WorkerOut,
           summary="Leave the worker's answers out of the next aggregation runs")
def exclude_worker(caller, project_id, worker_id):
    return quality.exclude(caller, project_id, worker_id, True)


@api.route("/projects/{project_id}/workers/{worker_id}/exclude", "DELETE", roles=REQUESTER, response=WorkerOut,
           summary="Count the worker's answers in aggregation again")
def include_worker(caller, project_id, worker_id):
    return quality.exclude(caller, project_id, worker_id, False)


# --- Workers ------------------------------------------------------------------------------
@api.route("/work/next", "POST", roles=WORKER, body=NextTaskRequest, response=LeaseOut,
           summary="Lease the next task for you (404 no_task_available when there is none)")
def next_task(caller, body):
    return work.next_lease(caller, body.project_id)


@api.route("/projects/{project_id}/tasks/{task_id}/lease", "POST", roles=WORKER, response=LeaseOut,
           summary="Lease a specific task")
def lease_task(caller, project_id, task_id):
    return work.lease_task(caller, project_id, task_id)


@api.route("/leases/{lease_id}/answer", "POST", roles=WORKER, body=AnswerIn, response=AnswerReceipt,
           summary="Answer a leased task; a retry returns the first receipt")
def submit_answer(caller, lease_id, body):
    return work.submit(caller, lease_id, body)


@api.route("/leases/{lease_id}/release", "POST", roles=WORKER, response=Released,
           summary="Give a leased task back (skip it)")
def release_lease(caller, lease_id):
    return work.release(caller, lease_id)


# --- Workers: lifecycle (extension, a batch of answers, history) ---------------------------
@api.route("/leases/{lease_id}/extend", "POST", roles=WORKER, body=ExtendIn, response=LeaseExtended,
           summary="Extend your live lease, once, within the project's limit")
def extend_lease(caller, lease_id, body):
    return lifecycle.extend(caller, lease_id, body)


@api.route("/answers", "POST", roles=WORKER, body=AnswerBatch, response=AnswerBatchResult,
           summary="Send several answers at once; each has its own result and is idempotent")
def submit_answers(caller, body):
    return lifecycle.submit_batch(caller, body)


@api.route("/me/assignments", "GET", roles=WORKER, query=PageQuery, response=AssignmentPage,
           summary="Your assignments with their state, newest first")
def my_assignments(caller, query):
    return lifecycle.history(caller, query.limit, query.cursor)


@api.route("/me", "GET", roles=WORKER, response=WorkerProfile, summary="Your answers, earnings and reliability")
def my_profile(caller):
    return workers.profile(caller)


@api.route("/me", "DELETE", roles=WORKER, response=ErasureOut,
           summary="Forget me: your id, profile and keys are erased; your answers stay, under a pseudonym")
def forget_me(caller):
    return erasure.erase(caller.owner_id, signed_in=caller.signed_in)


# --- Workers: profile and the projects open to them (issue 14; services/profiles.py) ---------
@api.route("/me/profile", "GET", roles=WORKER, response=ProfileOut,
           summary="Your profile: display name, languages, country, acceptance of the terms")
def read_my_profile(caller):
    return profiles.read(caller)


@api.route("/me/profile", "PUT", roles=WORKER, body=ProfileIn, response=ProfileOut,
           summary="Change the profile fields given; accepted_terms: true opens the work routes to you")
def put_my_profile(caller, body):
    return profiles.put(caller, body)


@api.route("/work/projects", "GET", roles=WORKER, query=OpenProjectsQuery, response=OpenProjectPage,
           summary="The projects open to you (live, serving work, your gates and audience pass), paged")
def open_projects_page(caller, query):
    return open_projects.page(caller, query.limit, query.cursor)


# --- Money: review, bonuses, the worker's ledger ------------------------------------------
@api.route("/projects/{project_id}/assignments", "GET", roles=REQUESTER, query=AssignmentQuery,
           response=ReviewAssignmentPage, summary="Answered assignments to review (filter by state), paged")
def list_assignments(caller, project_id, query):
    return review.list_page(caller, project_id, query.state, query.limit, query.cursor)


@api.route("/assignments/approve", "POST", roles=REQUESTER, body=ApproveIn, response=ReviewResults,
           summary="Approve and pay up to 100 assignments (or reverse rejections); one result each")
def approve_assignments(caller, body):
    return review.approve(caller, body)


@api.route("/assignments/reject", "POST", roles=REQUESTER, body=RejectIn, response=ReviewResults,
           summary="Reject up to 100 assignments with a reason shown to the worker; one result each")
def reject_assignments(caller, body):
    return review.reject(caller, body)


@api.route("/projects/{project_id}/bonuses", "POST", roles=REQUESTER, body=BonusIn, response=BonusOut,
           status=201, summary="Pay a worker a bonus from the budget; once per client_token")
def send_bonus(caller, project_id, body):
    return ledger.send_bonus(projects.get_owned(caller, project_id, consistent=True), body, caller)


@api.route("/projects/{project_id}/payments", "GET", roles=REQUESTER, query=PageQuery, response=PaymentPage,
           summary="What the project paid: approved rewards and bonuses, paged")
def project_payments(caller, project_id, query):
    return ledger.project_payments(projects.get_owned(caller, project_id), query.limit, query.cursor)


@api.route("/me/ledger", "GET", roles=WORKER, query=PageQuery, response=LedgerPage,
           summary="Your balance (pending, earned) and your payments, newest first")
def my_ledger(caller, query):
    return ledger.history(caller, query.limit, query.cursor)


# --- Keys and the audit log (chalicelib/services/keys.py, audit.py) ----------------------------
KEY_MANAGERS = ("requester",)  # and admins: a requester manages its own account's keys


@api.route("/keys", "POST", roles=KEY_MANAGERS, body=KeyCreate, response=KeyCreated, status=201,
           summary="Create a key (the secret is shown once); a requester: integrator keys for its projects")
def create_key(caller, body):
    return keys.create(caller, body)


@api.route("/keys", "GET", roles=KEY_MANAGERS, query=KeyQuery, response=KeyPage,
           summary="The keys you manage, newest first (never a secret); admins: any account's")
def list_keys(caller, query):
    return keys.list_page(caller, query.account_id, query.limit, query.cursor)


@api.route("/keys/{key_id}", "GET", roles=KEY_MANAGERS, response=KeyOut, summary="Read a key (never its secret)")
def read_key(caller, key_id):
    return keys.read(caller, key_id)


@api.route("/keys/{key_id}", "PATCH", roles=KEY_MANAGERS, body=KeyUpdate, response=KeyOut,
           summary="Change a key's expiry (and, admins, its limits)")
def update_key(caller, key_id, body):
    return keys.update(caller, key_id, body)


@api.route("/keys/{key_id}", "DELETE", roles=KEY_MANAGERS, response=KeyOut,
           summary="Revoke a key: every secret of it is refused from the next request on")
def revoke_key(caller, key_id):
    return keys.revoke(caller, key_id)


@api.route("/keys/{key_id}/rotate", "POST", roles=KEY_MANAGERS, body=KeyRotate, response=KeyCreated,
           summary="A new secret for the key; the current one works for grace_seconds more")
def rotate_key(caller, key_id, body):
    return keys.rotate(caller, key_id, body)


@api.route("/projects/{project_id}/audit", "GET", roles=REQUESTER, query=PageQuery, response=AuditPage,
           summary="The project's audit log, newest first: money and access actions")
def project_audit(caller, project_id, query):
    return audit.project_page(caller, projects.get_owned(caller, project_id), query.limit, query.cursor)


@api.route("/audit", "GET", roles=REQUESTER, query=AccountAuditQuery, response=AuditPage,
           summary="Your account's audit log (its keys), newest first; admins: any account's")
def account_audit(caller, query):
    return audit.account_page(caller, query.account_id, query.limit, query.cursor)


@api.route("/workers/{worker_id}", "DELETE", roles=ADMIN, response=ErasureOut,
           summary="Forget a worker (its own request, made for it): as DELETE /me")
def forget_worker(caller, worker_id):
    return erasure.erase(worker_id)


# --- Description ----------------------------------------------------------------------------
@api.route("/openapi.json", "GET", roles=None, summary="This description")
def openapi_description():
    return openapi_document()


@functools.cache
def openapi_document() -> dict:
    return openapi.build(api.routes, title="Foule", version="0.1.0")


# --- The scheduled function: aggregation, then the other passes (see services/housekeeping) --
@app.schedule(Rate(5, unit=Rate.MINUTES), name="aggregator")
def aggregate_changed_projects(event):
    from chalicelib.services import housekeeping  # its passes import numpy lazily
    return housekeeping.run(time_budget_seconds=settings.aggregator_time_budget_seconds,
                            request_id=getattr(event.context, "aws_request_id", None))
