"""Patches that make moto's DynamoDB quicker without changing a single answer (tools/moto_server.py
installs them; `--baseline` leaves them out). Measured under the RTE replay (bench/RESULTS.md,
"Local stack"), a request's time in moto 5.2.5 went mostly to:

- Query: every page read and sorted the whole table -> tools/moto_index.py, a sorted index per
  partition, O(log n + page);
- the response: moto's generic, model-driven serializer walks every attribute of every item
  against botocore's shape model -> for the item operations, whose results moto already builds
  in DynamoDB's JSON wire form, `json.dumps` them (the equivalence test compares the parsed
  answers with the baseline's);
- UpdateItem deep-copies the stored item first, only to hand the old image to a stream -> no
  copy when the table has no stream;
- an update expression is parsed twice per item (the handler, then the backend), and its AST
  walked by ten validators, each rebuilding its map of node classes at every node -> parsed
  once per distinct expression (an LRU cache: the validator works on a deep copy, the handler
  only reads it), and each validator's node classes listed once.

tests/test_moto_fast.py runs random operations against this server and a `--baseline` one and
asserts the same answers.
"""
import base64
import copy
import functools
import json
import threading
from decimal import Decimal

import moto.dynamodb.models as dynamodb_models
from moto.core.responses import ActionResult
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser
from moto.dynamodb.parsing.expressions import UpdateExpressionParser
from moto.dynamodb.responses import DynamoHandler

from tools import moto_index

# Operations whose results are item data in DynamoDB JSON already (no timestamps, no shapes
# that the serializer renames or drops), answered with json.dumps.
JSON_ACTIONS = {"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "BatchGetItem",
                "BatchWriteItem", "TransactGetItems", "TransactWriteItems"}
CONTENT_TYPE = "application/x-amz-json-1.0"


def _json_default(value):
    if isinstance(value, DynamoType):
        return value.to_json()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


_moto_serialized = DynamoHandler.serialized


def serialized(self, action_result: ActionResult):
    result = action_result.result
    if isinstance(result, dict) and self._get_action() in JSON_ACTIONS:
        body = json.dumps({k: v for k, v in result.items() if v is not None}, default=_json_default)
        return 200, {"Content-Type": CONTENT_TYPE, **self.response_headers}, body
    return _moto_serialized(self, action_result)


class _Copies:
    """Stands in for the `copy` module in moto's DynamoDB backend (wrapping what is there):
    while `skip_items` is set, an Item is not copied."""

    def __init__(self, inner):
        self.inner = inner
        self.state = threading.local()

    def deepcopy(self, value, memo=None):
        if isinstance(value, Item) and getattr(self.state, "skip_items", False):
            return value
        return self.inner.deepcopy(value, memo)


def _node_classes(self) -> tuple:
    """DepthFirstTraverser.nodes_to_be_processed, computed once per traverser (moto's says it is
    cached but builds the processing map again at every node)."""
    classes = self.__dict__.get("_node_classes")
    if classes is None:
        classes = self._node_classes = tuple(self._processing_map())
    return classes


def install() -> None:
    moto_index.install()
    UpdateExpressionParser.make = classmethod(functools.lru_cache(maxsize=4096)(UpdateExpressionParser.make.__func__))
    DepthFirstTraverser.nodes_to_be_processed = _node_classes
    DynamoHandler.serialized = serialized
    copies = dynamodb_models.copy = _Copies(getattr(dynamodb_models, "copy", copy))
    update_item = dynamodb_models.DynamoDBBackend.update_item

    def update_item_without_old_copy(self, table_name, *args, **kwargs):
        # The old image moto copies is only used for a stream record.
        copies.state.skip_items = self.get_table(table_name).stream_shard is None
        try:
            return update_item(self, table_name, *args, **kwargs)
        finally:
            copies.state.skip_items = False

    dynamodb_models.DynamoDBBackend.update_item = update_item_without_old_copy
