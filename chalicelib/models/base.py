"""What every model shares: the region and the table name from settings."""
import time

from pynamodb.connection import Connection

from chalicelib.settings import settings


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


def now_ms() -> int:
    return int(time.time() * 1000)
