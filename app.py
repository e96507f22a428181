"""Foule's HTTP API and its scheduled aggregator.

Each view authenticates (through the route decorator), gets a validated body, and calls one
service function. A Lambda's cold start serves one route, so importing this module registers
the routes and imports nothing a request may not need: a route names its schemas
("projects.ProjectCreate" is chalicelib/schemas/projects.py's ProjectCreate), imported on its
first call, and `services.projects` imports chalicelib/services/projects.py on first use. The
aggregator's numpy code is imported only inside the scheduled handler.
"""
from chalice import Chalice, Rate

from chalicelib import services
from chalicelib.api import Api
from chalicelib.settings import settings

app = Chalice(app_name="foule")
api = Api(app)
REQUESTER, WORKER, ADMIN = ("requester",), ("worker",), ("admin",)
RESULTS_READERS = ("requester", "integrator")  # integrator keys: only these routes, only their projects


# --- Requesters: projects ---------------------------------------------------------------
@api.route("/projects", "POST", roles=REQUESTER, body="projects.ProjectCreate", response="projects.ProjectOut",
           status=201, summary="Create a project")
def create_project(caller, body):
    return services.projects.create(caller, body)


@api.route("/projects", "GET", roles=REQUESTER, query="common.PageQuery", response="projects.ProjectPage",
           summary="List your projects, newest first")
def list_projects(caller, query):
    return services.projects.list_page(caller, query.limit, query.cursor)


@api.route("/projects/{project_id}", "GET", roles=REQUESTER, response="projects.ProjectOut", summary="Read a project")
def read_project(caller, project_id):
    return services.projects.read(caller, project_id)


@api.route("/projects/{project_id}", "PATCH", roles=REQUESTER, body="projects.ProjectUpdate",
           response="projects.ProjectOut",
           summary="Pause, resume or close a project; change its priority, overlap, expiry, gold rate")
def update_project(caller, project_id, body):
    return services.projects.update(caller, project_id, body)


@api.route("/projects/{project_id}/progress", "GET", roles=REQUESTER, response="projects.Progress",
           summary="Tasks open and complete, answers, leases outstanding")
def project_progress(caller, project_id):
    return services.projects.progress(caller, project_id)


# --- Requesters: tasks and results ------------------------------------------------------
@api.route("/projects/{project_id}/tasks", "POST", roles=REQUESTER, body="tasks.TaskBatch",
           response="tasks.TaskBatchResult", summary="Add up to 1,000 tasks; re-sending a batch duplicates nothing")
def add_tasks(caller, project_id, body):
    return services.tasks.add_batch(caller, project_id, body)


@api.route("/projects/{project_id}/media", "POST", roles=REQUESTER, body="views.MediaUpload",
           response="views.MediaUploadOut", status=201,
           summary="Upload an image, audio or video file for tasks: PUT it to the presigned upload_url")
def upload_media(caller, project_id, body):
    return services.media.create_upload(services.projects.get_owned(caller, project_id), body)


@api.route("/projects/{project_id}/tasks", "GET", roles=REQUESTER, query="common.PageQuery", response="tasks.TaskPage",
           summary="Page through tasks in task-id order")
def list_tasks(caller, project_id, query):
    return services.tasks.list_page(caller, project_id, query.limit, query.cursor)


@api.route("/projects/{project_id}/tasks/{task_id}", "GET", roles=REQUESTER, response="tasks.TaskDetail",
           summary="Read a task with its answers and result")
def read_task(caller, project_id, task_id):
    return services.tasks.detail(caller, project_id, task_id)


@api.route("/projects/{project_id}/tasks/cancel", "POST", roles=REQUESTER, body="tasks.CancelRequest",
           response="tasks.CancelResult", summary="Cancel tasks: they serve no more work (live leases stay answerable)")
def cancel_tasks(caller, project_id, body):
    return services.lifecycle.cancel(caller, project_id, body)


@api.route("/projects/{project_id}/results", "GET", roles=RESULTS_READERS, response="results.Results",
           summary="The latest published results, with presigned URLs (requester or integrator key)")
def latest_results(caller, project_id):
    services.projects.check_results_reader(caller, project_id)
    return services.publishing.latest_results(project_id)


@api.route("/projects/{project_id}/results/{run_id}", "GET", roles=RESULTS_READERS, response="results.Results",
           summary="An earlier published run, with presigned URLs (requester or integrator key)")
def run_results(caller, project_id, run_id):
    services.projects.check_results_reader(caller, project_id)
    return services.publishing.run_results(project_id, run_id)


@api.route("/projects/{project_id}/aggregate", "POST", roles=REQUESTER, response="projects.AggregationQueued",
           status=202, summary="Ask for an aggregation run on the next scheduler pass")
def request_aggregation(caller, project_id):
    return services.projects.request_aggregation(caller, project_id)


# --- Requesters: webhooks (chalicelib/services/webhooks.py) ----------------------------------
@api.route("/projects/{project_id}/webhook", "PUT", roles=REQUESTER, body="webhooks.WebhookIn",
           response="webhooks.WebhookCreated",
           summary="Register the https URL told of each publication; the signing secret is shown once")
def register_webhook(caller, project_id, body):
    return services.webhooks.register(caller, project_id, body)


@api.route("/projects/{project_id}/webhook", "GET", roles=REQUESTER, response="webhooks.WebhookOut",
           summary="The registered webhook (without its secret)")
def read_webhook(caller, project_id):
    return services.webhooks.read(caller, project_id)


@api.route("/projects/{project_id}/webhook", "DELETE", roles=REQUESTER, response="webhooks.WebhookRemoved",
           summary="Remove the webhook")
def remove_webhook(caller, project_id):
    return services.webhooks.remove(caller, project_id)


@api.route("/projects/{project_id}/webhook/deliveries", "GET", roles=REQUESTER, query="common.PageQuery",
           response="webhooks.DeliveryPage", summary="The webhook's deliveries, newest first")
def list_webhook_deliveries(caller, project_id, query):
    return services.webhooks.list_page(caller, project_id, query.limit, query.cursor)


@api.route("/projects/{project_id}/webhook/deliveries/{delivery_id}/replay", "POST", roles=REQUESTER,
           response="webhooks.DeliveryOut", status=202,
           summary="Send a delivery again now (the same event); a double click sends it once")
def replay_webhook_delivery(caller, project_id, delivery_id):
    return services.webhooks.replay(caller, project_id, delivery_id)


# --- Requesters: their workers' quality -----------------------------------------------
@api.route("/projects/{project_id}/workers", "GET", roles=REQUESTER, query="common.PageQuery",
           response="quality.WorkerPage",
           summary="The project's workers (your pseudonyms for them) with answers, gold accuracy, "
                   "agreement, reliability, blocks")
def list_workers(caller, project_id, query):
    return services.quality.list_page(caller, project_id, query.limit, query.cursor)


@api.route("/projects/{project_id}/workers/{worker_id}", "GET", roles=REQUESTER, response="quality.WorkerDetail",
           summary="One worker of the project (by your pseudonym), with its reliability across your projects")
def read_worker(caller, project_id, worker_id):
    return services.quality.read(caller, project_id, worker_id)


@api.route("/projects/{project_id}/workers/{worker_id}/block", "PUT", roles=REQUESTER, body="quality.BlockIn",
           response="quality.WorkerOut", summary="Block a worker from this project, for a duration or for good")
def block_worker(caller, project_id, worker_id, body):
    return services.quality.block(caller, project_id, worker_id, body)


@api.route("/projects/{project_id}/workers/{worker_id}/block", "DELETE", roles=REQUESTER, response="quality.WorkerOut",
           summary="Unblock a worker")
def unblock_worker(caller, project_id, worker_id):
    return services.quality.unblock(caller, project_id, worker_id)


@api.route("/projects/{project_id}/workers/{worker_id}/exclude", "PUT", roles=REQUESTER, response="quality.WorkerOut",
           summary="Leave the worker's answers out of the next aggregation runs")
def exclude_worker(caller, project_id, worker_id):
    return services.quality.exclude(caller, project_id, worker_id, True)


@api.route("/projects/{project_id}/workers/{worker_id}/exclude", "DELETE", roles=REQUESTER,
           response="quality.WorkerOut", summary="Count the worker's answers in aggregation again")
def include_worker(caller, project_id, worker_id):
    return services.quality.exclude(caller, project_id, worker_id, False)


# --- Workers ------------------------------------------------------------------------------
@api.route("/work/next", "POST", roles=WORKER, body="work.NextTaskRequest", response="work.LeaseOut",
           summary="Lease the next task for you (404 no_task_available when there is none)")
def next_task(caller, body):
    return services.work.next_lease(caller, body.project_id)


@api.route("/projects/{project_id}/tasks/{task_id}/lease", "POST", roles=WORKER, response="work.LeaseOut",
           summary="Lease a specific task")
def lease_task(caller, project_id, task_id):
    return services.work.lease_task(caller, project_id, task_id)


@api.route("/leases/{lease_id}/answer", "POST", roles=WORKER, body="work.AnswerIn", response="work.AnswerReceipt",
           summary="Answer a leased task; a retry returns the first receipt")
def submit_answer(caller, lease_id, body):
    return services.work.submit(caller, lease_id, body)


@api.route("/leases/{lease_id}/release", "POST", roles=WORKER, response="work.Released",
           summary="Give a leased task back (skip it)")
def release_lease(caller, lease_id):
    return services.work.release(caller, lease_id)


# --- Workers: lifecycle (extension, a batch of answers, history) ---------------------------
@api.route("/leases/{lease_id}/extend", "POST", roles=WORKER, body="work.ExtendIn", response="work.LeaseExtended",
           summary="Extend your live lease, once, within the project's limit")
def extend_lease(caller, lease_id, body):
    return services.lifecycle.extend(caller, lease_id, body)


@api.route("/answers", "POST", roles=WORKER, body="work.AnswerBatch", response="work.AnswerBatchResult",
           summary="Send several answers at once; each has its own result and is idempotent")
def submit_answers(caller, body):
    return services.lifecycle.submit_batch(caller, body)


@api.route("/me/assignments", "GET", roles=WORKER, query="common.PageQuery", response="work.AssignmentPage",
           summary="Your assignments with their state, newest first")
def my_assignments(caller, query):
    return services.lifecycle.history(caller, query.limit, query.cursor)


@api.route("/me", "GET", roles=WORKER, response="work.WorkerProfile", summary="Your answers, earnings and reliability")
def my_profile(caller):
    return services.workers.profile(caller)


@api.route("/me", "DELETE", roles=WORKER, response="erasure.ErasureOut",
           summary="Forget me: your id, profile and keys are erased; your answers stay, under a pseudonym")
def forget_me(caller):
    return services.erasure.erase(caller.owner_id, signed_in=caller.signed_in)


# --- Workers: profile and the projects open to them (issue 14; services/profiles.py) ---------
@api.route("/me/profile", "GET", roles=WORKER, response="profile.ProfileOut",
           summary="Your profile: display name, languages, country, acceptance of the terms")
def read_my_profile(caller):
    return services.profiles.read(caller)


@api.route("/me/profile", "PUT", roles=WORKER, body="profile.ProfileIn", response="profile.ProfileOut",
           summary="Change the profile fields given; accepted_terms: true opens the work routes to you")
def put_my_profile(caller, body):
    return services.profiles.put(caller, body)


@api.route("/work/projects", "GET", roles=WORKER, query="profile.OpenProjectsQuery", response="profile.OpenProjectPage",
           summary="The projects open to you (live, serving work, your gates and audience pass), paged")
def open_projects_page(caller, query):
    return services.open_projects.page(caller, query.limit, query.cursor)


# --- Money: review, bonuses, the worker's ledger ------------------------------------------
@api.route("/projects/{project_id}/assignments", "GET", roles=REQUESTER, query="review.AssignmentQuery",
           response="review.ReviewAssignmentPage", summary="Answered assignments to review (filter by state), paged")
def list_assignments(caller, project_id, query):
    return services.review.list_page(caller, project_id, query.state, query.limit, query.cursor)


@api.route("/assignments/approve", "POST", roles=REQUESTER, body="review.ApproveIn", response="review.ReviewResults",
           summary="Approve and pay up to 100 assignments (or reverse rejections); one result each")
def approve_assignments(caller, body):
    return services.review.approve(caller, body)


@api.route("/assignments/reject", "POST", roles=REQUESTER, body="review.RejectIn", response="review.ReviewResults",
           summary="Reject up to 100 assignments with a reason shown to the worker; one result each")
def reject_assignments(caller, body):
    return services.review.reject(caller, body)


@api.route("/projects/{project_id}/bonuses", "POST", roles=REQUESTER, body="ledger.BonusIn", response="ledger.BonusOut",
           status=201, summary="Pay a worker a bonus from the budget; once per client_token")
def send_bonus(caller, project_id, body):
    project = services.projects.get_owned(caller, project_id, consistent=True)
    return services.ledger.send_bonus(project, body, caller)


@api.route("/projects/{project_id}/payments", "GET", roles=REQUESTER, query="common.PageQuery",
           response="ledger.PaymentPage", summary="What the project paid: approved rewards and bonuses, paged")
def project_payments(caller, project_id, query):
    project = services.projects.get_owned(caller, project_id)
    return services.ledger.project_payments(project, query.limit, query.cursor)


@api.route("/me/ledger", "GET", roles=WORKER, query="common.PageQuery", response="ledger.LedgerPage",
           summary="Your balance (pending, earned) and your payments, newest first")
def my_ledger(caller, query):
    return services.ledger.history(caller, query.limit, query.cursor)


# --- Keys and the audit log (chalicelib/services/keys.py, audit.py) ----------------------------
KEY_MANAGERS = ("requester",)  # and admins: a requester manages its own account's keys


@api.route("/keys", "POST", roles=KEY_MANAGERS, body="keys.KeyCreate", response="keys.KeyCreated", status=201,
           summary="Create a key (the secret is shown once); a requester: integrator keys for its projects")
def create_key(caller, body):
    return services.keys.create(caller, body)


@api.route("/keys", "GET", roles=KEY_MANAGERS, query="keys.KeyQuery", response="keys.KeyPage",
           summary="The keys you manage, newest first (never a secret); admins: any account's")
def list_keys(caller, query):
    return services.keys.list_page(caller, query.account_id, query.limit, query.cursor)


@api.route("/keys/{key_id}", "GET", roles=KEY_MANAGERS, response="keys.KeyOut", summary="Read a key (never its secret)")
def read_key(caller, key_id):
    return services.keys.read(caller, key_id)


@api.route("/keys/{key_id}", "PATCH", roles=KEY_MANAGERS, body="keys.KeyUpdate", response="keys.KeyOut",
           summary="Change a key's expiry (and, admins, its limits)")
def update_key(caller, key_id, body):
    return services.keys.update(caller, key_id, body)


@api.route("/keys/{key_id}", "DELETE", roles=KEY_MANAGERS, response="keys.KeyOut",
           summary="Revoke a key: every secret of it is refused from the next request on")
def revoke_key(caller, key_id):
    return services.keys.revoke(caller, key_id)


@api.route("/keys/{key_id}/rotate", "POST", roles=KEY_MANAGERS, body="keys.KeyRotate", response="keys.KeyCreated",
           summary="A new secret for the key; the current one works for grace_seconds more")
def rotate_key(caller, key_id, body):
    return services.keys.rotate(caller, key_id, body)


@api.route("/projects/{project_id}/audit", "GET", roles=REQUESTER, query="common.PageQuery", response="audit.AuditPage",
           summary="The project's audit log, newest first: money and access actions")
def project_audit(caller, project_id, query):
    project = services.projects.get_owned(caller, project_id)
    return services.audit.project_page(caller, project, query.limit, query.cursor)


@api.route("/audit", "GET", roles=REQUESTER, query="audit.AccountAuditQuery", response="audit.AuditPage",
           summary="Your account's audit log (its keys), newest first; admins: any account's")
def account_audit(caller, query):
    return services.audit.account_page(caller, query.account_id, query.limit, query.cursor)


@api.route("/workers/{worker_id}", "DELETE", roles=ADMIN, response="erasure.ErasureOut",
           summary="Forget a worker (its own request, made for it): as DELETE /me")
def forget_worker(caller, worker_id):
    return services.erasure.erase(worker_id)


# --- Description ----------------------------------------------------------------------------
@api.route("/openapi.json", "GET", roles=None, summary="This description")
def openapi_description():
    return api.openapi(title="Foule", version="0.1.0")


# --- The scheduled function: aggregation, then the other passes (see services/housekeeping) --
@app.schedule(Rate(5, unit=Rate.MINUTES), name="aggregator")
def aggregate_changed_projects(event):
    from chalicelib.services import housekeeping  # its passes import numpy lazily
    return housekeeping.run(time_budget_seconds=settings.aggregator_time_budget_seconds,
                            request_id=getattr(event.context, "aws_request_id", None))
