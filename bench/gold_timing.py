"""Can a worker time gold? Latency and store calls of each step of a lease, gold against real.

Runs the API in-process (chalice.test.Client) against a fresh moto server with the stack
deployed (as the tests do). Workers take turns on one project with as many gold as real tasks
(gold_rate 0.5), and on every task served run the same steps: lease (/work/next), ask again by
id, extend, give back, lease again by id, answer, answer again (a retry), lease the answered
task. For each step it prints, gold and real apart, the median latency, the ratio of the two,
the DynamoDB requests botocore sent (by operation) and the bytes of the items they returned
(DynamoDB's item sizes, work_path_calls.item_bytes) and of the writes they sent, which are the
noise-free part: the same calls of the same kinds reading and writing as many bytes mean no
store path that shows up as latency; and the ratio of the API's own CPU time (the calling
thread's: serialising and parsing what the store sends, not moto's work nor waiting), which
the neighbours' load disturbs less than wall time. Then the sizes of the gold and real task and assignment
items as stored at the end. Usage, from the repo root:

    .venv/bin/python -m bench.gold_timing [--leases 120]
"""
import argparse
import collections
import json
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path.cwd()  # the checkout measured: run from its root
sys.path.insert(0, str(ROOT))

from bench.work_path_calls import CALLS, count_calls, in_process_api, item_bytes  # noqa: E402

STEPS = ("next", "ask_again", "extend", "release", "lease_again", "answer", "answer_retry", "lease_answered")


BYTES = {"read": 0, "sent": 0}  # of the current API request: items returned, write requests sent
WRITES = ("TransactWriteItems", "UpdateItem", "PutItem", "DeleteItem", "BatchWriteItem")


def returned_items(response: dict) -> list[dict]:
    """The items a DynamoDB response carries, whatever the operation."""
    if "Item" in response:
        return [response["Item"]]
    if isinstance(response.get("Responses"), list):  # TransactGetItems
        return [r["Item"] for r in response["Responses"] if "Item" in r]
    if isinstance(response.get("Responses"), dict):  # BatchGetItem
        return [item for items in response["Responses"].values() for item in items]
    return response.get("Items", [])


def count_bytes():
    import botocore.client

    original = botocore.client.BaseClient._make_api_call

    def counted(self, operation, params):
        response = original(self, operation, params)
        if self.meta.service_model.service_name == "dynamodb":
            BYTES["read"] += sum(item_bytes(item) for item in returned_items(response))
            if operation in WRITES:
                BYTES["sent"] += len(json.dumps(params, default=str))
        return response

    botocore.client.BaseClient._make_api_call = counted


def stored_sizes(project_id: str, gold: set) -> dict:
    """(table, kind) -> sizes of the project's task and assignment items as stored now."""
    import boto3

    from chalicelib.settings import settings

    client, sizes = boto3.client("dynamodb"), collections.defaultdict(list)
    for table, key in (("tasks", "task_id"), ("assignments", "task_id")):
        pages = client.get_paginator("scan").paginate(TableName=settings.table(table))
        for item in (i for page in pages for i in page["Items"]):
            if item.get("project_id", {}).get("S") == project_id:
                sizes[table, "gold" if item[key]["S"] in gold else "real"].append(item_bytes(item))
    return sizes


def run(leases: int) -> dict:
    times = collections.defaultdict(list)  # (step, kind) -> ms
    calls = collections.defaultdict(collections.Counter)  # (step, kind) -> Counter of call lists
    read, sent = collections.defaultdict(list), collections.defaultdict(list)  # (step, kind) -> bytes
    cpu = collections.defaultdict(list)  # (step, kind) -> the API's own CPU ms (not moto's)
    count_calls()
    count_bytes()
    with in_process_api() as api_call:
        from chalicelib import auth

        requester, _ = auth.create_key("requester", None)

        def call(key, method, path, body=None):
            CALLS.clear()
            BYTES.update(read=0, sent=0)
            started, cpu = time.perf_counter(), time.thread_time()
            status, data = api_call(method, path, key, body)
            ms, cpu_ms = (time.perf_counter() - started) * 1000, (time.thread_time() - cpu) * 1000
            return (ms, (tuple(sorted(CALLS.elements())), BYTES["read"], BYTES["sent"], cpu_ms)), data

        project = call(requester, "POST", "/projects", {
            "title": "timing", "answer_type": {"kind": "single_choice", "labels": ["a", "b"]}, "overlap": 8,
            "gold_rate": 0.5, "max_lease_extension_seconds": 60})[1]
        pid = project["project_id"]
        tasks = [{"task_id": uuid.uuid4().hex[:12], "payload": {"n": i}} for i in range(40)]
        gold = {t["task_id"] for t in tasks[::2]}
        for t in tasks[::2]:
            t["known_answer"] = "a"
        call(requester, "POST", f"/projects/{pid}/tasks", {"tasks": tasks})
        worker, served = None, 0
        for _ in range(leases):
            if worker is None or served >= 16:
                worker, served = auth.create_key("worker", None)[0], 0
                call(worker, "GET", "/me")  # warm the key cache
            served += 1
            measured, lease = call(worker, "POST", "/work/next", {"project_id": pid})
            kind = "gold" if lease["task_id"] in gold else "real"
            by_id = f"/projects/{pid}/tasks/{lease['task_id']}/lease"
            steps = [measured]
            steps.append(call(worker, "POST", by_id)[0])
            steps.append(call(worker, "POST", f"/leases/{lease['lease_id']}/extend", {"seconds": 30})[0])
            steps.append(call(worker, "POST", f"/leases/{lease['lease_id']}/release")[0])
            measured, again = call(worker, "POST", by_id)
            steps.append(measured)
            steps.append(call(worker, "POST", f"/leases/{again['lease_id']}/answer", {"answer": "a"})[0])
            steps.append(call(worker, "POST", f"/leases/{again['lease_id']}/answer", {"answer": "a"})[0])
            steps.append(call(worker, "POST", by_id)[0])
            for step, (ms, (ops, bytes_read, bytes_sent, cpu_ms)) in zip(STEPS, steps):
                times[step, kind].append(ms)
                cpu[step, kind].append(cpu_ms)
                calls[step, kind][ops] += 1
                read[step, kind].append(bytes_read)
                sent[step, kind].append(bytes_sent)
        sizes = stored_sizes(pid, gold)
    return {"times": times, "calls": calls, "read": read, "sent": sent, "sizes": sizes, "cpu": cpu}


def report(results: dict) -> None:
    times, calls, read, sent = results["times"], results["calls"], results["read"], results["sent"]
    cpu = results["cpu"]
    print(f"{'step':<15}{'gold p50 ms':>12}{'real p50 ms':>12}{'gold/real':>10}{'API CPU g/r':>12}"
          f"{'read B g|r (p50)':>20}{'sent B g|r (p50)':>18}  store calls (gold | real)")
    for step in STEPS:
        gold, real = statistics.median(times[step, "gold"]), statistics.median(times[step, "real"])
        common = lambda counter: dict(collections.Counter(counter.most_common(1)[0][0]))  # noqa: E731
        p50 = lambda values: int(statistics.median(values))  # noqa: E731
        cpu_ratio = statistics.median(cpu[step, "gold"]) / statistics.median(cpu[step, "real"])
        print(f"{step:<15}{gold:>12.1f}{real:>12.1f}{gold / real:>10.2f}{cpu_ratio:>12.2f}"
              f"{p50(read[step, 'gold']):>10}|{p50(read[step, 'real']):<9}"
              f"{p50(sent[step, 'gold']):>8}|{p50(sent[step, 'real']):<9}"
              f"  {common(calls[step, 'gold'])} | {common(calls[step, 'real'])}")
    print(f"(n = {len(times['next', 'gold'])} gold, {len(times['next', 'real'])} real leases)")
    for (table, kind), sizes in sorted(results["sizes"].items()):
        print(f"stored {table:<12} {kind}: {len(sizes)} items, bytes p50 {int(statistics.median(sizes))}, "
              f"min {min(sizes)}, max {max(sizes)}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leases", type=int, default=120)
    report(run(parser.parse_args().leases))


if __name__ == "__main__":
    main()
