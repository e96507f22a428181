"""Time and peak memory of one aggregation run of a large project, reading from moto server.

    .venv/bin/python bench/aggregator_scale.py --answers 100000 [--per-task 5] [--workers 500] [--read-step]
    .venv/bin/python bench/aggregator_scale.py --answers 1000000 --workers 2000 --index-by-partition
    .venv/bin/python bench/aggregator_scale.py --answers 1000000 --workers 2000 --in-memory [--code DIR]

Against moto (the default): moto's ThreadedMotoServer runs inside this process with
infra/template.yaml deployed into it, and the synthetic project (tasks, and answers with
their answer-index shard, as the answer path writes them; 10% gold) is put straight into
moto's DynamoDB backend, in memory: no HTTP for loading, which made 1M answers impractical
(> 15 min estimated through HTTP). The aggregator then runs `aggregator.aggregate_project` in
a fresh child process, over real HTTP to that server: claim, read every answer through the
sharded answers index, aggregate, write the per-task and per-worker results, publish the
files, manifest, latest.json and event. Reported: wall time of the run (and, with
--read-step, of reading the answers alone first), the child's peak RSS, and its RSS after
imports (so the run's own share is the difference). `--index-by-partition` makes moto read a
queried index partition only, as DynamoDB does (see index_by_partition): without it moto
sorts and walks the whole table for every page, which makes 1M answers take hours.

`--in-memory` runs the same `_run` without moto: the pynamodb queries answer synthetic items
generated shard by shard, DynamoDB writes are no-ops and the files are rendered but not
uploaded (their sha256 is reported, to compare checkouts): the CPU time and memory of our
code alone. `--code DIR` runs that child against another checkout (e.g. a `git worktree` of
an older commit), for a baseline measured in the same session on the same data.
"""
import argparse
import json
import logging
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
ACCOUNT, REGION = "123456789012", "us-east-1"
LABELS = ["a", "b", "c"]

# Peak RSS is the kernel's high-water mark of the child's own memory (VmHWM, reset by exec),
# not ru_maxrss, which a child started from this process inherits from it (with moto's items
# loaded, hundreds of MiB).
PEAK_RSS = r"""
def peak_rss_mib():
    with open("/proc/self/status") as status:
        kib = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    return round(kib / 1024, 1)
"""

CHILD = PEAK_RSS + r"""
import json, sys, time
from chalicelib.models import Project
from chalicelib.services import aggregator
rss_imports = peak_rss_mib()
project_id = sys.argv[1]
read_s = None
if "--read-step" in sys.argv:
    start = time.perf_counter()
    columns = aggregator.load_answers(project_id, ["a", "b", "c"])
    read_s = time.perf_counter() - start
    del columns
start = time.perf_counter()
summary = aggregator.aggregate_project(Project.get(project_id, consistent_read=True))
run_s = time.perf_counter() - start
print(json.dumps({"summary": summary, "read_s": read_s and round(read_s, 2), "run_s": round(run_s, 2),
                  "rss_after_imports_mib": rss_imports, "peak_rss_mib": peak_rss_mib()}))
"""


# --in-memory: the run with the store replaced by synthetic items, generated one shard at a
# time as the queries page through them (so the generator holds no answers itself), and with
# no-op writes. Works with the code before and after the switch to numpy columns: both read
# through Assignment.answers_by_project.query and Task.query.
IN_MEMORY_CHILD = PEAK_RSS + r"""
import dataclasses, hashlib, json, random, sys, time, zlib
from types import SimpleNamespace
from chalicelib.services import aggregator, publishing
n_answers, per_task, n_workers, shards = map(int, sys.argv[1:5])
rss_imports = peak_rss_mib()
labels = ["a", "b", "c"]
n_tasks = n_answers // per_task
skill = [random.Random(w).uniform(0.55, 0.95) for w in range(n_workers)]

def task_answers(i):
    rng = random.Random(i)
    truth = rng.choice(labels)
    for w in rng.sample(range(n_workers), per_task):
        yield w, truth if rng.random() < skill[w] else rng.choice(labels), rng.randrange(500, 20000)

def shard_of(task_id):
    return zlib.crc32(task_id.encode()) % shards

def answers_query(partition, attributes_to_get=None):
    shard = int(partition.rsplit("#", 1)[1])
    for i in range(n_tasks):
        task_id = f"t{i:07d}"
        if shard_of(task_id) == shard:
            for w, label, spent in task_answers(i):
                yield SimpleNamespace(task_id=task_id, worker_id=f"w{w:05d}", answer=label,
                                      submitted_at=1_700_000_000_000 + i, time_spent_ms=spent)

def tasks_query(project_id, attributes_to_get=None):
    for i in range(n_tasks):
        gold = random.Random(i).choice(labels) if i % 10 == 0 else None
        yield SimpleNamespace(task_id=f"t{i:07d}", payload={"i": i}, known_answer=gold)

aggregator.settings = dataclasses.replace(aggregator.settings, counter_shards=shards)
aggregator.Assignment = SimpleNamespace(answers_by_project=SimpleNamespace(query=answers_query))
aggregator.Task = SimpleNamespace(query=tasks_query)
aggregator.store_results = aggregator.mark_run = lambda *a, **k: None
if hasattr(aggregator, "quality"):  # worker records: the store is not there
    aggregator.quality = SimpleNamespace(without_excluded=lambda project, answers: (answers, {}),
                                         after_run=lambda *a, **k: None)
if hasattr(aggregator, "webhooks"):
    aggregator.webhooks = SimpleNamespace(record_publication=lambda *a: None, first_attempt=lambda d: None)
sizes = {}

def publish(project_id, run_id, files, manifest):
    for name, data in files.items():
        digest = hashlib.sha256()
        for chunk in [data] if isinstance(data, bytes) else data:
            digest.update(chunk)
        sizes[name] = digest.hexdigest()[:16]
    return {**manifest, "project_id": project_id, "run_id": run_id}

publishing.publish_run = publish
project = SimpleNamespace(project_id="p-mem", answer_type={"labels": labels}, aggregation_method=None,
                          aggregation_include_rejected=None)
start = time.perf_counter()
summary = aggregator._run(project, "run", 0)
run_s = time.perf_counter() - start
print(json.dumps({"summary": summary, "run_s": round(run_s, 2), "file_sha256": sizes,
                  "rss_after_imports_mib": rss_imports, "peak_rss_mib": peak_rss_mib()}))
"""


def load_into_backend(project_id: str, n_answers: int, per_task: int, n_workers: int, seed: int,
                      tables: dict, shards: int, index: bool) -> float:
    """Put the project's items straight into moto's in-process DynamoDB backend (the same
    items, in DynamoDB's JSON, that the API would have written)."""
    from moto.dynamodb.models import dynamodb_backends

    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    backend = dynamodb_backends[ACCOUNT][REGION]
    projects, tasks, answers = (backend.get_table(tables[name]) for name in ("projects", "tasks", "assignments"))

    def put(table, hash_attr: str, range_attr: str, attrs: dict) -> None:
        """Table.put_item without its condition and type checks (~1.5 ms an item here): the
        items are well-formed by construction."""
        hash_value, range_value = DynamoType(attrs[hash_attr]), DynamoType(attrs[range_attr])
        table.items[hash_value][range_value] = Item(hash_value, range_value, attrs)

    rng = random.Random(seed)
    n_tasks = n_answers // per_task
    now = int(time.time() * 1000)
    start = time.perf_counter()

    def s(value):
        return {"S": value}

    def n(value):
        return {"N": str(value)}

    projects.put_item({"project_id": s(project_id), "owner_id": s("bench"), "title": s("scale"),
                       "answer_type": s(json.dumps({"kind": "single_choice", "labels": LABELS})),
                       "overlap": n(per_task), "reward_cents": n(0), "lease_seconds": n(600), "priority": n(0),
                       "status": s("active"), "created_at": n(now), "updated_at": n(now), "last_run_answers": n(0)})
    skill = [rng.uniform(0.55, 0.95) for _ in range(n_workers)]
    for i in range(n_tasks):
        task_id = f"t{i:07d}"
        truth = rng.choice(LABELS)
        item = {"project_id": s(project_id), "task_id": s(task_id), "payload": s(json.dumps({"i": i})),
                "created_at": n(now), "answer_count": n(per_task)}
        if i % 10 == 0:
            item["known_answer"] = s(json.dumps(truth))
        put(tasks, "project_id", "task_id", item)
        shard = s(f"{project_id}#{zlib.crc32(task_id.encode()) % shards}")
        for w in rng.sample(range(n_workers), per_task):
            label = truth if rng.random() < skill[w] else rng.choice(LABELS)
            put(answers, "task_key", "worker_id", {"task_key": s(f"{project_id}/{task_id}"), "worker_id": s(f"w{w:05d}"),
                              "project_id": s(project_id), "task_id": s(task_id), "lease_id": s(f"l{i}-{w}"),
                              "slot": s("0"), "state": s("submitted"), "leased_at": n(now), "expires_at": n(now),
                              "answer": s(json.dumps(label)), "submitted_at": n(now + i),
                              "time_spent_ms": n(rng.randrange(500, 20000)), "reward_cents": n(0),
                              "answer_shard": shard})
    if index:
        index_by_partition(answers, "answers_by_project", "answer_shard")
    return time.perf_counter() - start


def index_by_partition(table, index_name: str, attribute: str) -> None:
    """Make this process's moto answer a query on `index_name` of `table` from the items of the
    queried partition only, as DynamoDB does. moto 5.2.5 answers each page of such a query by
    sorting the whole table (Table.all_items) and walking all of it: at 1M answers every page
    costs seconds, and the run hours. Its sorting of the partition, paging, 1 MB page limit and
    serialization are kept. Built once after loading (the run writes no answers)."""
    from moto.dynamodb.models.table import Table

    partitions: dict = {}
    for by_range in table.items.values():
        for item in by_range.values():
            value = item.attrs.get(attribute)
            if value is not None:
                partitions.setdefault(value.value, []).append(item)
    current = threading.local()
    query, all_items = Table.query, Table.all_items

    def partition_query(self, *args, **kwargs):
        conditions = dict(kwargs.get("hash_key_conditions") or [])
        if self is table and args[7:8] == (index_name,) and attribute in conditions:
            current.items = partitions.get(conditions[attribute].value, [])
            try:
                return query(self, *args, **kwargs)
            finally:
                current.items = None
        return query(self, *args, **kwargs)

    def partition_items(self):
        items = getattr(current, "items", None)
        return items if self is table and items is not None else all_items(self)

    Table.query, Table.all_items = partition_query, partition_items


def run_in_memory(args) -> int:
    code = Path(args.code).resolve() if args.code else ROOT
    child = subprocess.run([sys.executable, "-c", IN_MEMORY_CHILD, str(args.answers), str(args.per_task),
                            str(args.workers), "8"], cwd=code, capture_output=True, text=True,
                           env={**os.environ, "PYTHONPATH": str(code)})
    if child.returncode:
        print(child.stderr[-3000:], file=sys.stderr)
        return 1
    report = json.loads(child.stdout.strip().splitlines()[-1])
    report.update(answers=args.answers, workers=args.workers, mode="in-memory", code=str(code),
                  machine_cpus=os.cpu_count())
    print(json.dumps(report))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--answers", type=int, default=100_000)
    parser.add_argument("--per-task", type=int, default=5)
    parser.add_argument("--workers", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--read-step", action="store_true", help="also time reading the answers alone, first")
    parser.add_argument("--index-by-partition", action="store_true",
                        help="moto reads an index query's partition only, as DynamoDB does (see index_by_partition)")
    parser.add_argument("--in-memory", action="store_true", help="no moto: synthetic items, no-op writes")
    parser.add_argument("--code", help="with --in-memory: the checkout whose aggregator runs (default: this one)")
    args = parser.parse_args()
    if args.in_memory:
        return run_in_memory(args)

    from moto.server import ThreadedMotoServer

    from tools import local_stack

    for name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL")]:
        del os.environ[name]
    port = local_stack.free_port()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    # A page of a GSI query is slow in moto (it walks the whole table each time): a longer
    # client read timeout than pynamodb's 30 s, and no retries that would only add load.
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as config:
        config.write("read_timeout_seconds = 3600\nmax_retry_attempts = 0\n")
    try:
        env = local_stack.deploy_stack(f"http://127.0.0.1:{port}")
        os.environ.update(env)
        tables = {name: env[f"FOULE_TABLE_{name.upper()}"] for name in ("projects", "tasks", "assignments")}
        shards = int(os.environ.get("FOULE_COUNTER_SHARDS", "8"))
        project_id = f"p-bench{args.answers}"
        load_s = load_into_backend(project_id, args.answers, args.per_task, args.workers, args.seed, tables, shards,
                                   args.index_by_partition)
        child = subprocess.run([sys.executable, "-c", CHILD, project_id, *(["--read-step"] if args.read_step else [])],
                               cwd=ROOT, env={**os.environ, "PYNAMODB_CONFIG": config.name},
                               capture_output=True, text=True)
        if child.returncode:
            print(f"loaded {args.answers} answers in {load_s:.0f} s; the run failed:\n{child.stderr[-3000:]}",
                  file=sys.stderr)
            return 1
        report = json.loads(child.stdout.strip().splitlines()[-1])
        report.update(answers=args.answers, tasks=args.answers // args.per_task, workers=args.workers,
                      load_s=round(load_s, 1), moto="ThreadedMotoServer in-process, items put into its backend",
                      index_by_partition=args.index_by_partition,
                      machine_cpus=os.cpu_count())
        print(json.dumps(report))
    finally:
        server.stop()
        os.unlink(config.name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
