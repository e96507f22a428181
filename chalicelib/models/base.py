"""What every model shares: the region and the table name from settings, and the botocore
files their connections parse."""
import time

import botocore.loaders
import botocore.session
from pynamodb.connection import Connection
from pynamodb.connection import base as pynamodb_connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.models import Model

from chalicelib.settings import settings

# pynamodb gives each model's connection a botocore session of its own, and each new session
# parses botocore's endpoint and DynamoDB model files again (~50 ms of JSON): a cold start's
# first request, touching six tables, paid it six times (bench/RESULTS.md, "Cold start"). The
# sessions stay one per connection and thread, as pynamodb wants (botocore sessions are not
# thread-safe); they share the files, read once, as one session's clients always do.
_botocore_files = botocore.loaders.create_loader()


def _session_sharing_files() -> botocore.session.Session:
    session = botocore.session.get_session()
    session.register_component("data_loader", _botocore_files)
    return session


pynamodb_connection.get_session = _session_sharing_files


def meta(table: str):
    """A pynamodb Meta class for one of the tables named in settings."""

    class Meta:
        table_name = settings.table(table)
        region = settings.region

    return Meta


_connection = None


def connection() -> Connection:
    """The low-level connection that transactions run on, built once."""
    global _connection
    if _connection is None:
        _connection = Connection(region=settings.region)
    return _connection


def shard_partition(owner: str, shard: int | str) -> str:
    """The partition key "<owner>#<shard>" of a sharded index (answers, ledger by project): one
    owner's writes spread over several partitions, read back by services.sharded_paging."""
    return f"{owner}#{shard}"


def put_new(tx, item: Model) -> None:
    """Put an item that must not exist yet (an append-only entry) inside a TransactWrite."""
    tx.save(item, condition=type(item)._hash_key_attribute().does_not_exist())


def now_ms() -> int:
    return int(time.time() * 1000)


def failed_conditions(error: TransactWriteError) -> list[bool]:
    """For each item of a cancelled transaction, whether its condition failed.

    Items are in the order pynamodb sends them: condition checks, deletes, puts, then
    updates, each kind in the order it was added to the transaction.
    """
    return [reason is not None and reason.code == "ConditionalCheckFailed"
            for reason in (error.cancellation_reasons or [])]


def conflicted(error: TransactWriteError) -> bool:
    """Whether DynamoDB cancelled the transaction because another one was writing the same
    items at that moment (not a failed condition): the same request may simply be retried."""
    return any(r is not None and r.code == "TransactionConflict" for r in error.cancellation_reasons or [])
