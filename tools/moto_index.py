"""A sorted index per partition, kept beside moto's DynamoDB tables, so that a Query page costs
O(log n + page) as in DynamoDB instead of moto's read-and-sort of the whole table.

moto 5.2.5 answers every Query (of a table or of an index) by listing and sorting *all* the
table's items, then filtering them by the partition key and skipping to the exclusive start
key: each page costs O(table log table), and a paged read of a partition is quadratic.

`install()` replaces `Table.query` by `fast_query`, which serves the common case (one hash key
condition, at most one condition on the sort key, no legacy QueryFilter) from a `TableIndex`:
for the table and for each of its secondary indexes, a dict from partition key to a list of
sort tuples kept in order (`bisect`). A sort tuple holds the `cast_value`s of the attributes
moto itself sorts by (`Table._generate_attr_to_sort_by`), so the order, the exclusive start
key and the page boundaries are moto's. Everything after picking the page (deep copy, index
projection, FilterExpression, ProjectionExpression, last evaluated key) is moto's code.
Anything else falls back to moto's own query.

The index is built the first time a table is queried and kept up to date by the three places
where moto changes an item: `Table.put_item`, `Table.delete_item` (every write path: PutItem,
BatchWriteItem, TransactWriteItems, PartiQL, imports, ends in one of them) and
`DynamoDBBackend.update_item` (which changes the stored item in place). A table whose secondary
indexes change (UpdateTable) is re-indexed at its next query; a reset or a restored table is a
new Table object, with no index until it is queried.
"""
import bisect
import copy
import functools

from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import RESULT_SIZE_LIMIT, GlobalSecondaryIndex, Table

RANGE_OPERATORS = {"EQ": "=", "=": "=", "LT": "<", "<": "<", "LE": "<=", "<=": "<=", "GT": ">", ">": ">",
                   "GE": ">=", ">=": ">=", "BETWEEN": "BETWEEN", "BEGINS_WITH": "BEGINS_WITH"}


class Partition:
    """The items of one partition: their sort tuples in order, and each tuple's table key."""

    __slots__ = ("keys", "refs")

    def __init__(self):
        self.keys: list[tuple] = []
        self.refs: dict[tuple, tuple] = {}

    def add(self, sort_key: tuple, table_key: tuple) -> None:
        if sort_key not in self.refs:
            bisect.insort(self.keys, sort_key)
        self.refs[sort_key] = table_key

    def remove(self, sort_key: tuple) -> None:
        del self.refs[sort_key]
        del self.keys[bisect.bisect_left(self.keys, sort_key)]


class TableIndex:
    """For one table: {index name (None for the table): {partition value: Partition}}, and for
    each stored item the places it occupies, to move or drop it when the item changes."""

    def __init__(self, table: Table):
        self.signature = schema_signature(table)
        self.layouts = {name: layout(table, name) for name in [None] + [i.name for i in table.all_indexes()]}
        self.partitions = {name: {} for name in self.layouts}
        self.entries: dict[tuple, list[tuple]] = {}
        for item in table.all_items_unsorted():
            self.reindex(table, (item.hash_key, item.range_key))

    def reindex(self, table: Table, table_key: tuple) -> None:
        for name, value, sort_key in self.entries.pop(table_key, ()):
            partitions = self.partitions[name]
            partitions[value].remove(sort_key)
            if not partitions[value].keys:
                del partitions[value]
        item = stored_item(table, table_key)
        if item is None:
            return
        places = []
        for name, (hash_attr, sort_attrs, required) in self.layouts.items():
            attrs = item.attrs
            if any(attrs.get(a) is None for a in required):
                continue  # not in this (sparse) index
            value = attrs[hash_attr]
            sort_key = tuple(attrs[a].cast_value for a in sort_attrs)
            self.partitions[name].setdefault(value, Partition()).add(sort_key, table_key)
            places.append((name, value, sort_key))
        self.entries[table_key] = places


def schema_signature(table: Table) -> tuple:
    return tuple((i.name, repr(i.schema)) for i in table.all_indexes())


def layout(table: Table, index_name: str | None) -> tuple[str, list[str], list[str]]:
    """(partition attribute, the attributes moto sorts a partition by, the attributes an item
    needs to be in the index), following moto's Table.query."""
    if index_name is None:
        sort_attrs = [table.range_key_attr] if table.range_key_attr else [table.hash_key_attr]
        return table.hash_key_attr, sort_attrs, [table.hash_key_attr]
    index = table.get_index(index_name)
    hash_attr = next(k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH")
    ranges = [k["AttributeName"] for k in index.schema if k["KeyType"] == "RANGE"]
    if ranges:
        range_attrs = ranges + [table.range_key_attr]
    elif isinstance(index, GlobalSecondaryIndex) and table.range_key_attr:
        range_attrs = [table.range_key_attr, table.range_key_attr]
    else:
        range_attrs = [table.hash_key_attr, table.range_key_attr]
    attrs = table._generate_attr_to_sort_by([hash_attr, table.hash_key_attr], range_attrs)
    return hash_attr, attrs[1:], [hash_attr] + ranges


def stored_item(table: Table, table_key: tuple) -> Item | None:
    hash_value, range_value = table_key
    stored = table.items.get(hash_value)
    if stored is None or range_value is None:
        return stored if isinstance(stored, Item) else None
    return stored.get(range_value)


def all_items_unsorted(table: Table) -> list[Item]:
    if table.range_key_attr:
        return [item for partition in table.items.values() for item in partition.values()]
    return list(table.items.values())


def index_of(table: Table) -> TableIndex:
    index = table.__dict__.get("_foule_index")
    if index is None or index.signature != schema_signature(table):
        index = table._foule_index = TableIndex(table)
    return index


def reindex(table: Table, hash_value, range_value) -> None:
    index = table.__dict__.get("_foule_index")
    if index is not None:
        index.reindex(table, (hash_value, range_value if table.range_key_attr else None))


def _bounds(keys: list[tuple], operator: str, values: list) -> tuple[int, int] | None:
    """The slice of a partition whose first sort attribute meets the key condition."""
    first = functools.partial(bisect.bisect_left, keys, key=lambda k: k[0])
    after = functools.partial(bisect.bisect_right, keys, key=lambda k: k[0])
    if operator == "=":
        return first(values[0]), after(values[0])
    if operator == "<":
        return 0, first(values[0])
    if operator == "<=":
        return 0, after(values[0])
    if operator == ">":
        return after(values[0]), len(keys)
    if operator == ">=":
        return first(values[0]), len(keys)
    if operator == "BETWEEN":
        return first(values[0]), after(values[1])
    if operator == "BEGINS_WITH" and isinstance(values[0], str):
        prefix = values[0]
        return first(prefix), bisect.bisect_right(keys, prefix, key=lambda k: k[0][:len(prefix)])
    return None


def _page(table, index_name, hash_key, range_comparison, range_objs, limit, exclusive_start_key,
          scan_index_forward, hash_key_conditions, range_key_conditions, filter_kwargs):
    """The page's items as moto would pick them (and its scanned count), or None to let moto's
    own query answer (a case this index does not serve)."""
    if filter_kwargs or len(hash_key_conditions or ()) > 1 or len(range_key_conditions or ()) > 1:
        return None
    if index_name is not None and index_name not in {i.name for i in table.all_indexes()}:
        return None  # moto raises the ValidationException
    index = index_of(table)
    hash_attr, sort_attrs, required = index.layouts[index_name]
    if index_name is not None and len(required) == 1 and range_comparison:
        return None  # a sort key condition on an index without a sort key: moto's error
    if hash_key_conditions:
        if hash_key_conditions[0][0] != hash_attr:
            return None
        hash_key = hash_key_conditions[0][1]
    if hash_key is None:
        return None
    partition = index.partitions[index_name].get(hash_key)
    keys = partition.keys if partition else []
    try:
        lo, hi = 0, len(keys)
        if range_comparison:
            if range_key_conditions and range_key_conditions[0][0] != sort_attrs[0]:
                return None
            operator = RANGE_OPERATORS.get(range_comparison)
            bounds = operator and _bounds(keys, operator, [v.cast_value for v in range_objs])
            if bounds is None:
                return None
            lo, hi = bounds[0], max(bounds)
        if exclusive_start_key is not None:
            if any(a not in exclusive_start_key for a in sort_attrs):
                return None
            start = tuple(DynamoType(exclusive_start_key[a]).cast_value for a in sort_attrs)
            if scan_index_forward:
                lo = max(lo, bisect.bisect_right(keys, start))
            else:
                hi = min(hi, bisect.bisect_left(keys, start))
    except TypeError:  # values of different types: moto's own comparison decides
        return None
    positions = range(lo, hi) if scan_index_forward else range(hi - 1, lo - 1, -1)
    results, size, last_evaluated_key = [], 0, None
    for position in positions:
        item = stored_item(table, partition.refs[keys[position]])
        if len(results) == limit or size + item.size() > RESULT_SIZE_LIMIT:
            last_evaluated_key = table._get_last_evaluated_key(results[-1], index_name)
            break
        results.append(item)
        size += item.size()
    else:
        # moto walks the whole partition and checks the limit before the key condition: a
        # full page gets a last evaluated key if any item of the partition follows it.
        beyond = max(lo, hi) < len(keys) if scan_index_forward else min(lo, hi) > 0
        if results and len(results) == limit and beyond:
            last_evaluated_key = table._get_last_evaluated_key(results[-1], index_name)
    return results, len(results), last_evaluated_key


_moto_query = Table.query
# Queries answered from the index and by moto's own code: GET /_foule/busy reports them.
served = {"index": 0, "moto": 0}


def fast_query(self, hash_key, range_comparison, range_objs, limit, exclusive_start_key, scan_index_forward,
               projection_expressions, index_name=None, consistent_read=False, filter_expression=None,
               hash_key_conditions=None, range_key_conditions=None, **filter_kwargs):
    """Table.query (moto 5.2.5) with the page picked from the sorted index."""
    is_gsi = index_name is not None and any(i.name == index_name for i in self.global_indexes or [])
    picked = None if (consistent_read and is_gsi) else _page(
        self, index_name, hash_key, range_comparison, range_objs, limit, exclusive_start_key,
        scan_index_forward, hash_key_conditions, range_key_conditions, filter_kwargs)
    served["moto" if picked is None else "index"] += 1
    if picked is None:
        return _moto_query(self, hash_key, range_comparison, range_objs, limit, exclusive_start_key,
                           scan_index_forward, projection_expressions, index_name, consistent_read,
                           filter_expression, hash_key_conditions=hash_key_conditions,
                           range_key_conditions=range_key_conditions, **filter_kwargs)
    results, scanned_count, last_evaluated_key = picked
    # moto's own tail of Table.query, unchanged.
    results = copy.deepcopy(results)
    if index_name:
        index = self.get_index(index_name)
        results = [index.project(r) for r in results]
    if filter_expression is not None:
        results = [item for item in results if filter_expression.expr(item)]
    if projection_expressions:
        results = [r.project(projection_expressions) for r in results]
    return results, scanned_count, last_evaluated_key


def install() -> None:
    """Serve Table.query from the index, and keep the index current on every item change."""
    Table.all_items_unsorted = all_items_unsorted
    Table.query = fast_query
    put_item, delete_item, update_item = Table.put_item, Table.delete_item, DynamoDBBackend.update_item

    def indexed_put_item(self, item_attrs, *args, **kwargs):
        item = put_item(self, item_attrs, *args, **kwargs)
        reindex(self, item.hash_key, item.range_key)
        return item

    def indexed_delete_item(self, hash_key, range_key):
        try:
            return delete_item(self, hash_key, range_key)
        finally:
            reindex(self, hash_key, range_key)

    def indexed_update_item(self, table_name, key, *args, **kwargs):
        try:
            return update_item(self, table_name, key, *args, **kwargs)
        finally:  # an update that failed half-way may have changed the item all the same
            try:
                table = self.get_table(table_name)
                hash_value, range_value = self.get_keys_value(table, key)
            except Exception:  # no such table or a malformed key: nothing was changed, and
                pass           # moto's own error must reach the client, not this one
            else:
                reindex(table, hash_value, range_value)

    Table.put_item, Table.delete_item = indexed_put_item, indexed_delete_item
    DynamoDBBackend.update_item = indexed_update_item
