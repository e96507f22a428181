"""Can a worker time gold? Latency and store calls of each step of a lease, gold against real.

Runs the API in-process (chalice.test.Client) against a fresh moto server with the stack
deployed (as the tests do). Workers take turns on one project with as many gold as real tasks
(gold_rate 0.5), and on every task served run the same steps: lease (/work/next), ask again by
id, extend, give back, lease again by id, answer, answer again (a retry), lease the answered
task. For each step it prints, gold and real apart, the median latency, the ratio of the two,
and the DynamoDB requests botocore sent (by operation), which is the noise-free part: the same
calls of the same kinds mean no store path that shows up as latency. Usage, from the repo root:

    .venv/bin/python -m bench.gold_timing [--leases 120]
"""
import argparse
import collections
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path.cwd()  # the checkout measured: run from its root
sys.path.insert(0, str(ROOT))

from bench.work_path_calls import CALLS, count_calls, in_process_api  # noqa: E402

STEPS = ("next", "ask_again", "extend", "release", "lease_again", "answer", "answer_retry", "lease_answered")


def run(leases: int) -> dict:
    times = collections.defaultdict(list)  # (step, kind) -> ms
    calls = collections.defaultdict(collections.Counter)  # (step, kind) -> Counter of call lists
    count_calls()
    with in_process_api() as api_call:
        from chalicelib import auth

        requester, _ = auth.create_key("requester", None)

        def call(key, method, path, body=None):
            CALLS.clear()
            started = time.perf_counter()
            status, data = api_call(method, path, key, body)
            return (time.perf_counter() - started) * 1000, tuple(sorted(CALLS.elements())), data

        project = call(requester, "POST", "/projects", {
            "title": "timing", "answer_type": {"kind": "single_choice", "labels": ["a", "b"]}, "overlap": 8,
            "gold_rate": 0.5, "max_lease_extension_seconds": 60})[2]
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
            ms, ops, lease = call(worker, "POST", "/work/next", {"project_id": pid})
            kind = "gold" if lease["task_id"] in gold else "real"
            by_id = f"/projects/{pid}/tasks/{lease['task_id']}/lease"
            steps = [(ms, ops)]
            steps.append(call(worker, "POST", by_id)[:2])
            steps.append(call(worker, "POST", f"/leases/{lease['lease_id']}/extend", {"seconds": 30})[:2])
            steps.append(call(worker, "POST", f"/leases/{lease['lease_id']}/release")[:2])
            ms, ops, again = call(worker, "POST", by_id)
            steps.append((ms, ops))
            steps.append(call(worker, "POST", f"/leases/{again['lease_id']}/answer", {"answer": "a"})[:2])
            steps.append(call(worker, "POST", f"/leases/{again['lease_id']}/answer", {"answer": "a"})[:2])
            steps.append(call(worker, "POST", by_id)[:2])
            for step, (ms, ops) in zip(STEPS, steps):
                times[step, kind].append(ms)
                calls[step, kind][ops] += 1
    return {"times": times, "calls": calls}


def report(results: dict) -> None:
    times, calls = results["times"], results["calls"]
    print(f"{'step':<15}{'gold p50 ms':>12}{'real p50 ms':>12}{'gold/real':>10}  store calls (gold | real)")
    for step in STEPS:
        gold, real = statistics.median(times[step, "gold"]), statistics.median(times[step, "real"])
        common = lambda counter: dict(collections.Counter(counter.most_common(1)[0][0]))  # noqa: E731
        print(f"{step:<15}{gold:>12.1f}{real:>12.1f}{gold / real:>10.2f}  "
              f"{common(calls[step, 'gold'])} | {common(calls[step, 'real'])}")
    print(f"(n = {len(times['next', 'gold'])} gold, {len(times['next', 'real'])} real leases)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leases", type=int, default=120)
    report(run(parser.parse_args().leases))


if __name__ == "__main__":
    main()
