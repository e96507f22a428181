"""Load over real HTTP on 127.0.0.1: many workers at once, then every invariant checked.

    .venv/bin/python -m bench.load                       # the long form (a few minutes)
    .venv/bin/python -m bench.load --write-results       # ... and its tables into bench/RESULTS.md

Starts its own moto server (tools/moto_server.py, the infra template deployed) and
`chalice local` (tools/chalice_local.py) with the store meter on, then runs three phases:
- one project, many workers (`--workers`) answering until every task has its overlap;
- many projects, the same workers spread over them;
- the cost of one answer against project size: the same number of answers in a project of
  `--small-tasks` and one of `--large-tasks` tasks.
Each worker is a thread with its own key and keep-alive connection, looping POST /work/next
then POST /leases/{id}/answer; a 503 is retried after its Retry-After, as a client would.

After each phase the invariants are checked from the store (every acknowledged answer stored
exactly once with what the receipt said, no task over its overlap or with a count that differs
from its answers, no worker twice on a task), from the API (each project's answers and
rewards, each worker's answers and earnings, equal to the acknowledged receipts), and from the
published results once the aggregator has run (the raw answers file holds exactly the
acknowledged answers). Reported: answers/s, p50/p95/p99 latency per operation as the client
saw it, and per operation the DynamoDB calls and consumed capacity counted in the API process
(see tools/chalice_local.py), its time in the server and in the store, the CPU the API
process used and how busy moto was: the last two say which one limits the run.

tests/load/ runs the same phases at a small size in the test suite.
"""
import argparse
import contextlib
import dataclasses
import datetime
import json
import os
import random
import re
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.load_invariants import Ack, check_invariants, check_ledger, check_published  # noqa: E402 (after sys.path)

LABELS = ["cat", "dog"]
NEXT, ANSWER = "POST /work/next", "POST /leases/{lease_id}/answer"
REQUEST_TIMEOUT_SECONDS = 120
EMPTY_ASKS_BEFORE_LEAVING = 3  # a worker gives up on a project after this many 404s in a row
FAILURES_BEFORE_GIVING_UP = 5  # a worker stops after this many failed requests in a row


@dataclasses.dataclass
class Phase:
    acks: list
    latencies: dict  # operation -> seconds per request
    failures: Counter  # (operation, status, code) -> count, after client retries
    retries_503: int
    unknown_outcomes: int  # answer requests that got no response at all
    seconds: float


class Server:
    """A metered `chalice local` child: its store meter and its CPU time."""

    def __init__(self, process, meter_path: Path, api_url: str):
        self.process, self.meter_path, self.api_url = process, meter_path, api_url

    def meter(self) -> dict:
        before = self.meter_path.stat().st_mtime_ns if self.meter_path.exists() else 0
        os.kill(self.process.pid, signal.SIGUSR1)
        deadline = time.monotonic() + 10
        while not self.meter_path.exists() or self.meter_path.stat().st_mtime_ns == before:
            if time.monotonic() > deadline:
                raise RuntimeError("the API process wrote no meter snapshot")
            time.sleep(0.02)
        return json.loads(self.meter_path.read_text())["routes"]

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def running_server(env: dict, meter_path: Path | None = None):
    """`chalice local` on a free port with `env` (metered if meter_path is given), stopped on exit."""
    from tools import local_stack

    port = local_stack.free_port()
    metered = {"FOULE_STORE_METER": str(meter_path)} if meter_path else {}
    process = local_stack.start_chalice_local(port, {**env, **metered}, quiet=True)
    try:
        yield Server(process, meter_path, f"http://127.0.0.1:{port}")
    finally:
        process.terminate()
        process.wait(timeout=10)


def moto_busy(moto_url: str) -> dict:
    return requests.get(f"{moto_url}/_foule/busy", timeout=10).json()


def create_projects(api_url: str, requester: str, count: int, tasks: int, overlap: int, reward: int) -> list[str]:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {requester}"
    project_ids = []
    for _ in range(count):
        response = session.post(f"{api_url}/projects", timeout=60, json={
            "title": "load", "answer_type": {"kind": "single_choice", "labels": LABELS},
            "overlap": overlap, "reward_cents": reward})
        assert response.status_code == 201, response.text
        project_id = response.json()["project_id"]
        for start in range(0, tasks, 1000):
            batch = [{"task_id": f"t{i:05d}", "payload": {"n": i}} for i in range(start, min(tasks, start + 1000))]
            response = session.post(f"{api_url}/projects/{project_id}/tasks", json={"tasks": batch}, timeout=300)
            assert response.status_code == 200 and response.json()["created"] == len(batch), response.text
        project_ids.append(project_id)
    return project_ids


def error_code(response) -> str:
    try:
        return response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return response.text[:80]


def run_workers(api_url: str, workers: dict[str, str], project_ids: list[str],
                max_answers: int | None = None, seed: int = 1) -> Phase:
    """workers: key -> worker id. Each works until no project has work for it (or the answer
    budget is spent); returns what the clients were told."""
    lock = threading.Lock()
    acks, latencies, failures = [], {NEXT: [], ANSWER: []}, Counter()
    retries, unknown = [0], [0]
    start_barrier = threading.Barrier(len(workers))

    def post(session, operation: str, url: str, body: dict):
        while True:
            started = time.perf_counter()
            try:
                response = session.post(url, json=body, timeout=REQUEST_TIMEOUT_SECONDS)
            except requests.RequestException:
                with lock:
                    failures[(operation, "no response", "")] += 1
                    unknown[0] += operation == ANSWER
                return None
            elapsed = time.perf_counter() - started
            with lock:
                latencies[operation].append(elapsed)
            if response.status_code not in ((200, 404, 503) if operation == NEXT else (200, 503)):
                with lock:
                    failures[(operation, response.status_code, error_code(response))] += 1
            if response.status_code != 503:
                return response
            with lock:
                retries[0] += 1
            time.sleep(float(response.headers.get("Retry-After", "1")))

    def budget_left() -> bool:
        with lock:
            return max_answers is None or len(acks) < max_answers

    def work(key: str, worker_id: str, rng: random.Random):
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {key}"
        pending, empty_asks = rng.sample(project_ids, len(project_ids)), Counter()
        failed_in_a_row = 0
        start_barrier.wait()
        while pending and budget_left() and failed_in_a_row < FAILURES_BEFORE_GIVING_UP:
            project_id = pending[rng.randrange(len(pending))]
            response = post(session, NEXT, f"{api_url}/work/next", {"project_id": project_id})
            if response is not None and response.status_code == 404:
                empty_asks[project_id] += 1
                if empty_asks[project_id] >= EMPTY_ASKS_BEFORE_LEAVING:
                    pending.remove(project_id)
                time.sleep(0.05)
                continue
            if response is not None and response.status_code == 200:
                empty_asks[project_id] = 0
                lease_id = response.json()["lease_id"]
                response = post(session, ANSWER, f"{api_url}/leases/{lease_id}/answer",
                                {"answer": rng.choice(LABELS), "time_spent_ms": rng.randrange(100, 9000)})
                if response is not None and response.status_code == 200:
                    failed_in_a_row = 0
                    receipt = response.json()
                    with lock:
                        acks.append(Ack(worker_id, lease_id, receipt["project_id"], receipt["task_id"],
                                        receipt["answer"], receipt["submitted_at"], receipt["reward_cents"]))
                    continue
            failed_in_a_row += 1  # counted in `failures` by post(); a dead server ends the phase
            time.sleep(0.05)

    started = time.perf_counter()
    with ThreadPoolExecutor(len(workers)) as pool:
        futures = [pool.submit(work, key, worker_id, random.Random(f"{seed}-{i}"))
                   for i, (key, worker_id) in enumerate(workers.items())]
        for future in futures:
            future.result()
    return Phase(acks, latencies, failures, retries[0], unknown[0], time.perf_counter() - started)


# --- Figures ------------------------------------------------------------------------------------
def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))] if ordered else float("nan")


def cost_per_request(before: dict, after: dict, route: str) -> dict:
    """What one request of `route` cost between two meter snapshots."""
    empty = {"requests": 0, "server_seconds": 0.0, "store_seconds": 0.0, "calls": {}, "sends": {},
             "capacity": {}, "calls_reporting_capacity": {}}
    a, b = after.get(route, empty), before.get(route, empty)
    requests_ = a["requests"] - b["requests"]
    diff = lambda field: {k: v - b[field].get(k, 0) for k, v in a[field].items() if v - b[field].get(k, 0)}  # noqa: E731
    calls, capacity = diff("calls"), diff("capacity")
    per = lambda x: round(x / requests_, 2) if requests_ else 0.0  # noqa: E731
    return {"requests": requests_, "calls_per_request": per(sum(calls.values())),
            "calls_by_operation": {op: per(n) for op, n in sorted(calls.items())},
            "capacity_per_request": per(sum(capacity.values())),
            "operations_without_capacity": sorted(op for op in calls if not diff("calls_reporting_capacity").get(op)),
            "server_ms": per(1000 * (a["server_seconds"] - b["server_seconds"])),
            "store_ms": per(1000 * (a["store_seconds"] - b["store_seconds"]))}


def measure(server: Server, moto_url: str, name: str, phase_runner) -> tuple[dict, Phase]:
    """Run a phase; its figures: client-side rates and latencies, per-operation costs, and how
    busy the API process and moto were."""
    meter_before, cpu_before, busy_before = server.meter(), server.cpu_seconds(), moto_busy(moto_url)
    phase = phase_runner()
    meter_after, cpu_after, busy_after = server.meter(), server.cpu_seconds(), moto_busy(moto_url)
    figures = {"phase": name, "answers": len(phase.acks), "seconds": round(phase.seconds, 2),
               "answers_per_second": round(len(phase.acks) / phase.seconds, 1),
               "failures": {" ".join(map(str, k)): v for k, v in phase.failures.items()},
               "retries_503": phase.retries_503,
               "api_process_cpu_cores": round((cpu_after - cpu_before) / phase.seconds, 2),
               "moto_busy_fraction": round((busy_after["busy_seconds"] - busy_before["busy_seconds"])
                                           / phase.seconds, 2)}
    for label, route in (("next", NEXT), ("answer", ANSWER)):
        times = phase.latencies[route]
        figures[label] = {"p50_ms": round(1000 * percentile(times, 50), 1),
                          "p95_ms": round(1000 * percentile(times, 95), 1),
                          "p99_ms": round(1000 * percentile(times, 99), 1),
                          **cost_per_request(meter_before, meter_after, route)}
    return figures, phase


def new_workers(count: int) -> dict[str, str]:
    from chalicelib import auth

    workers = {}
    for _ in range(count):
        secret, key = auth.create_key("worker")
        workers[secret] = key.owner_id
    return workers


def run_all(server: Server, moto_url: str, requester: str, *, workers: int, tasks: int, overlap: int,
            projects: int, tasks_per_project: int, small_tasks: int, large_tasks: int,
            size_answers: int, size_workers: int, reward: int = 3, check_results: bool = True) -> list[dict]:
    """The three phases, each checked; returns their figures."""
    api = server.api_url
    figures = []
    crowd = new_workers(workers)
    one = create_projects(api, requester, 1, tasks, overlap, reward)
    many = create_projects(api, requester, projects, tasks_per_project, overlap, reward)
    for name, project_ids, answers in (("one project", one, None), (f"{projects} projects", many, None)):
        result, phase = measure(server, moto_url, name, lambda: run_workers(api, crowd, project_ids, answers))
        result["checked"] = check_invariants(api, requester, crowd, project_ids, overlap, reward, phase.acks,
                                             phase.unknown_outcomes)
        if check_results:
            result["checked"]["published_answers"] = check_published(api, requester, project_ids, phase.acks)
        if not phase.unknown_outcomes:  # every stored answer acknowledged: approve them all, check the pay
            result["checked"]["paid_cents"] = check_ledger(api, requester, crowd, project_ids, phase.acks)
        figures.append(result)
        print(json.dumps(result), file=sys.stderr, flush=True)
    few = dict(list(crowd.items())[:size_workers])
    for size in (small_tasks, large_tasks):
        project_ids = create_projects(api, requester, 1, size, overlap, reward)
        result, phase = measure(server, moto_url, f"project of {size} tasks",
                                lambda: run_workers(api, few, project_ids, size_answers))
        result["checked"] = check_invariants(api, requester, crowd, project_ids, overlap, reward, phase.acks,
                                             phase.unknown_outcomes)
        figures.append(result)
        print(json.dumps(result), file=sys.stderr, flush=True)
    return figures


def markdown(figures: list[dict], command: str, workers: int) -> str:
    lines = [f"Command: `{command}` ({datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC), "
             f"{workers} worker threads over HTTP on 127.0.0.1, `chalice local` (tools/chalice_local.py) "
             "+ moto server (tools/moto_server.py).", "",
             "| phase | answers acknowledged = stored (= published) | answers/s | next p50/p95/p99 ms "
             "| answer p50/p95/p99 ms | API CPU (cores) | moto busy | 503 retried | failures |",
             "|---|---|---|---|---|---|---|---|---|"]
    for f in figures:
        lat = lambda op: f"{f[op]['p50_ms']} / {f[op]['p95_ms']} / {f[op]['p99_ms']}"  # noqa: E731
        checked = f["checked"]
        stored = f"{checked['answers']} over {checked['tasks']} tasks" + (
            f" (= {checked['published_answers']})" if "published_answers" in checked else "")
        lines.append(f"| {f['phase']} | {stored} | {f['answers_per_second']} | {lat('next')} | "
                     f"{lat('answer')} | {f['api_process_cpu_cores']} | {f['moto_busy_fraction']} | "
                     f"{f['retries_503']} | {f['failures'] or 0} |")
    lines += ["", "DynamoDB per request, counted in the API process (authorizer included):", "",
              "| phase | operation | calls | by operation | capacity reported by moto | server ms | store ms |",
              "|---|---|---|---|---|---|---|"]
    for f in figures:
        for op in ("next", "answer"):
            c = f[op]
            calls = ", ".join(f"{k} {v}" for k, v in c["calls_by_operation"].items())
            lines.append(f"| {f['phase']} | {op} | {c['calls_per_request']} | {calls} | "
                         f"{c['capacity_per_request']} (none for {', '.join(c['operations_without_capacity']) or '-'}) "
                         f"| {c['server_ms']} | {c['store_ms']} |")
    return "\n".join(lines)


BEGIN, END = "<!-- bench/load.py: begin -->", "<!-- bench/load.py: end -->"


def write_results(text: str) -> None:
    """Replace the generated block of the Load section of bench/RESULTS.md."""
    path = ROOT / "bench" / "RESULTS.md"
    content = path.read_text()
    block = f"{BEGIN}\n{text}\n{END}"
    if BEGIN in content:
        content = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: block, content, flags=re.S)
    else:
        content = content.rstrip("\n") + "\n\n## Load (issue 7)\n\n" + block + "\n"
    path.write_text(content)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=32)
    parser.add_argument("--tasks", type=int, default=100, help="tasks of the one-project phase")
    parser.add_argument("--overlap", type=int, default=3)
    parser.add_argument("--projects", type=int, default=8)
    parser.add_argument("--tasks-per-project", type=int, default=20)
    parser.add_argument("--small-tasks", type=int, default=100)
    parser.add_argument("--large-tasks", type=int, default=10_000)
    parser.add_argument("--size-answers", type=int, default=100, help="answers in each project-size phase")
    parser.add_argument("--size-workers", type=int, default=8, help="workers of the project-size phases")
    parser.add_argument("--write-results", action="store_true")
    args = parser.parse_args()

    from tools import local_stack

    moto_port = local_stack.free_port()
    moto = local_stack.start_moto(moto_port)
    moto_url = f"http://127.0.0.1:{moto_port}"
    try:
        os.environ.update(local_stack.deploy_stack(moto_url))
        from chalicelib import auth

        requester, _ = auth.create_key("requester")
        meter_path = Path(tempfile.mkdtemp(prefix="foule-load-")) / "meter.json"
        with running_server(dict(os.environ), meter_path) as server:
            figures = run_all(server, moto_url, requester, workers=args.workers, tasks=args.tasks,
                              overlap=args.overlap, projects=args.projects,
                              tasks_per_project=args.tasks_per_project, small_tasks=args.small_tasks,
                              large_tasks=args.large_tasks, size_answers=args.size_answers,
                              size_workers=args.size_workers)
    finally:
        moto.terminate()
        moto.wait(timeout=10)
    command = " ".join([".venv/bin/python -m bench.load", *sys.argv[1:]])
    text = markdown(figures, command, args.workers)
    print(text)
    if args.write_results:
        write_results(text)


if __name__ == "__main__":
    main()
