"""Fault injection at botocore's level, for every client the process has or will create.

- `inject(operation, times, code=..., table=...)`: the next `times` sends of a DynamoDB
  operation (optionally only those naming a table) get DynamoDB's own error in its wire
  format; `inject_s3(method, key_suffix, times)` does the same for S3 (a 500 InternalError).
  They replace `botocore.endpoint.Endpoint._send`, the last step before the network: botocore's
  retries with backoff, pynamodb's error wrapping and Foule's handling all run as they would
  against AWS. Backoff sleeps are recorded instead of slept (`fault.sleeps`).
- `lose_response(operation, table=...)`: the store applies the next such call, then the
  response is lost on the wire (a connection reset): botocore resends it.
- `die_after(operation, table=...)`: the next such call succeeds, then the function dies
  before answering (an exception out of the client call, as a killed Lambda's caller sees:
  no response). The client's retry must get the original result.
"""
import json
import types

import botocore.client
import botocore.endpoint
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ConnectionClosedError


class _Raw:
    def __init__(self, body: bytes):
        self.body = body

    def stream(self, **kwargs):
        yield self.body


def dynamodb_operation(request) -> str:
    target = request.headers.get("X-Amz-Target", b"")
    return (target.decode() if isinstance(target, bytes) else target).rpartition(".")[2]


def body_text(request) -> str:
    body = request.body or b""
    return body.decode(errors="replace") if isinstance(body, bytes) else str(body)


class Fault:
    """One rule: which sends it matches, how many more times it fires, what it did.
    respond(send, endpoint, request) answers in the store's place (send is the real one)."""

    def __init__(self, service: str, matches, times: int, respond, sleeps: list):
        self.service, self.matches, self.times, self.respond = service, matches, times, respond
        self.seen = 0
        self.sleeps = sleeps  # every backoff sleep of the test, in order

    def applies(self, endpoint, request) -> bool:
        if self.times <= 0 or endpoint._endpoint_prefix != self.service or not self.matches(request):
            return False
        self.times -= 1
        self.seen += 1
        return True


def dynamodb_error(code: str):
    status = 500 if code in ("InternalServerError", "ServiceUnavailable") else 400

    def respond(send, endpoint, request):
        body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}",
                           "message": "Injected by tests/faults"}).encode()
        return AWSResponse(request.url, status, {"Content-Type": "application/x-amz-json-1.0",
                                                 "x-amzn-RequestId": "injected"}, _Raw(body))
    return respond


def s3_error(send, endpoint, request):
    body = b"<Error><Code>InternalError</Code><Message>Injected by tests/faults</Message></Error>"
    return AWSResponse(request.url, 500, {"Content-Type": "application/xml"}, _Raw(body))


def applied_then_lost(send, endpoint, request):
    send(endpoint, request)
    raise ConnectionClosedError(endpoint_url=request.url)


@pytest.fixture
def faults(monkeypatch):
    """The active rules (a list; .sleeps holds the backoff sleeps); patches botocore for the test."""
    rules, sleeps = [], []
    send = botocore.endpoint.Endpoint._send

    def faulty_send(endpoint, request):
        for rule in rules:
            if rule.applies(endpoint, request):
                return rule.respond(send, endpoint, request)
        return send(endpoint, request)

    monkeypatch.setattr(botocore.endpoint.Endpoint, "_send", faulty_send)
    monkeypatch.setattr(botocore.endpoint, "time", types.SimpleNamespace(sleep=sleeps.append))
    return types.SimpleNamespace(rules=rules, sleeps=sleeps)


def table_name(table: str) -> str:
    from chalicelib.settings import settings

    return settings.table(table)


def _dynamodb_matcher(operation: str, table: str | None):
    name = table and table_name(table)
    return lambda request: dynamodb_operation(request) == operation and (name is None or name in body_text(request))


@pytest.fixture
def inject(faults):
    """inject(operation, times, code=..., table=None) -> Fault: DynamoDB errors on that call
    (table: a settings name such as "tasks", to hit only calls naming that table)."""

    def add(operation: str, times: int, code="ProvisionedThroughputExceededException", table=None) -> Fault:
        fault = Fault("dynamodb", _dynamodb_matcher(operation, table), times, dynamodb_error(code), faults.sleeps)
        faults.rules.append(fault)
        return fault

    return add


@pytest.fixture
def inject_s3(faults):
    """inject_s3(method, key_suffix, times) -> Fault: S3 answers 500 to matching requests."""

    def add(method: str, key_suffix: str, times: int) -> Fault:
        fault = Fault("s3", lambda r: r.method == method and r.url.split("?")[0].endswith(key_suffix),
                      times, s3_error, faults.sleeps)
        faults.rules.append(fault)
        return fault

    return add


@pytest.fixture
def lose_response(faults):
    """lose_response(operation, table=None) -> Fault: the next matching call is applied by the
    store, then its response is lost (botocore sees a closed connection and resends)."""

    def add(operation: str, table=None) -> Fault:
        fault = Fault("dynamodb", _dynamodb_matcher(operation, table), 1, applied_then_lost, faults.sleeps)
        faults.rules.append(fault)
        return fault

    return add


@pytest.fixture
def die_after(monkeypatch):
    """die_after(operation, table=None) -> list of deaths: the next matching DynamoDB call
    completes, then the function dies before answering."""
    rules = []
    make_api_call = botocore.client.BaseClient._make_api_call

    def dying_make_api_call(client, operation_name, api_params):
        result = make_api_call(client, operation_name, api_params)
        for rule in rules:
            if rule["times"] > 0 and rule["operation"] == operation_name and \
                    (rule["table"] is None or rule["table"] in json.dumps(api_params, default=str)):
                rule["times"] -= 1
                rule["deaths"].append(operation_name)
                raise RuntimeError(f"function killed after {operation_name} returned")
        return result

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", dying_make_api_call)

    def add(operation: str, table=None) -> list:
        rule = {"operation": operation, "table": table and table_name(table), "times": 1, "deaths": []}
        rules.append(rule)
        return rule["deaths"]

    return add
