"""Fair serving: how many /work/next requests until every live project is first served.

Runs the API in-process (chalice.test.Client) against a fresh moto server with the stack
deployed: PROJECTS live projects of TENANTS requesters (random priorities in [-10, 10]), one
task each; one worker asks /work/next without a project again and again (asked again, a
project gives back the worker's live lease, so every project stays eligible). Prints the
requests until each project was first served (max, median, p90), the share of requests per
tenant, and the DynamoDB calls per request counted at botocore. Usage (from the repo root):

    .venv/bin/python -m bench.fairness [PROJECTS] [TENANTS] [MAX_REQUESTS]
"""
import collections
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path.cwd()
sys.path.insert(0, str(ROOT))

from bench.work_path_calls import CALLS, count_calls, in_process_api  # noqa: E402


def main(projects: int = 1000, tenants: int = 100, max_requests: int = 20000) -> None:
    with in_process_api() as call:
        from chalicelib import auth
        from chalicelib.services import live, work
        from chalicelib.settings import settings

        rng = random.Random(1)
        work.rng.seed(2)
        owners = [auth.create_key("requester", None)[0] for _ in range(tenants)]
        worker, _ = auth.create_key("worker", None)
        owner_of, started = {}, time.perf_counter()
        for i in range(projects):
            key = owners[i % tenants]
            _, project = call("POST", "/projects", key, {
                "title": f"p{i}", "answer_type": {"kind": "single_choice", "labels": ["a", "b"]},
                "overlap": 1, "priority": rng.randint(-10, 10)})
            call("POST", f"/projects/{project['project_id']}/tasks", key,
                 {"tasks": [{"task_id": "t", "payload": {}}]})
            owner_of[project["project_id"]] = i % tenants
        print(f"{projects} live projects of {tenants} tenants created in "
              f"{time.perf_counter() - started:.0f} s (live shards {settings.live_shards}, "
              f"window {live.WINDOW}, projects tried per request {work.PROJECTS_PER_REQUEST})")
        count_calls()
        first, per_request, by_tenant = {}, [], collections.Counter()
        started = time.perf_counter()
        for request in range(1, max_requests + 1):
            CALLS.clear()
            status, lease = call("POST", "/work/next", worker, {})
            per_request.append(sum(CALLS.values()))
            if status == 200:
                first.setdefault(lease["project_id"], request)
                by_tenant[owner_of[lease["project_id"]]] += 1
            if len(first) == projects:
                break
        took = time.perf_counter() - started
        waits = sorted(first.values())
        shares = [by_tenant[t] / request for t in range(tenants)]
        print(f"served {len(first)}/{projects} projects in {request} requests ({took:.0f} s)")
        print(f"requests until first served: median {statistics.median(waits):.0f}, "
              f"p90 {waits[int(0.9 * len(waits)) - 1]}, max {waits[-1]}  "
              f"(ideal: {projects} requests serve {projects} projects once each; "
              f"uniform random choice: about {projects * sum(1 / k for k in range(1, projects + 1)):.0f} for all)")
        print(f"tenant share of requests: min {min(shares):.4f}, median {statistics.median(shares):.4f}, "
              f"max {max(shares):.4f} (equal share {1 / tenants:.4f})")
        print(f"DynamoDB calls per /work/next: mean {statistics.mean(per_request):.2f}, "
              f"max {max(per_request)}, distribution {dict(sorted(collections.Counter(per_request).items()))}")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:4]))
