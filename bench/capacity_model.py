"""The path to 10,000 answers a second: a model of DynamoDB's partitions under Foule's work path.

No AWS is reachable, so this replays a load against a model built from published limits and
from what was measured on the local stack (bench/work_path_calls.py: calls per request and
item sizes). Pure Python, no AWS, no moto. Usage (from the repo root):

    .venv/bin/python -m bench.capacity_model [--seconds 20] [--tx-ms 15]

The model
- Workers (an event simulation): each asks /work/next, tries lease transactions on the tasks
  the design hands it, thinks (exponential, mean THINK_S), answers, asks again; a request that
  leases nothing waits retry_after_seconds (30 s, as the API says).
- A transaction holds its items for `tx-ms` (DynamoDB's two-phase commit; 10-30 ms is typical
  TransactWriteItems latency): another transaction touching one of them meanwhile is
  cancelled with TransactionConflict. A lease whose slot was taken since the page was read
  fails its condition. Cancelled transactions are charged (DynamoDB bills the attempt).
- Partitions: every read and write adds capacity units to its key (table or index, partition
  key value): 1 WCU per KB written (x2 in a transaction; each index with the item projected
  writes again), 0.5 RCU per 4 KB eventually consistent, 1 consistent. One key value is one
  partition here (3,000 RCU, 1,000 WCU a second): DynamoDB's split for heat can spread a
  key's items over partitions by sort key, but not in seconds, never one item, and never a
  range everyone reads first (the head of an index) -- so a key over the limit is a hot spot,
  one item over it (`item`) is a hard one.
- Designs: "before" (main: one live-index key, first 20 projects by priority, 10 tried; one
  open-task key per project, its first pages in creation order, every task of 3 pages of 50
  tried), "after" (this branch: live index over FOULE_LIVE_SHARDS, a random window of 16,
  3 projects tried; open tasks over up to 8 shards per project, a random sample of 10, 4
  tries), and "proposed" (after, plus what the model says is still hot and is not built
  here: the budget out of the project item into BUDGET_SHARDS allowances, counter shards
  raised to COUNTER_SHARDS_PROPOSED).
"""
import argparse
import heapq
import math
import random
from collections import defaultdict
from dataclasses import dataclass, replace

# Published limits (DynamoDB developer guide, "Service quotas" and "Partitions"; Lambda
# and API Gateway quotas pages), as of 2026-12.
PARTITION_RCU, PARTITION_WCU = 3000, 1000
LAMBDA_CONCURRENCY_DEFAULT = 1000  # per region, raisable
LAMBDA_SCALE_PER_10S = 1000  # new concurrent executions per function every 10 s
APIGW_RPS, APIGW_BURST = 10_000, 5_000  # per account and region, raisable
# us-east-1 list prices, read 2026-12-03 (on-demand DynamoDB, Lambda arm64, API Gateway REST).
PRICE = {"wru": 1.25e-6, "rru": 0.25e-6, "lambda_request": 0.20e-6, "lambda_gb_s_arm": 0.0000133334,
         "lambda_gb_s_x86": 0.0000166667, "apigw_request": 3.50e-6, "s3_put": 0.005 / 1000,
         "s3_get": 0.0004 / 1000}
# Item sizes in bytes, measured with bench/work_path_calls.py (2026-12-03); a task grows by
# about 150 bytes per slot held (expiry, lease id, worker).
SIZE = {"project": 830, "task": 498 + 2 * 150, "assignment": 368, "answered": 460, "worker": 180,
        "counter": 89, "api_key": 300}
LAMBDA_MB = {"api": 512, "aggregator": 2048}
LATENCY_MS = {"get": 4, "query": 6, "batch_get": 5, "overhead": 8}  # besides transactions
THINK_S = 10.0  # a worker's time on a task (10,000 workers give 1,000 answers a second)
RETRY_S = 30.0  # retry_after_seconds of no_task_available
BUDGET_SHARDS, COUNTER_SHARDS_PROPOSED = 256, 1024


def kb(nbytes: int) -> int:
    return max(1, math.ceil(nbytes / 1024))


def read_units(nbytes: int, consistent: bool = False) -> float:
    return max(1, math.ceil(nbytes / 4096)) * (1.0 if consistent else 0.5)


@dataclass(frozen=True)
class Design:
    name: str
    live_shards: int = 1
    window: int = 20
    projects_tried: int = 10
    open_shards_max: int = 1
    page: int = 50
    pages: int = 3
    lease_tries: int = 150  # every task of the pages read
    random_sample: bool = False
    budget_on_project: bool = True
    counter_shards: int = 8
    review_shards: int = 32
    answer_retries: int = 0  # server-side retries of an answer cancelled by TransactionConflict


BEFORE = Design("before")
AFTER = Design("after", live_shards=16, window=16, projects_tried=3, open_shards_max=8, page=10,
               pages=1, lease_tries=4, random_sample=True, counter_shards=256, answer_retries=3)
PROPOSED = replace(AFTER, name="proposed", budget_on_project=False, counter_shards=COUNTER_SHARDS_PROPOSED)


@dataclass
class Scenario:
    name: str
    projects: int
    tasks_per_project: int
    workers: int
    overlap: int = 3
    budgeted: bool = True


class Project:
    """A project's tasks: slots held (leases + answers), answers, and its open-task index:
    in creation order (`first`, before) or as a set to sample from (`open`, after)."""

    def __init__(self, pid: int, tasks: int, overlap: int, design: Design, rng: random.Random):
        self.pid, self.overlap = pid, overlap
        self.shards = min(design.open_shards_max, 1 + tasks // 200)
        self.held = [0] * tasks
        self.answers = [0] * tasks
        self.closed = bytearray(tasks)
        self.head = 0
        self.open = list(range(tasks))
        self.where = {t: i for i, t in enumerate(self.open)}
        self.shard_of = [rng.randrange(self.shards) for _ in range(tasks)]

    def first(self, n: int) -> list[int]:
        while self.head < len(self.closed) and self.closed[self.head]:
            self.head += 1
        found, i = [], self.head
        while len(found) < n and i < len(self.closed):
            if not self.closed[i]:
                found.append(i)
            i += 1
        return found

    def close(self, task: int) -> None:
        self.closed[task] = 1
        i = self.where.pop(task)
        last = self.open.pop()
        if last != task:
            self.open[i] = last
            self.where[last] = i


class Model:
    def __init__(self, scenario: Scenario, design: Design, tx_ms: float, seed: int = 1):
        self.s, self.d, self.tx = scenario, design, tx_ms / 1000
        self.rng = random.Random(seed)
        self.projects = [Project(p, scenario.tasks_per_project, scenario.overlap, design, self.rng)
                         for p in range(scenario.projects)]
        self.busy = {}  # item -> time its transaction ends
        self.rcu = defaultdict(float)
        self.wcu = defaultdict(float)
        self.item_wcu = defaultdict(float)
        self.items_of = defaultdict(set)  # key -> items written
        self.count = defaultdict(int)
        self.units = defaultdict(float)  # "rru"/"wru" billed, by operation
        self.events = []

    # --- the store -----------------------------------------------------------------------
    def read(self, op: str, key: str, units: float) -> None:
        self.rcu[key] += units
        self.units[(op, "rru")] += units

    def transaction(self, op: str, now: float, writes: list) -> str:
        """writes: (item, key, wcu, index keys). Returns ok, conflict."""
        conflict = any(self.busy.get(item, -1) > now for item, *_ in writes if item)
        for item, key, wcu, index_keys in writes:
            self.wcu[key] += 2 * wcu
            self.units[(op, "wru")] += 2 * wcu
            if item:
                self.item_wcu[item] += 2 * wcu
                self.items_of[key].add(item)
            for index_key in index_keys:  # each index with the item projected writes too
                self.wcu[index_key] += wcu
                self.units[(op, "wru")] += wcu
        self.count[op + " tx"] += 1
        if conflict:
            self.count[op + " conflict"] += 1
            return "conflict"
        for item, *_ in writes:
            if item:
                self.busy[item] = now + self.tx
        return "ok"

    def counter(self, p: int) -> tuple:
        shard = self.rng.randrange(self.d.counter_shards)
        return (f"counter {p}#{shard}", f"counters {p}", kb(SIZE["counter"]), [])

    def budget(self, p: int) -> list:
        if not self.s.budgeted:
            return []
        if self.d.budget_on_project:  # the project item, in the live and by_owner indexes
            live = f"live-index live#{p % self.d.live_shards}" if self.d.live_shards > 1 else "live-index live"
            return [(f"project {p}", f"projects {p}", kb(SIZE["project"]), [live, f"by_owner-index o{p}"])]
        shard = self.rng.randrange(BUDGET_SHARDS)  # proposed: allowances in their own items
        return [(f"budget {p}#{shard}", f"budget {p}", 1, [])]

    # --- the requests ----------------------------------------------------------------------
    def candidates(self, worker: int) -> list[int]:
        d, n = self.d, len(self.projects)
        if n == 1:
            return [0]
        if d.live_shards == 1:  # before: the first `window` by priority (all equal: oldest)
            self.read("next", "live-index live", read_units(d.window * SIZE["project"]))
            return list(range(min(d.window, n)))[:d.projects_tried]
        shard = self.rng.randrange(d.live_shards)
        self.read("next", f"live-index live#{shard}", read_units(d.window * SIZE["project"]))
        start = self.rng.randrange(n)
        window = [(start + i) % n for i in range(d.window)]
        self.rng.shuffle(window)
        return window[:d.projects_tried]

    def task_pages(self, project: Project) -> list[int]:
        d = self.d
        if not d.random_sample:
            found = []
            ahead = project.first(d.page * d.pages)
            for page in range(d.pages):
                self.read("next", f"open-index {project.pid}", read_units(d.page * SIZE["task"]))
                found += ahead[page * d.page:(page + 1) * d.page]
                if len(ahead) <= (page + 1) * d.page:
                    break
            chunks = [found[i:i + d.page] for i in range(0, len(found), d.page)]
            for chunk in chunks:
                self.rng.shuffle(chunk)
            return [t for chunk in chunks for t in chunk]
        shard = self.rng.randrange(project.shards)
        self.read("next", f"open-index {project.pid}#{shard}", read_units(d.page * SIZE["task"]))
        if not project.open:
            return []
        picks = [project.open[self.rng.randrange(len(project.open))] for _ in range(d.page)]
        return list(dict.fromkeys(picks))

    def ask(self, now: float, worker: int) -> None:
        self.count["next"] += 1
        self.read("next", "api_keys (spread)", read_units(SIZE["api_key"]))
        tried, at = 0, now + (LATENCY_MS["get"] * 2 + LATENCY_MS["batch_get"] + LATENCY_MS["query"] * 2) / 1000
        for p in self.candidates(worker):
            project = self.projects[p]
            self.read("next", f"projects {p}", read_units(SIZE["project"]))
            self.read("next", "workers (spread)", read_units(SIZE["worker"], consistent=True))
            for task in self.task_pages(project)[:self.d.lease_tries]:
                if project.held[task] >= project.overlap:
                    continue  # the worker sees the full slots in what it read: no transaction
                tried += 1
                at += self.tx
                writes = [(f"task {p}/{task}", f"tasks {p}", kb(SIZE["task"]),
                           [f"open-index {p}" + (f"#{project.shard_of[task]}" if self.d.random_sample else "")]),
                          (None, "assignments (spread)", kb(SIZE["assignment"]), ["by_worker-index (spread)"]),
                          (None, "workers (spread)", kb(SIZE["worker"]), []),
                          self.counter(p), *self.budget(p)]
                if self.transaction("lease", at, writes) == "ok":
                    project.held[task] += 1
                    self.count["leased"] += 1
                    heapq.heappush(self.events, (at + self.rng.expovariate(1 / THINK_S), "answer", worker, p, task, 0))
                    return
        self.count["no task"] += 1
        heapq.heappush(self.events, (now + RETRY_S * (0.5 + self.rng.random()), "ask", worker, 0, 0, 0))

    def answer(self, now: float, worker: int, p: int, task: int, attempt: int) -> None:
        project = self.projects[p]
        self.count["answer" if attempt == 0 else "answer retry"] += 1
        self.read("answer", "api_keys (spread)", read_units(SIZE["api_key"]))
        self.read("answer", "assignments (spread)", read_units(SIZE["assignment"], consistent=True))
        shard = f"#{project.shard_of[task]}" if self.d.random_sample else ""
        writes = [(f"task {p}/{task}", f"tasks {p}", kb(SIZE["task"]), [f"open-index {p}{shard}"]),
                  (None, "assignments (spread)", kb(SIZE["answered"]),
                   [f"answers-index {p}#{task % 8}", f"review-index r{self.rng.randrange(self.d.review_shards)}",
                    "by_worker-index (spread)"]),
                  (None, "workers (spread)", kb(SIZE["worker"]), []), (None, "workers (spread)", kb(SIZE["worker"]), []),
                  self.counter(p)]
        at = now + self.tx
        if self.transaction("answer", at, writes) != "ok":
            if attempt < self.d.answer_retries:  # written again after a short random wait
                wait = self.rng.uniform(0.005, 0.02) * 2 ** attempt
                heapq.heappush(self.events, (at + wait, "answer", worker, p, task, attempt + 1))
            else:  # a 500: the worker's app sends it again a second later
                self.count["answer 500"] += 1
                heapq.heappush(self.events, (at + 1.0, "answer", worker, p, task, 0))
            return
        self.count["answered"] += 1
        project.answers[task] += 1
        self.read("answer", f"tasks {p}", read_units(SIZE["task"], consistent=True))
        if project.answers[task] >= project.overlap and not project.closed[task]:
            if self.transaction("complete", at + self.tx, [(f"task {p}/{task}", f"tasks {p}", kb(SIZE["task"]),
                                                            [f"open-index {p}{shard}"]), self.counter(p)]) == "ok":
                project.close(task)
        heapq.heappush(self.events, (at + 0.05, "ask", worker, 0, 0, 0))

    def run(self, seconds: float, warmup: float) -> dict:
        for worker in range(self.s.workers):  # arrive over the first 10 s
            heapq.heappush(self.events, (self.rng.random() * 10, "ask", worker, 0, 0, 0))
        end, measured = warmup + seconds, False
        while self.events:
            now, kind, worker, p, task, attempt = heapq.heappop(self.events)
            if now > end:
                break
            if not measured and now >= warmup:
                measured = True
                for figures in (self.rcu, self.wcu, self.item_wcu, self.items_of, self.count, self.units):
                    figures.clear()
            if kind == "ask":
                self.ask(now, worker)
            else:
                self.answer(now, worker, p, task, attempt)
        return self.report(seconds)

    def report(self, seconds: float) -> dict:
        c = self.count
        hot = []
        for key in set(self.rcu) | set(self.wcu):
            if "(spread)" in key:
                continue
            r, w = self.rcu[key] / seconds, self.wcu[key] / seconds
            load = max(r / PARTITION_RCU, w / PARTITION_WCU)
            items = self.items_of.get(key, ())
            top = max((self.item_wcu[i] for i in items), default=0) / seconds
            hot.append((load, key, r, w, len(items), top))
        hot.sort(reverse=True)
        items = sorted(((w / seconds, item) for item, w in self.item_wcu.items()), reverse=True)[:1]
        tx = c["lease tx"] + c["answer tx"] + c["complete tx"]
        conflicts = c["lease conflict"] + c["answer conflict"] + c["complete conflict"]
        return {"answers_per_s": c["answered"] / seconds, "next_per_s": c["next"] / seconds,
                "no_task_share": c["no task"] / max(1, c["next"]),
                "lease_tx_per_next": c["lease tx"] / max(1, c["next"]),
                "lease_conflict_rate": c["lease conflict"] / max(1, c["lease tx"]),
                "answer_conflict_rate": c["answer conflict"] / max(1, c["answer tx"]),
                "answer_500_share": c["answer 500"] / max(1, c["answer"]),
                "conflict_rate": conflicts / max(1, tx), "hot": hot[:6], "hottest_item": items,
                "units": dict(self.units), "count": dict(c), "seconds": seconds}


# --- cost -------------------------------------------------------------------------------------
def request_cost(calls: dict, tx_ms: float, invocations: float = 1.0) -> dict:
    """Lambda and API Gateway for one request making these calls (latency model above)."""
    ms = LATENCY_MS["overhead"] + sum(LATENCY_MS.get(op, 0) * n for op, n in calls.items()) + \
        tx_ms * calls.get("tx", 0)
    gb_s = LAMBDA_MB["api"] / 1024 * ms / 1000
    return {"ms": ms, "usd": invocations * (PRICE["lambda_request"] + PRICE["apigw_request"]
                                            + gb_s * PRICE["lambda_gb_s_arm"])}


def cost_per_1000_answers(result: dict, tx_ms: float) -> dict:
    """Dollars per 1,000 accepted answers: DynamoDB units billed in the run (cancelled
    transactions included), Lambda and API Gateway per request."""
    answers = max(1, result["count"].get("answered", 0))
    per = 1000 / answers
    dynamo = {}
    for (op, kind), units in result["units"].items():
        dynamo[op] = dynamo.get(op, 0) + units * PRICE[kind] * per
    c = result["count"]
    next_calls = {"get": 2, "batch_get": 1, "query": 2, "tx": c.get("lease tx", 0) / max(1, c.get("next", 1))}
    answer_calls = {"get": 3, "tx": 1 + 1 / 3}
    requests = {"next": (c.get("next", 0) * per, request_cost(next_calls, tx_ms)),
                "answer": (c.get("answer", 0) * per, request_cost(answer_calls, tx_ms))}
    compute = {op: n * one["usd"] for op, (n, one) in requests.items()}
    return {"dynamodb": dynamo, "lambda+apigw": compute,
            "total": sum(dynamo.values()) + sum(compute.values()),
            "ms": {op: one["ms"] for op, (_, one) in requests.items()}}


def published_run_cost(answers: int, tasks: int) -> dict:
    """One aggregator run of a project: read every answer (the answers index, eventually
    consistent), write a result per task, put 6 files and the manifest in S3, 2 GB Lambda
    (10 s + 0.15 ms per answer: ~85 s of CPU per 1M answers measured, plus reading)."""
    rru = answers * read_units(SIZE["answered"] * 8) / 8  # ~8 answers per 4 KB
    wru = tasks * 1
    seconds = 10 + answers * 0.00015
    usd = {"dynamodb read": rru * PRICE["rru"], "dynamodb write": wru * PRICE["wru"],
           "s3 put": 7 * PRICE["s3_put"],
           "lambda": PRICE["lambda_request"] + LAMBDA_MB["aggregator"] / 1024 * seconds * PRICE["lambda_gb_s_arm"]}
    return {"usd": usd, "total": sum(usd.values()), "seconds": seconds}


# Per operation, without conflicts: (RRU, WRU, Lambda+API Gateway requests, S3 PUTs) from the
# calls counted by bench/work_path_calls.py and the store's billing rules (a transaction's
# write costs 2 WRU per KB, each index with the item projected 1 more; an eventually
# consistent read 0.5 RRU per 4 KB, a consistent one 1).
OPERATIONS = {
    # key 0.5 + project 0.5 + worker's record 1 + open-task sample (10 tasks, 8 KB) 1
    # + lease: task 2 (+1 open index), assignment 2 (+1 by_worker), counter 2, worker 2
    "POST /work/next (a project, no budget)": (3.0, 12, 1, 0),
    "  + the budget on the project item (+ live and by_owner indexes)": (0, 4, 0, 0),
    "POST /work/next (no project): + live window of 16 projects (14 KB)": (2.0, 0, 0, 0),
    # key 0.5 + assignment 1 + task re-read 1; answer: task 2 (+1), assignment 2 (+ answers,
    # review, by_worker indexes 3), counter 2, two worker records 4; completion 1 in 3: (task 2
    # + open index delete 1 + counter 2) / 3
    "POST /leases/{id}/answer": (2.5, 16 + 5 / 3, 1, 0),
    # approve: ledger entry 2 (+ by_worker, by_project indexes 2), worker records 4,
    # assignment 2 (+ review index delete, answers, by_worker 3), counter 2; bulk: 1 request / 100
    "approve (review, in bulks of 100)": (1.0, 17, 0.01, 0),
}


def operation_costs() -> list[tuple[str, float, float]]:
    """(operation, $ per 1,000, of which DynamoDB)."""
    rows = []
    for name, (rru, wru, requests, puts) in OPERATIONS.items():
        dynamo = rru * PRICE["rru"] + wru * PRICE["wru"]
        compute = requests * request_cost({"get": 3, "query": 2, "tx": 1}, 15)["usd"] if requests else 0
        rows.append((name, 1000 * (dynamo + compute + puts * PRICE["s3_put"]), 1000 * dynamo))
    return rows


# --- the report -------------------------------------------------------------------------------
SCENARIOS = {"popular": Scenario("one popular project with a budget: 10,000 workers, 100,000 tasks x 3",
                                  1, 100_000, 10_000),
             "popular-unbudgeted": Scenario("one popular project without a budget: 10,000 workers, "
                                             "100,000 tasks x 3", 1, 100_000, 10_000, budgeted=False),
             "many": Scenario("10,000 projects with budgets at once: 100,000 workers, 100 tasks x 3 each",
                              10_000, 100, 100_000)}


def verdict(load: float, items: int, top_item_wcu: float) -> str:
    """ok: within one partition. split: over one, but its writes are spread over many items,
    none near an item's limit, so DynamoDB's split for heat can spread it (within minutes).
    HOT: over one partition and concentrated (one item, a few, or an index head)."""
    if load <= 1:
        return "ok"
    if top_item_wcu > 0.5 * PARTITION_WCU:
        return "HOT (one item)"
    return "split" if items >= 20 * math.ceil(load) else "HOT"


def fmt_hot(hot) -> str:
    rows = []
    for load, key, r, w, items, top in hot[:5]:
        rows.append(f"    {key:<22} {r:>7.0f} RCU/s {w:>7.0f} WCU/s {load:>6.2f}x a partition, "
                    f"{items:>6} items written, top item {top:>5.0f} WCU/s: {verdict(load, items, top)}")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds after a 15 s warm-up")
    parser.add_argument("--tx-ms", type=float, default=15.0, help="how long a transaction holds its items")
    parser.add_argument("--only", choices=list(SCENARIOS), action="append")
    parser.add_argument("--costs", action="store_true", help="only the cost per operation (no simulation)")
    parser.add_argument("--scale", type=int, default=1,
                        help="divide projects and workers by this (keys shared by all projects then carry "
                             "1/scale of their full-scale load)")
    args = parser.parse_args()
    for name, scenario in SCENARIOS.items():
        if args.costs or (args.only and name not in args.only):
            continue
        if args.scale > 1:
            scenario = replace(scenario, name=f"{scenario.name} -- at 1/{args.scale} scale: "
                               f"{scenario.projects // args.scale or 1} projects, {scenario.workers // args.scale} workers",
                               projects=max(1, scenario.projects // args.scale), workers=scenario.workers // args.scale)
        print(f"\n## {scenario.name}; transaction window {args.tx_ms:g} ms, {args.seconds:g} s measured")
        for design in (BEFORE, AFTER, PROPOSED):
            result = Model(scenario, design, args.tx_ms).run(args.seconds, warmup=15.0)
            cost = cost_per_1000_answers(result, args.tx_ms)
            item_wcu, item = (result["hottest_item"] or [(0, "-")])[0]
            print(f"\n{design.name}: {result['answers_per_s']:.0f} answers/s, {result['next_per_s']:.0f} /work/next/s "
                  f"({result['no_task_share']:.0%} no task), lease transactions per /work/next "
                  f"{result['lease_tx_per_next']:.2f}, TransactionConflict: leases {result['lease_conflict_rate']:.1%}, "
                  f"answers {result['answer_conflict_rate']:.1%}, all {result['conflict_rate']:.1%}; "
                  f"answers that got a 500: {result['answer_500_share']:.1%}")
            print(f"  hottest item: {item} {item_wcu:.0f} WCU/s ({item_wcu / PARTITION_WCU:.2f}x an item's limit)")
            print("  hottest keys (one partition each):")
            print(fmt_hot(result["hot"]))
            dynamo = ", ".join(f"{op} ${usd:.4f}" for op, usd in sorted(cost["dynamodb"].items()))
            compute = ", ".join(f"{op} ${usd:.4f}" for op, usd in cost["lambda+apigw"].items())
            print(f"  $ per 1,000 answers: {cost['total']:.4f} (DynamoDB: {dynamo}; Lambda+API Gateway: {compute}; "
                  f"request time next {cost['ms']['next']:.0f} ms, answer {cost['ms']['answer']:.0f} ms)")
            rate = result["next_per_s"] + result["count"].get("answer", 0) / args.seconds  # re-sent ones too
            print(f"  API requests {rate:.0f}/s: Lambda concurrency ~{rate * cost['ms']['next'] / 1000:.0f} "
                  f"(default limit {LAMBDA_CONCURRENCY_DEFAULT}), API Gateway {rate / APIGW_RPS:.2f}x its {APIGW_RPS:,} rps")
    print("\n## per operation, no conflicts ($ per 1,000 operations; of which DynamoDB)")
    for name, usd, dynamo in operation_costs():
        print(f"  {name:<70} ${usd:.4f}  (${dynamo:.4f})")
    run = published_run_cost(answers=300_000, tasks=100_000)
    print(f"\npublished run of a 100,000-task project (300,000 answers): ${run['total']:.4f} "
          f"({', '.join(f'{k} ${v:.4f}' for k, v in run['usd'].items())}; ~{run['seconds']:.0f} s of a 2 GB Lambda)")


if __name__ == "__main__":
    main()
