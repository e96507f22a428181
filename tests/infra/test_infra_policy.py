"""Each function's IAM policy (infra/aws.yaml) equals what its code does.

A representative flow runs against moto (keys, project, tasks, lease, answer, release,
progress, results, aggregation, profile) while every botocore call — pynamodb's included, and
presigned URLs — is recorded with the function it belongs to: the API routes (APIHandler), the
API key authorizer (ApiKey: a separate Lambda in AWS, run in-process by chalice.test), or the
scheduled aggregator. Then, per function:
- every (action, resource) the code needed is allowed by the policy, and
- every (action, resource pattern) the policy grants was needed by the code,
except the documented allow-list: CloudWatch Logs (the Lambda runtime writes logs, not our
code) and s3:ListBucket on the results prefix (without it S3 answers 403 instead of
NoSuchKey when latest.json does not exist yet, which the API turns into "no results yet").
"""
import contextvars
import fnmatch
import os
import time

import pytest
from botocore.client import BaseClient

from tools import local_stack, package

ACCOUNT, REGION = "123456789012", "us-east-1"
FUNCTION = contextvars.ContextVar("function", default="api_handler")
ROLE_OF = {"api_handler": "ApiHandlerRole", "api_key": "ApiKeyRole", "aggregator": "AggregatorRole"}
ALLOW_LISTED_SERVICES = {"logs"}
ITEM_ACTIONS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                "ConditionCheck": "ConditionCheckItem", "Get": "GetItem"}


def table_arn(name, index=None):
    arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"
    return f"{arn}/index/{index}" if index else arn


def required(service: str, operation: str, params: dict, is_presign: bool) -> set[tuple[str, str]]:
    """The IAM (action, resource ARN) pairs one botocore call needs."""
    if service == "dynamodb":
        if operation in ("TransactWriteItems", "TransactGetItems"):
            needs = set()
            for item in params["TransactItems"]:
                (kind, body), = item.items()
                needs.add((f"dynamodb:{ITEM_ACTIONS[kind]}", table_arn(body["TableName"])))
            return needs
        if operation in ("BatchGetItem", "BatchWriteItem"):
            return {(f"dynamodb:{operation}", table_arn(t)) for t in params["RequestItems"]}
        return {(f"dynamodb:{operation}", table_arn(params["TableName"], params.get("IndexName")))}
    if service == "s3":
        bucket, key = params["Bucket"], params.get("Key")
        action = {"HeadObject": "GetObject", "ListObjectsV2": "ListBucket"}.get(operation, operation)
        needs = {(f"s3:{action}", f"arn:aws:s3:::{bucket}/{key}" if key else f"arn:aws:s3:::{bucket}")}
        if operation == "PutObject" and params.get("Tagging"):
            needs.add(("s3:PutObjectTagging", f"arn:aws:s3:::{bucket}/{key}"))
        return needs
    if service == "cognito-idp":
        return {(f"cognito-idp:{operation}", f"arn:aws:cognito-idp:{REGION}:{ACCOUNT}:userpool/{params['UserPoolId']}")}
    if service == "secretsmanager" and operation == "GetSecretValue":
        return {("secretsmanager:GetSecretValue", params["SecretId"])}
    if service == "events" and operation == "PutEvents":
        return {("events:PutEvents", f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{e.get('EventBusName', 'default')}")
                for e in params["Entries"]}
    return {(f"{service}:{operation}", "*")}


def apigateway_required(operation_model, params: dict) -> tuple[str, str]:
    """API Gateway's IAM: the HTTP method on the path of the resource (its ARN)."""
    path = operation_model.http["requestUri"].split("?")[0]
    for member, shape in operation_model.input_shape.members.items():
        if shape.serialization.get("location") == "uri" and member in params:
            path = path.replace("{" + shape.serialization.get("name", member) + "}", params[member])
    return f"apigateway:{operation_model.http['method']}", f"arn:aws:apigateway:{REGION}::{path}"


class Recorder:
    def __init__(self):
        self.calls: dict[str, set] = {f: set() for f in ROLE_OF}
        self.operations: dict[str, set] = {f: set() for f in ROLE_OF}

    def install(self, monkeypatch):
        original = BaseClient._emit_api_params
        recorder = self

        def spy(client, api_params, operation_model, context):
            service = client.meta.service_model.service_name
            function = FUNCTION.get()
            recorder.operations[function].add(f"{service}:{operation_model.name}")
            if service == "apigateway":
                recorder.calls[function].add(apigateway_required(operation_model, dict(api_params)))
            else:
                recorder.calls[function] |= required(service, operation_model.name, dict(api_params),
                                                     bool(context.get("is_presign_request")))
            return original(client, api_params, operation_model, context)

        monkeypatch.setattr(BaseClient, "_emit_api_params", spy)

        from chalicelib import auth
        lookup = auth.lookup

        def authorizer_lookup(*args, **kwargs):
            token = FUNCTION.set("api_key")
            try:
                return lookup(*args, **kwargs)
            finally:
                FUNCTION.reset(token)

        monkeypatch.setattr(auth, "lookup", authorizer_lookup)


def resolved_policy(aws_template: dict, stateful_template: dict, role: str) -> list[dict]:
    """The role's statements with !GetAtt/!Sub of tables and the bucket resolved to the names
    of the stack deployed into moto."""
    names = {}
    for output_name, output in stateful_template["Outputs"].items():
        names[output["Value"]["Ref"]] = os.environ[local_stack.output_env_var(output_name)]

    def arn(logical_id):
        kind = stateful_template["Resources"][logical_id]["Type"]
        if kind == "AWS::Cognito::UserPool":
            return f"arn:aws:cognito-idp:{REGION}:{ACCOUNT}:userpool/{names[logical_id]}"
        return table_arn(names[logical_id]) if kind == "AWS::DynamoDB::Table" else f"arn:aws:s3:::{names[logical_id]}"

    def resolve(value):
        if isinstance(value, dict) and value.get("Ref") == "DeploymentSecret":
            return f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{secret_name(aws_template)}-*"
        if isinstance(value, dict) and "Fn::GetAtt" in value:
            return arn(value["Fn::GetAtt"][0])
        if isinstance(value, dict) and "Fn::Sub" in value:
            text = value["Fn::Sub"]
            for logical_id in names:
                text = text.replace(f"${{{logical_id}.Arn}}", arn(logical_id))
            return text.replace("${AWS::Partition}", "aws").replace("${AWS::Region}", REGION) \
                .replace("${AWS::AccountId}", ACCOUNT).replace("${AWS::StackName}", "foule-local")
        return value

    statements = []
    for statement in package.role_policy(aws_template, role)["Statement"]:
        assert statement["Effect"] == "Allow"
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        statements.append({"Sid": statement.get("Sid"), "actions": actions,
                           "resources": [resolve(r) for r in resources],
                           "condition": statement.get("Condition")})
    return statements


def secret_name(aws_template: dict) -> str:
    """The deployment secret's name in the local stage, as infra/aws.yaml names it."""
    return aws_template["Resources"]["DeploymentSecret"]["Properties"]["Name"]["Fn::Sub"] \
        .replace("${Stage}", "local")


def deployment_secret_in_moto(monkeypatch, aws_template) -> str:
    """The deployment's secret in moto's Secrets Manager, as infra/aws.yaml makes it in AWS, and
    the functions reading it from there (FOULE_SECRET_ARN) for the flow instead of the local
    FOULE_SECRET_KEY. It is read once per process: the key caches are emptied around the flow."""
    import dataclasses
    import secrets

    import boto3

    from chalicelib import sealing
    from chalicelib import settings as settings_module

    client = boto3.client("secretsmanager", region_name=REGION)
    try:
        arn = client.create_secret(Name=secret_name(aws_template), SecretString=secrets.token_hex(32))["ARN"]
    except client.exceptions.ResourceExistsException:
        arn = client.describe_secret(SecretId=secret_name(aws_template))["ARN"]
    stored = dataclasses.replace(settings_module.settings, secret_arn=arn, secret_key_text="")
    monkeypatch.setattr(sealing, "settings", stored)
    forget_keys()
    return arn


def forget_keys():
    from chalicelib import sealing
    from chalicelib import settings as settings_module

    sealing._keys.cache_clear()
    settings_module._stored_secret.cache_clear()


# Granted ahead of the code that needs it, and checked as soon as it does: the aggregator
# publishes worker pseudonyms sealed with the deployment's secret (issue 12, privacy).
GRANTED_AHEAD = {("aggregator", "DeploymentSecret")}


def allows(statement, action, resource) -> bool:
    return any(fnmatch.fnmatchcase(action, a) for a in statement["actions"]) and \
        any(fnmatch.fnmatchcase(resource, r) for r in statement["resources"])


@pytest.fixture(scope="module")
def recorded(api, chalice_app, aws_template):
    """Run the flow once, recording every AWS call by function."""
    from chalicelib import auth

    monkeypatch = pytest.MonkeyPatch()
    recorder = Recorder()
    admin, _ = auth.create_key("admin")
    id_token = signed_up_worker()
    deployment_secret_in_moto(monkeypatch, aws_template)
    recorder.install(monkeypatch)
    receiver = webhook_receiver(monkeypatch)
    try:
        run_flow(api, admin, receiver)
        signed_in_flow(api, id_token)
    finally:
        monkeypatch.undo()
        forget_keys()
        receiver.shutdown()
        receiver.server_close()
    return recorder


def signed_up_worker() -> str:
    """The ID token of a new user of the workers' pool (made before the recording starts: the
    app's sign-up is the browser's call to Cognito, no function's)."""
    import secrets

    import boto3

    client, app_client = boto3.client("cognito-idp"), os.environ["FOULE_USER_POOL_CLIENT_ID"]
    email, password = f"policy-{secrets.token_hex(4)}@example.org", "Policy-test-9"
    client.sign_up(ClientId=app_client, Username=email, Password=password)
    client.confirm_sign_up(ClientId=app_client, Username=email, ConfirmationCode="000000")
    return client.initiate_auth(ClientId=app_client, AuthFlow="USER_PASSWORD_AUTH",
                                AuthParameters={"USERNAME": email, "PASSWORD": password})["AuthenticationResult"]["IdToken"]


def signed_in_flow(api, id_token):
    """A worker signed in with the user pool: the authorizer checks its user, erasure deletes it."""
    assert api.request("PUT", "/me/profile", id_token, {"languages": ["fr"], "accepted_terms": True})[0] == 200
    assert api.get("/work/projects", id_token)[0] == 200
    status, erased = api.request("DELETE", "/me", id_token)
    assert status == 200 and erased["account_deleted"], erased


def webhook_receiver(monkeypatch):
    """A local HTTP server that answers every webhook POST with a 500 (so a delivery stays due
    for the retry pass), and webhooks allowed to reach it (the local setting)."""
    import dataclasses
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from chalicelib.services import webhook_http, webhooks

    class Failing(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(500)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    local = dataclasses.replace(webhooks.settings, webhooks_allow_local=True, webhook_timeout_seconds=2)
    monkeypatch.setattr(webhooks, "settings", local)
    monkeypatch.setattr(webhook_http, "settings", local)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Failing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def run_flow(api, admin, receiver):
    from chalicelib.services import aggregator, webhooks

    status, requester = api.post("/keys", admin, {"role": "requester", "name": "policy test"})
    assert status == 201, requester
    status, worker = api.post("/keys", admin, {"role": "worker", "name": "policy test"})
    assert status == 201, worker
    other_worker = api.post("/keys", admin, {"role": "worker"})[1]["key"]
    req, wrk = requester["key"], worker["key"]

    status, project = api.post("/projects", req, {
        "title": "Cat or dog?", "answer_type": {"kind": "single_choice", "labels": ["cat", "dog"]},
        "overlap": 1, "reward_cents": 3, "auto_approve_seconds": 0, "budget_cents": 1000, "gold_rate": 1, "rules": [  # gold first, t1 served too
            {"measure": "gold_accuracy", "comparison": "<", "value": 0.5, "min_answers": 1, "action": "block"}]})
    assert status == 201, project
    pid = project["project_id"]
    assert api.get("/projects", req)[0] == 200
    assert api.get(f"/projects/{pid}", req)[0] == 200
    assert api.patch(f"/projects/{pid}", req, {"priority": 5})[0] == 200
    tasks = [{"task_id": "t1", "payload": {"img": "1"}, "known_answer": "cat"},
             {"task_id": "t2", "payload": {"img": "2"}}, {"task_id": "t3", "payload": {"img": "3"}}]
    assert api.post(f"/projects/{pid}/tasks", req, {"tasks": tasks})[0] == 200
    assert api.post(f"/projects/{pid}/tasks", req, {"tasks": tasks})[0] == 200  # re-sent: unchanged
    status, data = api.get(f"/projects/{pid}/results", req)
    assert status == 404 and data["error"]["code"] == "no_results_yet", data

    status, lease = api.post(f"/projects/{pid}/tasks/t2/lease", wrk)
    assert status == 200, lease
    assert api.post(f"/leases/{lease['lease_id']}/release", wrk)[0] == 200
    answered = 0
    for key in (wrk, wrk, other_worker):
        status, lease = api.post("/work/next", key, {"project_id": pid})
        assert status == 200, lease
        status, receipt = api.post(f"/leases/{lease['lease_id']}/answer", key, {"answer": "cat"})
        assert status == 200, receipt
        assert api.post(f"/leases/{lease['lease_id']}/answer", key, {"answer": "cat"})[0] == 200  # retry
        answered += 1
    assert api.get(f"/projects/{pid}/progress", req)[1]["answers"] == answered
    assert api.get(f"/projects/{pid}/tasks", req)[0] == 200
    media_flow(api, req, other_worker)
    run_money_flow(api, req, wrk, pid)
    assert api.post(f"/projects/{pid}/aggregate", req)[0] == 202
    hook = f"http://127.0.0.1:{receiver.server_port}/hook"
    assert api.request("PUT", f"/projects/{pid}/webhook", req, {"url": hook})[0] == 200
    assert api.get(f"/projects/{pid}/webhook", req)[0] == 200

    token = FUNCTION.set("aggregator")
    try:
        summaries = aggregator.run_due_projects(time_budget_seconds=60)
        webhooks.deliver_due(deadline=time.monotonic() + 60, now=int(time.time() * 1000) + 3_600_000)
    finally:
        FUNCTION.reset(token)
    assert any(s["project_id"] == pid for s in summaries), summaries
    status, log = api.get(f"/projects/{pid}/webhook/deliveries", req)
    assert status == 200 and log["items"], log
    replay = f"/projects/{pid}/webhook/deliveries/{log['items'][0]['delivery_id']}/replay"
    assert api.post(replay, req)[0] == 202
    assert api.request("DELETE", f"/projects/{pid}/webhook", req)[0] == 200

    status, results = api.get(f"/projects/{pid}/results", req)
    assert status == 200, results
    status, integrator = api.post("/keys", admin, {"role": "integrator", "project_ids": [pid]})
    assert status == 201, integrator
    assert api.get(f"/projects/{pid}/results/{results['run_id']}", integrator["key"])[0] == 200
    key_management_flow(api, req, pid)
    key_limits_flow(api, admin)
    assert api.get(f"/projects/{pid}/tasks/t1", req)[1]["result"] is not None
    status, listing = api.get(f"/projects/{pid}/workers", req)
    assert status == 200 and listing["items"], listing
    worker_id = listing["items"][0]["worker_id"]
    assert api.get(f"/projects/{pid}/workers/{worker_id}", req)[0] == 200
    assert api.request("PUT", f"/projects/{pid}/workers/{worker_id}/block", req, {"message": "spam"})[0] == 200
    assert api.request("DELETE", f"/projects/{pid}/workers/{worker_id}/block", req)[0] == 200
    assert api.get("/me", wrk)[0] == 200
    assert api.get("/me/assignments", wrk)[0] == 200
    assert api.post(f"/projects/{pid}/tasks/cancel", req, {"task_ids": ["t9"]})[0] == 200
    work_passes_in_the_scheduled_function(api, req, api.post("/keys", admin, {"role": "worker"})[1]["key"], pid)
    assert api.post(f"/projects/{pid}/aggregate", req)[0] == 202
    assert api.patch(f"/projects/{pid}", req, {"status": "closed"})[0] == 200
    token = FUNCTION.set("aggregator")
    try:
        aggregator.run_due_projects(time_budget_seconds=60)  # a second run supersedes the first
        aggregator.run_due_projects(time_budget_seconds=60)  # retires the closed project
    finally:
        FUNCTION.reset(token)
    # Erasure: the paid worker (a reward re-keyed, a bonus re-owned), by an admin, then by itself.
    from chalicelib import auth
    from chalicelib.services import pseudonyms
    paid = api.get(f"/projects/{pid}/payments", req)[1]["items"]
    erased = pseudonyms.resolve(auth.lookup(f"Bearer {req}").owner_id, paid[0]["worker_id"])
    assert api.request("DELETE", f"/workers/{erased}", admin)[0] == 200
    assert api.request("DELETE", "/me", wrk)[0] in (200, 401)  # 401: wrk was the worker just erased
    assert api.get("/me", "fk_wrk_not-a-key")[0] == 401  # unknown key: authorizer lookup, no item


def key_management_flow(api, req, pid):
    """A requester's own integrator key: created, listed, read, changed, rotated, revoked; the
    project's audit log read."""
    status, key = api.post("/keys", req, {"role": "integrator", "project_ids": [pid]})
    assert status == 201, key
    assert api.get("/keys", req)[0] == 200
    assert api.get(f"/keys/{key['key_id']}", req)[0] == 200
    assert api.patch(f"/keys/{key['key_id']}", req, {"expires_at": None})[0] == 200
    assert api.post(f"/keys/{key['key_id']}/rotate", req, {"grace_seconds": 60})[0] == 200
    assert api.request("DELETE", f"/keys/{key['key_id']}", req)[0] == 200
    assert api.get(f"/projects/{pid}/audit", req)[0] == 200


def key_limits_flow(api, admin):
    """An admin's limits on a key: its own usage plan made, changed, dropped; the key revoked."""
    key_id = api.post("/keys", admin, {"role": "worker"})[1]["key_id"]
    for limits in ({"rate_limit": 5, "burst_limit": 10}, {"rate_limit": 6, "burst_limit": 12}, None):
        assert api.patch(f"/keys/{key_id}", admin, {"limits": limits})[0] == 200
    assert api.request("DELETE", f"/keys/{key_id}", admin)[0] == 200


def media_flow(api, req, wrk):
    """Task media: an upload URL (presigned PUT), and a lease's read URL (presigned GET)."""
    status, project = api.post("/projects", req, {
        "title": "Photo", "answer_type": {"kind": "single_choice", "labels": ["cat", "dog"]},
        "view": [{"type": "image", "field": "photo"}]})
    assert status == 201, project
    pid = project["project_id"]
    status, upload = api.post(f"/projects/{pid}/media", req, {"content_type": "image/png", "size_bytes": 3})
    assert status == 201, upload
    tasks = [{"task_id": "m1", "payload": {"photo": upload["media_key"]}}]
    assert api.post(f"/projects/{pid}/tasks", req, {"tasks": tasks})[1]["created"] == 1
    status, lease = api.post(f"/projects/{pid}/tasks/m1/lease", wrk)
    assert status == 200 and lease["media"], lease


def run_money_flow(api, req, wrk, pid):
    """Review, bonuses, the ledger, the budget, and the auto-approval pass."""
    from chalicelib.services import review

    submitted = api.get(f"/projects/{pid}/assignments?state=submitted", req)[1]["items"]
    assert len(submitted) == 3, submitted
    mine = [a for a in submitted if a["worker_id"] == submitted[0]["worker_id"]]
    approve = {"assignment_ids": [submitted[0]["assignment_id"]]}
    assert api.post("/assignments/approve", req, approve)[1]["items"][0]["ok"]
    reject = {"assignment_ids": [submitted[1]["assignment_id"]], "reason": "wrong"}
    assert api.post("/assignments/reject", req, reject)[1]["items"][0]["ok"]
    bonus = {"worker_id": mine[0]["worker_id"], "cents": 2, "reason": "thanks", "client_token": "b-1"}
    for _ in range(2):  # the second finds the first
        assert api.post(f"/projects/{pid}/bonuses", req, bonus)[0] == 201
    assert api.get("/me/ledger", wrk)[0] == 200
    assert api.get(f"/projects/{pid}/payments", req)[0] == 200
    assert api.patch(f"/projects/{pid}", req, {"budget_cents": 2000})[0] == 200
    token = FUNCTION.set("aggregator")
    try:
        assert review.auto_approve_due(deadline=float("inf"))["approved"] >= 1
    finally:
        FUNCTION.reset(token)


def work_passes_in_the_scheduled_function(api, req, wrk, pid):
    """The scheduled function's work passes: an overlap change carried to the tasks, a lapsed
    lease expired, and adaptive overlap applied after an aggregation run."""
    import time

    from chalicelib.models import Project
    from chalicelib.services import lifecycle, overlap

    assert api.patch(f"/projects/{pid}", req, {"overlap": 2})[0] == 200
    project = Project.get(pid, consistent_read=True)  # the scheduled function has it from the live index
    token = FUNCTION.set("aggregator")
    try:
        assert overlap.sync_project(project, time.monotonic() + 60)
    finally:
        FUNCTION.reset(token)
    # A real task (gold holds no slot), open again after the overlap change.
    lease = next(body for status, body in (api.post(f"/projects/{pid}/tasks/{t}/lease", wrk) for t in ("t2", "t3"))
                 if status == 200)
    real_now = lifecycle.now_ms
    lifecycle.now_ms = lambda: lease["expires_at"] + 1
    project = Project.get(pid, consistent_read=True)
    token = FUNCTION.set("aggregator")
    try:
        assert lifecycle.sweep_project(project, time.monotonic() + 60) == 1
    finally:
        FUNCTION.reset(token)
        lifecycle.now_ms = real_now
    status, adaptive = api.post("/projects", req, {
        "title": "Adaptive", "answer_type": {"kind": "single_choice", "labels": ["cat", "dog"]},
        "adaptive_overlap": {"min_overlap": 1, "max_overlap": 2, "target_confidence": 0.999}})
    assert status == 201, adaptive
    assert api.post(f"/projects/{adaptive['project_id']}/tasks", req, {"tasks": [{"task_id": "a", "payload": {}}]})[0] == 200
    lease = api.post("/work/next", wrk, {"project_id": adaptive["project_id"]})[1]
    assert api.post("/answers", wrk, {"answers": [{"lease_id": lease["lease_id"], "answer": "cat"}]})[0] == 200
    project = Project.get(adaptive["project_id"], consistent_read=True)
    token = FUNCTION.set("aggregator")
    try:
        from chalicelib.services import aggregator

        aggregator.aggregate_project(project)
    finally:
        FUNCTION.reset(token)
    assert api.get(f"/projects/{adaptive['project_id']}/tasks/a", req)[1]["overlap"] == 2


@pytest.mark.parametrize("function", sorted(ROLE_OF))
def test_policy_allows_what_the_code_does(function, recorded, aws_template, stateful_template):
    statements = resolved_policy(aws_template, stateful_template, ROLE_OF[function])
    denied = sorted((action, resource) for action, resource in recorded.calls[function]
                    if not any(allows(s, action, resource) for s in statements))
    assert not denied, f"{function} needs permissions its policy lacks: {denied}"


@pytest.mark.parametrize("function", sorted(ROLE_OF))
def test_policy_grants_nothing_the_code_does_not_do(function, recorded, aws_template, stateful_template):
    statements = resolved_policy(aws_template, stateful_template, ROLE_OF[function])
    unused = []
    for statement in statements:
        for action in statement["actions"]:
            service = action.split(":")[0]
            if service in ALLOW_LISTED_SERVICES:
                continue
            if action == "s3:ListBucket":
                # allow-listed for NoSuchKey semantics: only where the function reads objects
                # (of the listed bucket: the API also signs reads of the media bucket)
                buckets = [r.split(":::", 1)[1] for r in statement["resources"]]
                keys = [r.split(":::", 1)[1].split("/", 1)[1] for a, r in recorded.calls[function]
                        if a == "s3:GetObject" and r.split(":::", 1)[1].split("/", 1)[0] in buckets]
                prefix = statement["condition"]["StringLike"]["s3:prefix"]
                assert keys and all(fnmatch.fnmatchcase(k, prefix) for k in keys), \
                    f"{function}: s3:ListBucket granted, but it reads no object under {prefix}"
                continue
            for resource in statement["resources"]:
                used = any(a == action and fnmatch.fnmatchcase(r, resource)
                           for a, r in recorded.calls[function])
                if (function, statement["Sid"]) in GRANTED_AHEAD:
                    assert not used, f"{function} now uses {statement['Sid']}: take it out of GRANTED_AHEAD"
                elif not used:
                    unused.append((statement["Sid"], action, resource))
    assert not unused, f"{function}'s policy grants what its code never does: {unused}"


def test_functions_use_only_dynamodb_s3_the_aggregators_events_the_secret_and_the_user_pool(recorded):
    services = {op.split(":")[0] for ops in recorded.operations.values() for op in ops}
    assert services <= {"dynamodb", "s3", "events", "secretsmanager", "apigateway", "cognito-idp"}, services
    # API Gateway: key management's usage plans only, never on a request's way (the authorizer).
    assert {op.split(":")[0] for f in ("api_key", "aggregator") for op in recorded.operations[f]} <= \
        {"dynamodb", "s3", "events", "secretsmanager", "cognito-idp"}
    assert recorded.operations["api_handler"] >= {"secretsmanager:GetSecretValue"}  # the sealing key
    assert not any(op.startswith("events:") for f in ("api_handler", "api_key") for op in recorded.operations[f])
    from chalicelib.settings import settings

    # It signs the upload URLs of task media (s3:PutObject under media/), never a results write.
    assert not any(a.startswith("s3:Put") and r.startswith(f"arn:aws:s3:::{settings.results_bucket}/")
                   for a, r in recorded.calls["api_handler"]), "the API function must never write the results"
    assert all(r.startswith(f"arn:aws:s3:::{settings.media_bucket}/media/")
               for a, r in recorded.calls["api_handler"] if a.startswith("s3:Put"))
    assert recorded.operations["api_key"] == {"dynamodb:GetItem", "cognito-idp:AdminGetUser"}
    assert {op for op in recorded.operations["api_handler"] if op.startswith("cognito-idp:")} == \
        {"cognito-idp:AdminDeleteUser"}
    assert not any(":Scan" in op for ops in recorded.operations.values() for op in ops)
