"""Fair serving: how many /work/next requests until every live project is first served.

A fresh moto server with the stack deployed; PROJECTS live projects of TENANTS requesters
(priorities drawn from [-10, 10], or all 0 with --equal-priority), each with open work. Then
/work/next without a project, again and again, as one worker:

- default: the choice only, as `/work/next` makes it (`work._candidate_projects(None)`: the
  live window, the tenant and priority weights, the random order), its first project being
  the one served (every project has work the worker may do). The code is unchanged, but its
  index queries are answered from a snapshot of the store's live index taken after the
  projects were created (`Snapshot`): moto sorts the whole table for every query (~0.15 s
  each on a loaded 2-core machine), and 1,000 projects need tens of thousands of requests;
- --api: the whole request through the API in-process (each project gets one task; asked
  again, a project gives back the worker's live lease, so every project stays eligible).

Prints the requests until each project was first served (median, p90, max), the share of
requests per tenant, and the DynamoDB calls per request counted at botocore. Usage:

    .venv/bin/python -m bench.fairness [--projects 1000] [--tenants 100] [--max-requests 60000] [--api]
"""
import argparse
import collections
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path.cwd()
sys.path.insert(0, str(ROOT))

from bench.work_path_calls import CALLS, count_calls, in_process_api  # noqa: E402


def create_projects(call, args, rng) -> dict:
    """project id -> tenant index."""
    from chalicelib import auth

    owners = [auth.create_key("requester", None)[0] for _ in range(args.tenants)]
    owner_of = {}
    for i in range(args.projects):
        key = owners[i % args.tenants]
        status, project = call("POST", "/projects", key, {
            "title": f"p{i}", "answer_type": {"kind": "single_choice", "labels": ["a", "b"]}, "overlap": 1,
            "priority": 0 if args.equal_priority else rng.randint(-10, 10)})
        assert status == 201, project
        if args.api:
            call("POST", f"/projects/{project['project_id']}/tasks", key, {"tasks": [{"task_id": "t", "payload": {}}]})
        owner_of[project["project_id"]] = i % args.tenants
    return owner_of


class Snapshot:
    """Project.live_projects.query over a copy of the live index read once from the store:
    the same items, order, key conditions (>=, <) and limit."""

    def __init__(self, query):
        from chalicelib.services import live
        from chalicelib.settings import settings

        self.items = {}
        for shard in range(settings.live_shards):
            key = live.shard_key(shard)
            self.items[key] = sorted(query(key), key=lambda p: p.live_order)

    def __call__(self, hash_key, range_key_condition=None, limit=None, **_):
        items = self.items.get(hash_key, [])
        if range_key_condition is not None:
            bound, operator = range_key_condition.values[1].value["S"], range_key_condition.operator
            items = [p for p in items if (p.live_order >= bound if operator == ">=" else p.live_order < bound)]
        CALLS["Query"] += 1
        return items[:limit]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--projects", type=int, default=1000)
    parser.add_argument("--tenants", type=int, default=100)
    parser.add_argument("--max-requests", type=int, default=60000)
    parser.add_argument("--equal-priority", action="store_true")
    parser.add_argument("--api", action="store_true", help="the whole request through the API")
    args = parser.parse_args()
    with in_process_api() as call:
        from chalicelib import auth
        from chalicelib.services import live, work
        from chalicelib.settings import settings

        rng = random.Random(1)
        work.rng.seed(2)
        started = time.perf_counter()
        owner_of = create_projects(call, args, rng)
        worker, _ = auth.create_key("worker", None)
        if not args.api:
            from chalicelib.models import Project

            Project.live_projects.query = Snapshot(Project.live_projects.query)
        print(f"{args.projects} live projects of {args.tenants} tenants "
              f"({'equal priorities' if args.equal_priority else 'priorities in [-10, 10]'}) created in "
              f"{time.perf_counter() - started:.0f} s; live shards {settings.live_shards}, window {live.WINDOW}, "
              f"{'the whole API request' if args.api else 'the choice only, on a snapshot of the live index'}", flush=True)
        count_calls()
        first, per_request, by_tenant = {}, [], collections.Counter()
        started = time.perf_counter()
        for request in range(1, args.max_requests + 1):
            CALLS.clear()
            if args.api:
                status, lease = call("POST", "/work/next", worker, {})
                served = lease["project_id"] if status == 200 else None
            else:
                candidates = work._candidate_projects(None)
                served = candidates[0].project_id if candidates else None
            per_request.append(sum(CALLS.values()))
            if served:
                first.setdefault(served, request)
                by_tenant[owner_of[served]] += 1
            if len(first) == args.projects:
                break
            if request % 2000 == 0:
                print(f"  {request} requests: {len(first)} projects served", flush=True)
        took = time.perf_counter() - started
    waits = sorted(first.values())
    shares = [by_tenant[t] / request for t in range(args.tenants)]
    harmonic = sum(1 / k for k in range(1, args.projects + 1))
    print(f"served {len(first)}/{args.projects} projects in {request} requests ({took:.0f} s)")
    print(f"requests until first served: median {statistics.median(waits):.0f}, "
          f"p90 {waits[int(0.9 * len(waits)) - 1]}, max {waits[-1]} (a uniform random choice among "
          f"{args.projects}: median ~{args.projects * 0.69:.0f}, all served after ~{args.projects * harmonic:.0f})")
    print(f"tenant share of requests: min {min(shares):.4f}, median {statistics.median(shares):.4f}, "
          f"max {max(shares):.4f} (equal share {1 / args.tenants:.4f})")
    print(f"DynamoDB calls per request{' (the choice only)' if not args.api else ''}: mean "
          f"{statistics.mean(per_request):.2f}, max {max(per_request)}, "
          f"distribution {dict(sorted(collections.Counter(per_request).items()))}")


if __name__ == "__main__":
    main()
