"""The speed patches of moto (tools/moto_fast.py, tools/moto_index.py) change no answer.

Seeded random operations are sent, in the same order, to the session's moto server (patched)
and to a `--baseline` one (moto as it was before the patches); every answer, error code
included, must be the same. The operations are the ones whose paths the patches touch: puts,
updates that move an item in or out of a sparse index or change its index keys, deletes, batch
writes, transactions (some of them refused), and queries of the table and of each index with
every kind of key condition, both directions, Limit, paging by ExclusiveStartKey, filters and
projections.
"""
import json
import os
import random
import urllib.request
import uuid

import boto3
import pytest
from botocore.exceptions import ClientError

from tools import local_stack

OPERATIONS = 250
PARTITIONS = ["p0", "p1", "p2"]
GROUPS = ["g0", "g1"]


@pytest.fixture(scope="module")
def baseline_endpoint():
    port = local_stack.free_port()
    process = local_stack.start_moto(port, baseline=True)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def client(endpoint):
    return boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def create_tables(dynamodb, name: str) -> None:
    s, n = "S", "N"
    dynamodb.create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": t}
                              for a, t in [("pk", s), ("sk", s), ("g", s), ("gr", n), ("lr", n)]],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[
            {"IndexName": "by_g", "Projection": {"ProjectionType": "ALL"},
             "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}, {"AttributeName": "gr", "KeyType": "RANGE"}]},
            {"IndexName": "g_only", "Projection": {"ProjectionType": "KEYS_ONLY"},
             "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}]}],
        LocalSecondaryIndexes=[
            {"IndexName": "by_lr", "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["v"]},
             "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "lr", "KeyType": "RANGE"}]}])
    dynamodb.create_table(
        TableName=f"{name}-h", BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": s}, {"AttributeName": "g", "AttributeType": s}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[{"IndexName": "by_g", "Projection": {"ProjectionType": "ALL"},
                                 "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}]}])


def random_key(rng) -> dict:
    return {"pk": {"S": rng.choice(PARTITIONS)}, "sk": {"S": f"s{rng.randrange(25):02d}"}}


def random_item(rng) -> dict:
    item = {**random_key(rng), "v": {"N": str(rng.randrange(100))},
            "lr": {"N": str(rng.randrange(8))}, "tag": {"S": rng.choice(["a", "ab", "b"])}}
    if rng.random() < 0.7:  # sparse: the rest is in neither GSI
        item["g"] = {"S": rng.choice(GROUPS)}
        if rng.random() < 0.8:
            item["gr"] = {"N": str(rng.randrange(6))}  # ties on purpose
    if rng.random() < 0.2:
        item["nested"] = {"M": {"l": {"L": [{"S": "x"}, {"N": "1.5"}]}, "ss": {"SS": ["a", "b"]}, "z": {"NULL": True}}}
    return item


def random_update(rng, table: str) -> dict:
    choice = rng.randrange(5)
    values = {}
    if choice == 0:
        expression = "SET g = :g, gr = :gr"
        values = {":g": {"S": rng.choice(GROUPS)}, ":gr": {"N": str(rng.randrange(6))}}
    elif choice == 1:
        expression = "REMOVE g"
    elif choice == 2:
        expression, values = "ADD gr :one, v :one", {":one": {"N": "1"}}
    elif choice == 3:
        expression, values = "SET lr = :lr", {":lr": {"N": str(rng.randrange(8))}}
    else:
        expression, values = "SET tag = :t REMOVE gr", {":t": {"S": "c"}}
    update = {"TableName": table, "Key": random_key(rng), "UpdateExpression": expression, "ReturnValues": "ALL_NEW"}
    if values:
        update["ExpressionAttributeValues"] = values
    if rng.random() < 0.3:
        update["ConditionExpression"] = "attribute_exists(pk)"
    return update


def random_query(rng, table: str) -> dict:
    index = rng.choice([None, "by_g", "g_only", "by_lr"])
    values = {}
    if index in ("by_g", "g_only"):
        condition, values[":h"] = "g = :h", {"S": rng.choice(GROUPS + ["none"])}
        sort_attr, sort_type = ("gr", "N") if index == "by_g" else (None, None)
    else:
        condition, values[":h"] = "pk = :h", {"S": rng.choice(PARTITIONS)}
        sort_attr, sort_type = ("sk", "S") if index is None else ("lr", "N")
    if sort_attr and rng.random() < 0.7:
        def value():
            return {"S": f"s{rng.randrange(27):02d}"} if sort_type == "S" else {"N": str(rng.randrange(-1, 9))}
        kind = rng.choice(["=", "<", "<=", ">", ">=", "between", "begins"])
        if kind == "between":
            condition += f" AND {sort_attr} BETWEEN :a AND :b"
            bounds = [value(), value()]
            if rng.random() < 0.9:  # now and then the wrong way round: an empty range
                bounds.sort(key=lambda v: float(v["N"]) if sort_type == "N" else v["S"])
            values[":a"], values[":b"] = bounds
        elif kind == "begins" and sort_type == "S":
            condition += f" AND begins_with({sort_attr}, :a)"
            values[":a"] = {"S": rng.choice(["s", "s0", "s1", "s2", "s05", "t"])}
        else:
            condition += f" AND {sort_attr} {'=' if kind == 'begins' else kind} :a"
            values[":a"] = value()
    query = {"TableName": table, "KeyConditionExpression": condition, "ExpressionAttributeValues": values,
             "ScanIndexForward": rng.random() < 0.5}
    if index:
        query["IndexName"] = index
    if rng.random() < 0.6:
        query["Limit"] = rng.randrange(1, 6)
    if rng.random() < 0.3 and index != "g_only":
        query["FilterExpression"] = "v > :min"
        values[":min"] = {"N": str(rng.randrange(100))}
    if rng.random() < 0.2 and index is None:
        query["ProjectionExpression"] = "pk, sk, tag"
    return query


def call(dynamodb, operation: str, params: dict):
    try:
        response = getattr(dynamodb, operation)(**params)
    except ClientError as error:
        return {"error": error.response["Error"]["Code"]}
    response.pop("ResponseMetadata", None)
    return response


def run(dynamodb, operation: str, params: dict) -> list:
    """The answers to one operation; a query is followed page by page to its end."""
    if operation != "query":
        return [call(dynamodb, operation, params)]
    pages = []
    while len(pages) < 30:
        page = call(dynamodb, "query", params)
        pages.append(page)
        if "LastEvaluatedKey" not in page:
            return pages
        params = {**params, "ExclusiveStartKey": page["LastEvaluatedKey"]}
    return pages


def random_operation(rng, table: str) -> tuple[str, dict]:
    kind = rng.choices(["put", "update", "delete", "batch", "transact", "query", "hash_only"],
                       weights=[5, 5, 2, 1, 2, 6, 1])[0]
    if kind == "put":
        params = {"TableName": table, "Item": random_item(rng), "ReturnValues": "ALL_OLD"}
        if rng.random() < 0.2:
            params["ConditionExpression"] = "attribute_not_exists(pk)"
        return "put_item", params
    if kind == "update":
        return "update_item", random_update(rng, table)
    if kind == "delete":
        return "delete_item", {"TableName": table, "Key": random_key(rng), "ReturnValues": "ALL_OLD"}
    if kind == "batch":
        keys, requests = set(), []
        for _ in range(rng.randrange(1, 6)):
            item = random_item(rng)
            if (item["pk"]["S"], item["sk"]["S"]) not in keys:
                keys.add((item["pk"]["S"], item["sk"]["S"]))
                requests.append({"PutRequest": {"Item": item}} if rng.random() < 0.7
                                else {"DeleteRequest": {"Key": {"pk": item["pk"], "sk": item["sk"]}}})
        return "batch_write_item", {"RequestItems": {table: requests}}
    if kind == "transact":
        keys, items = set(), []
        for _ in range(rng.randrange(1, 4)):
            key = random_key(rng)
            if (key["pk"]["S"], key["sk"]["S"]) in keys:
                continue
            keys.add((key["pk"]["S"], key["sk"]["S"]))
            which = rng.randrange(3)
            if which == 0:
                item = {**random_item(rng), **key}
                items.append({"Put": {"TableName": table, "Item": item}})
            elif which == 1:
                update = random_update(rng, table)
                update.pop("ReturnValues")
                items.append({"Update": {**update, "Key": key}})
            else:
                delete = {"TableName": table, "Key": key}
                if rng.random() < 0.5:
                    delete["ConditionExpression"] = "attribute_exists(pk)"
                items.append({"Delete": delete})
        return "transact_write_items", {"TransactItems": items}
    if kind == "hash_only":
        if rng.random() < 0.5:
            item = {"pk": {"S": rng.choice(PARTITIONS)}}
            if rng.random() < 0.7:
                item["g"] = {"S": rng.choice(GROUPS)}
            return "put_item", {"TableName": f"{table}-h", "Item": item}
        query = {"TableName": f"{table}-h", "ScanIndexForward": rng.random() < 0.5}
        if rng.random() < 0.5:
            query.update(IndexName="by_g", KeyConditionExpression="g = :h",
                         ExpressionAttributeValues={":h": {"S": rng.choice(GROUPS)}}, Limit=rng.randrange(1, 4))
        else:
            query.update(KeyConditionExpression="pk = :h",
                         ExpressionAttributeValues={":h": {"S": rng.choice(PARTITIONS)}})
        return "query", query
    return "query", random_query(rng, table)


@pytest.mark.parametrize("seed", [1, 2])
def test_random_operations_get_the_same_answers_as_moto_without_the_patches(baseline_endpoint, seed):
    fast, baseline = client(os.environ["AWS_ENDPOINT_URL"]), client(baseline_endpoint)
    table = f"equivalence-{uuid.uuid4().hex[:8]}"
    for dynamodb in (fast, baseline):
        create_tables(dynamodb, table)
    rng = random.Random(seed)
    kinds, served_before = set(), queries_served()
    for step in range(OPERATIONS):
        operation, params = random_operation(rng, table)
        expected = run(baseline, operation, params)
        assert run(fast, operation, params) == expected, (step, operation, params)
        kinds.add((operation, "error" if "error" in expected[0] else "paged" if len(expected) > 1 else "ok"))
    # The run exercised what it claims to: refused writes and multi-page queries included.
    assert {("query", "paged"), ("transact_write_items", "error"), ("put_item", "error"),
            ("update_item", "ok"), ("batch_write_item", "ok")} <= kinds
    # ...and the patched server answered the queries from its index, not by moto's own code.
    served = {k: v - served_before[k] for k, v in queries_served().items()}
    assert served["index"] > 50 and served["moto"] == 0, served


def queries_served() -> dict:
    with urllib.request.urlopen(f"{os.environ['AWS_ENDPOINT_URL']}/_foule/busy", timeout=10) as response:
        return json.load(response)["queries"]
