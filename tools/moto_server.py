"""moto in server mode, made faithful enough to test concurrency against.

    python -m tools.moto_server -p 5055

moto 5.2.5's own server (`moto_server`) has two traits that matter to Foule:
- it serves each request on its own thread with no lock, so two requests' condition checks
  and writes interleave: a conditional write is not atomic against a concurrent one, unlike
  DynamoDB's;
- its TransactWriteItems deep-copies every table it touches before writing, to roll back on
  a failed condition: O(table size) per transaction, and under concurrency the rollback
  restores a snapshot that erases other clients' writes made meanwhile.
This launcher serves the same moto application but runs one request at a time (every call is
then atomic, as single-item writes and transactions are in DynamoDB; `GET /_foule/busy`
reports how long the lock was held, so a load test can tell when moto is the bottleneck), checks all of a
transaction's conditions before applying any of its writes (so nothing needs rolling back and
no table is copied), keeps HTTP connections alive, and lists moto's service modules once
instead of reading its package folder on every request. A transaction that fails for another
reason than a condition (a malformed expression: a bug in the caller, which gets an error) is
not rolled back here.

It also installs tools/moto_fast.py (a sorted index per partition for Query, and the removal of
moto's other big per-request costs), which changes no answer; `--baseline` leaves it out.
"""
import argparse
import copy
import functools
import json
import logging
import os
import re
import threading
import time

import moto.backends
import moto.dynamodb.models as dynamodb_models
from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import ConditionalCheckFailed, TransactionCanceledException
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import WSGIRequestHandler, run_simple

from tools import moto_fast, moto_index


class OneAtATime:
    """WSGI middleware: one request inside the moto application at a time.

    It counts the requests served and the seconds the lock was held: `GET /_foule/busy`
    answers {"requests", "busy_seconds", "queries"} (the last: Queries answered from the
    sorted index of tools/moto_index.py and by moto's own code). Busy seconds growing as fast as the wall clock
    means moto, serving one request at a time, is what limits a load test."""

    BUSY_PATH = "/_foule/busy"

    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()
        self.requests = 0
        self.busy_seconds = 0.0

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") == self.BUSY_PATH:
            body = json.dumps({"requests": self.requests, "busy_seconds": self.busy_seconds,
                               "queries": moto_index.served}).encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        with self.lock:
            started = time.perf_counter()
            try:
                # Read the whole response inside the lock: moto may build it lazily.
                return list(self.app(environ, start_response))
            finally:
                self.requests += 1
                self.busy_seconds += time.perf_counter() - started


def _item_key(backend, op_type: str, op: dict) -> dict:
    if op_type != "Put":
        return op["Key"]
    table = backend.get_table(op["TableName"])
    key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = op["Item"][table.range_key_attr]
    return key


def _failed_conditions(backend, transact_items: list) -> list:
    """moto's per-item error list for the transaction, or [] when every condition holds."""
    errors, failed = [], False
    for item in transact_items:
        op_type, op = next(iter(item.items()))
        expression = op.get("ConditionExpression")
        if op_type not in {"ConditionCheck", "Put", "Delete", "Update"} or expression is None:
            errors.append((None, None, None))
            continue
        current = backend.get_item(op["TableName"], _item_key(backend, op_type, op))
        condition = get_filter_expression(expression, op.get("ExpressionAttributeNames"),
                                          op.get("ExpressionAttributeValues"))
        if condition.expr(current):
            errors.append((None, None, None))
        else:
            failed = True
            old = current.to_json()["Attributes"] if current and \
                op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" else None
            errors.append(("ConditionalCheckFailed", ConditionalCheckFailed().message, old))
    return errors if failed else []


class _NoTableCopies:
    """Stands in for the `copy` module inside moto's transaction code: with the conditions
    checked first, the whole-table backup it takes is never restored, so it need not be made."""

    @staticmethod
    def deepcopy(value, memo=None):
        return value if isinstance(value, dynamodb_models.Table) else copy.deepcopy(value, memo)


_original_transact_write_items = dynamodb_models.DynamoDBBackend.transact_write_items


def _without_condition(item: dict) -> dict:
    """The transaction item with its (already checked) condition taken out, and the attribute
    names and values only that condition used, which moto would otherwise refuse as unused."""
    op_type, op = next(iter(item.items()))
    if "ConditionExpression" not in op:
        return item
    op = {k: v for k, v in op.items() if k != "ConditionExpression"}
    used = set(re.findall(r"[#:][A-Za-z0-9_]+", op.get("UpdateExpression", "")))
    for field in ("ExpressionAttributeNames", "ExpressionAttributeValues"):
        if field in op:
            op[field] = {k: v for k, v in op[field].items() if k in used}
            if not op[field]:
                del op[field]
    return {op_type: op}


def transact_write_items(self, transact_items):
    errors = _failed_conditions(self, transact_items)
    if errors:
        raise TransactionCanceledException(errors)
    # Checked once here: moto would parse and evaluate each condition twice more.
    return _original_transact_write_items(self, [_without_condition(i) for i in transact_items])


def patch_moto(fast: bool = True) -> None:
    """The patches above; with `fast`, also those that only make moto quicker (see
    tools/moto_fast.py). `--baseline` leaves those out, to measure what they gain."""
    installed_services = tuple(moto.backends.list_of_moto_modules())
    moto.backends.list_of_moto_modules = functools.cache(lambda: installed_services)
    dynamodb_models.DynamoDBBackend.transact_write_items = transact_write_items
    dynamodb_models.copy = _NoTableCopies
    if fast:
        moto_fast.install()


def serve(host: str, port: int, fast: bool = True) -> None:
    patch_moto(fast)
    WSGIRequestHandler.protocol_version = "HTTP/1.1"  # keep-alive: no TCP handshake per call
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access-log line per call
    app = OneAtATime(DomainDispatcherApplication(create_backend_app))
    run_simple(host, port, app, threaded=True, request_handler=WSGIRequestHandler)


def exit_with_parent(parent: int) -> None:
    """Stop when the process that started this server is gone (it is no longer our parent): a
    test worker that exits without its clean-up must not leave a server behind. The parent's id
    is given, as it may be gone before this runs (moto takes seconds to import)."""
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(0)

    threading.Thread(target=watch, daemon=True, name="exit-with-parent").start()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=5055)
    parser.add_argument("--parent-pid", type=int, help="stop when this process (our parent) exits")
    parser.add_argument("--baseline", action="store_true",
                        help="without the speed patches (tools/moto_fast.py): for benchmarks and equivalence tests")
    args = parser.parse_args()
    if args.parent_pid:
        exit_with_parent(args.parent_pid)
    serve(args.host, args.port, fast=not args.baseline)


if __name__ == "__main__":
    main()
