"""`chalice local` with a listen backlog fit for many clients connecting at once, and an
optional meter of what each route costs in the store.

    python -m tools.chalice_local --stage local --port 8000 --no-autoreload
    FOULE_STORE_METER=/tmp/meter.json python -m tools.chalice_local ...   # metered

chalice 1.34's local server keeps socketserver's default backlog of 5 pending connections:
a burst of mobile clients connecting together gets connection resets that API Gateway would
never give. Everything else is plain `chalice local`.

With FOULE_STORE_METER set, every DynamoDB client the API process creates gets botocore event
hooks that count its calls per operation (and its sends, retries included), ask for
ReturnConsumedCapacity=TOTAL and add up the capacity the store reports, and time the calls;
chalice's LocalGateway is wrapped so that each count is charged to the route being served
(the authorizer's key lookup included), with the route's time in the server. On SIGUSR1 the
totals so far are written to that file (JSON, replaced atomically): a load test reads them
before and after a phase and takes the difference.
"""
import json
import os
import signal
import sys
import threading
import time
from collections import Counter, defaultdict

import botocore.session
import chalice.local
from chalice.cli import main

chalice.local.ThreadedHTTPServer.request_queue_size = 256

# The DynamoDB operations that accept ReturnConsumedCapacity.
CAPACITY_OPERATIONS = {"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "BatchGetItem",
                       "BatchWriteItem", "TransactGetItems", "TransactWriteItems"}
OUTSIDE_REQUESTS = "(outside a request)"


def capacity_units(parsed: dict) -> float:
    """The capacity a DynamoDB response reports: one entry, or one per table."""
    consumed = parsed.get("ConsumedCapacity") or []
    entries = consumed if isinstance(consumed, list) else [consumed]
    return float(sum(e.get("CapacityUnits", 0) for e in entries))


class StoreMeter:
    """DynamoDB calls, sends, consumed capacity and time, per route served."""

    def __init__(self):
        self.lock = threading.Lock()
        self.current = threading.local()
        self.routes = defaultdict(lambda: {"requests": 0, "server_seconds": 0.0, "store_seconds": 0.0,
                                           "calls": Counter(), "sends": Counter(), "capacity": Counter(),
                                           "calls_reporting_capacity": Counter()})

    def _totals(self) -> dict:
        return self.routes[getattr(self.current, "route", None) or OUTSIDE_REQUESTS]

    # botocore hooks
    def ask_for_capacity(self, params, model, **kwargs):
        if model.name in CAPACITY_OPERATIONS:
            params.setdefault("ReturnConsumedCapacity", "TOTAL")

    def call_started(self, model, **kwargs):
        self.current.call_started = time.perf_counter()

    def sent(self, request, **kwargs):
        # before-send names no operation; DynamoDB's JSON protocol carries it in a header.
        target = request.headers.get("X-Amz-Target", b"")
        operation = (target.decode() if isinstance(target, bytes) else target).rpartition(".")[2]
        with self.lock:
            self._totals()["sends"][operation] += 1

    def call_ended(self, parsed, model, **kwargs):
        elapsed = time.perf_counter() - getattr(self.current, "call_started", time.perf_counter())
        units = capacity_units(parsed or {})
        with self.lock:
            totals = self._totals()
            totals["calls"][model.name] += 1
            totals["store_seconds"] += elapsed
            if (parsed or {}).get("ConsumedCapacity"):  # moto answers TransactWriteItems with []
                totals["calls_reporting_capacity"][model.name] += 1
                totals["capacity"][model.name] += units

    def instrument(self, client) -> None:
        events = client.meta.events
        events.register("provide-client-params.dynamodb", self.ask_for_capacity)
        events.register("before-call.dynamodb", self.call_started)
        events.register("before-send.dynamodb", self.sent)
        events.register("after-call.dynamodb", self.call_ended)

    # chalice's gateway
    def serving(self, route: str):
        self.current.route = route
        return time.perf_counter()

    def served(self, started: float) -> None:
        with self.lock:
            totals = self._totals()
            totals["requests"] += 1
            totals["server_seconds"] += time.perf_counter() - started
        self.current.route = None

    def snapshot(self) -> dict:
        with self.lock:
            return {route: {k: dict(v) if isinstance(v, Counter) else v for k, v in totals.items()}
                    for route, totals in self.routes.items()}

    def write(self, path: str) -> None:
        partial = f"{path}.partial"
        with open(partial, "w") as f:
            json.dump({"written_at": time.time(), "routes": self.snapshot()}, f)
        os.replace(partial, path)


def install_meter(path: str) -> StoreMeter:
    meter = StoreMeter()
    create_client = botocore.session.Session.create_client

    def metered_create_client(session, service_name, *args, **kwargs):
        client = create_client(session, service_name, *args, **kwargs)
        if service_name == "dynamodb":
            meter.instrument(client)
        return client

    botocore.session.Session.create_client = metered_create_client
    handle_request = chalice.local.LocalGateway.handle_request

    def metered_handle_request(gateway, method, path, headers, body):
        try:
            route = gateway.event_converter._route_matcher.match_route(path).route
        except ValueError:
            route = "(no route)"
        started = meter.serving(f"{method} {route}")
        try:
            return handle_request(gateway, method=method, path=path, headers=headers, body=body)
        finally:
            meter.served(started)

    chalice.local.LocalGateway.handle_request = metered_handle_request
    signal.signal(signal.SIGUSR1, lambda *_: meter.write(path))
    return meter


if __name__ == "__main__":
    if os.environ.get("FOULE_STORE_METER"):
        install_meter(os.environ["FOULE_STORE_METER"])
    sys.argv = ["chalice", "local", *sys.argv[1:]]
    sys.exit(main())
