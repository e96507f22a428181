"""Paging through an index whose partitions are shards of one owner ("<owner>#<n>").

Such indexes spread a popular project's writes over several partitions; a listing then reads
the shards one after the other, newest first within each, and every item appears exactly
once over the pages. The cursor is the shard being read plus DynamoDB's LastEvaluatedKey,
checked against the caller's own partition (services.paging). A request reads at most
`read_limit` items, so a filter that matches few of many gives a short (even empty) page
with a cursor to carry on, as DynamoDB itself does.
"""
from chalicelib.errors import BadRequest
from chalicelib.models.base import shard_partition
from chalicelib.services import paging
from chalicelib.settings import settings

READ_LIMIT = 2000


def _decode(cursor: str | None, owner: str, shard_attribute: str, key_types: dict) -> tuple[int, dict | None]:
    if not cursor:
        return 0, None
    try:
        data = paging.opened(cursor)
        shard = int(data.pop("shard")["N"])
        if not 0 <= shard < settings.counter_shards:
            raise ValueError
    except (ValueError, TypeError, KeyError, AttributeError):
        raise BadRequest("The cursor is not one this listing issued.", code="invalid_cursor") from None
    if not data:
        return shard, None
    return shard, paging.decode(paging.encode(data), key_types, shard_attribute, shard_partition(owner, shard))


def page(model, index, owner: str, shard_attribute: str, key_types: dict, limit: int,
         cursor: str | None, filter_condition=None, read_limit: int | None = None) -> tuple[list, str | None]:
    """(items of `model`, next cursor or None) of the owner's shards of `index`."""
    read_limit = READ_LIMIT if read_limit is None else read_limit
    shard, start = _decode(cursor, owner, shard_attribute, key_types)
    items, read = [], 0
    while shard < settings.counter_shards and len(items) < limit and read < read_limit:
        pages = index.query(shard_partition(owner, shard), last_evaluated_key=start, scan_index_forward=False,
                            page_size=limit - len(items), filter_condition=filter_condition).page_iter
        response = next(pages)  # one request of at most `page_size` items: never more than asked
        items.extend(model.from_raw_data(raw) for raw in response.get("Items", []))
        read += int(response.get("ScannedCount", 0))
        start = pages.last_evaluated_key
        if not start:
            shard, start = shard + 1, None
    if shard >= settings.counter_shards:
        return items, None
    return items, paging.encode({"shard": {"N": str(shard)}, **(start or {})})
