"""The local stack (moto server + `chalice local`) before and after the speed work, in one run.

    .venv/bin/python -m bench.local_stack [--replay-tasks 100] [--large 20000] [--jobs 120]
                                          [--modes baseline,fast] [--fast-only-large 100000]

For each mode, a fresh stack on the same ports:
- baseline: moto as tools/moto_server.py served it before (`--baseline`: one request at a
  time and transaction conditions first, but no sorted index, no fast serializer) and the API
  with its short-lived caches off (FOULE_CACHE_SECONDS=0);
- fast: the patched moto (tools/moto_fast.py, tools/moto_index.py) and the caches on.
Then, against it:
1. the replay of the first `--replay-tasks` RTE tasks with 8 clients (tools/replay.py: keys,
   project, upload, lease + answer per answer, aggregation, results checked): answers/s and the
   lease+answer latency p50/p95/p99;
2. latency flatness: a project of 100 tasks and one of `--large` tasks (uploaded through the
   API in batches of 1,000 beforehand, not timed), then `--jobs` rounds of `POST /work/next` +
   answer by 8 workers on each: p50/p95/p99 of a round, for the small and the large project.
The last lines are a JSON report per mode and the ratios fast/baseline. Progress goes to stderr.
"""
import argparse
import concurrent.futures
import dataclasses
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tools import local_stack, replay  # noqa: E402

DATASET = ROOT.parent / "shared" / "datasets" / "rte"
CONCURRENCY = 8


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


@dataclasses.dataclass
class Stack:
    mode: str
    moto: subprocess.Popen
    chalice: subprocess.Popen
    api: str
    moto_url: str
    admin_key: str

    def busy(self) -> dict:
        return requests.get(f"{self.moto_url}/_foule/busy", timeout=10).json()

    def cpu_seconds(self) -> dict:
        """CPU time used so far by moto, by `chalice local` and by this process (the clients
        and the schedule stand-in): unlike wall time, it hardly depends on the machine's load."""
        tick = os.sysconf("SC_CLK_TCK")

        def of(pid: int) -> float:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
            return (int(fields[11]) + int(fields[12])) / tick  # utime + stime

        own = os.times()
        return {"moto": of(self.moto.pid), "chalice": of(self.chalice.pid), "clients": own.user + own.system}

    def stop(self) -> None:
        for process in (self.chalice, self.moto):
            process.terminate()
        for process in (self.chalice, self.moto):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def start(mode: str, moto_port: int, api_port: int) -> Stack:
    moto = local_stack.start_moto(moto_port, baseline=mode == "baseline")
    moto_url = f"http://127.0.0.1:{moto_port}"
    env = local_stack.deploy_stack(moto_url)
    os.environ.update(env)
    from chalicelib import auth  # after the environment names the tables (same names each mode)

    admin_key = auth.create_key("admin", name="bench admin")[0]
    chalice_env = {**os.environ, **env, "FOULE_CACHE_SECONDS": "0" if mode == "baseline" else "5"}
    chalice = local_stack.start_chalice_local(api_port, chalice_env, quiet=True)
    return Stack(mode, moto, chalice, f"http://127.0.0.1:{api_port}", moto_url, admin_key)


def post(session: requests.Session, url: str, key: str, body: dict | None = None) -> requests.Response:
    return session.post(url, json=body or {}, headers={"Authorization": f"Bearer {key}"}, timeout=120)


def make_project(stack: Stack, requester: str, tasks: int) -> str:
    with requests.Session() as session:
        body = {"title": f"bench {tasks}", "answer_type": {"kind": "single_choice", "labels": ["a", "b"]},
                "overlap": 3, "reward_cents": 1, "lease_seconds": 600}
        project_id = post(session, f"{stack.api}/projects", requester, body).json()["project_id"]
        for start_at in range(0, tasks, 1000):
            ids = range(start_at, min(tasks, start_at + 1000))
            batch = [{"task_id": f"t{i:06d}", "payload": {"n": i}} for i in ids]
            response = post(session, f"{stack.api}/projects/{project_id}/tasks", requester, {"tasks": batch})
            assert response.status_code == 200 and not response.json().get("errors"), response.text[:300]
    return project_id


def work_rounds(stack: Stack, project_id: str, workers: list[str], jobs: int) -> dict:
    """`jobs` rounds of /work/next + answer, 8 at once; each worker takes its share in turn."""
    local = threading.local()

    def one(job: int) -> float:
        if not hasattr(local, "session"):
            local.session = requests.Session()
        key = workers[job % len(workers)]
        started = time.perf_counter()
        lease = post(local.session, f"{stack.api}/work/next", key, {"project_id": project_id})
        assert lease.status_code == 200, lease.text[:300]
        answer = post(local.session, f"{stack.api}/leases/{lease.json()['lease_id']}/answer", key,
                      {"answer": "a", "time_spent_ms": 3000})
        assert answer.status_code == 200, answer.text[:300]
        return (time.perf_counter() - started) * 1000

    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(CONCURRENCY) as pool:
        latencies = list(pool.map(one, range(jobs)))
    seconds = time.perf_counter() - started
    return {"rounds": jobs, "rounds_per_second": round(jobs / seconds, 1),
            **{f"p{q}_ms": round(replay.percentile(latencies, q), 1) for q in (50, 95, 99)}}


def flatness(stack: Stack, large: int, jobs: int) -> dict:
    from chalicelib import auth

    requester = auth.create_key("requester", name="bench requester")[0]
    workers = [auth.create_key("worker", name=f"bench worker {i}")[0] for i in range(CONCURRENCY)]
    report = {}
    for size in (100, large):
        started = time.perf_counter()
        project_id = make_project(stack, requester, size)
        log(f"{stack.mode}: project of {size} tasks uploaded in {time.perf_counter() - started:.1f} s")
        report[f"tasks_{size}"] = work_rounds(stack, project_id, workers, jobs)
        log(f"{stack.mode}: {size} tasks: {report[f'tasks_{size}']}")
    return report


def run_mode(mode: str, args, moto_port: int, api_port: int) -> dict:
    stack = start(mode, moto_port, api_port)
    from chalicelib.services import aggregator  # after start(): settings read the stack's names

    stop = threading.Event()
    # The schedule stand-in, as in the replay test: the run the replay asks for once all is in.
    aggregator.settings = dataclasses.replace(aggregator.settings, aggregation_min_interval_seconds=3600)
    schedule = threading.Thread(target=local_stack.aggregation_loop, args=(1.0, stop.is_set), daemon=True)
    schedule.start()
    try:
        log(f"{mode}: replaying the first {args.replay_tasks} RTE tasks with {CONCURRENCY} clients")
        before, cpu_before = stack.busy(), stack.cpu_seconds()
        started = time.perf_counter()
        result = replay.replay(stack.api, DATASET, stack.admin_key, gold_fraction=0.1, concurrency=CONCURRENCY,
                               seed=1, timeout=600, max_tasks=args.replay_tasks)
        after, cpu_after = stack.busy(), stack.cpu_seconds()
        cpu_ms = {k: round(1000 * (cpu_after[k] - cpu_before[k]) / result["sent"], 2) for k in cpu_before}
        report = {"mode": mode, "replay": {k: result[k] for k in ("sent", "acknowledged", "published", "lost", "failed",
                                                                   "accuracy", "answers_per_second", "p50_ms",
                                                                   "p95_ms", "p99_ms")},
                  "replay_wall_seconds": round(time.perf_counter() - started, 1),
                  "moto_requests_per_answer": round((after["requests"] - before["requests"]) / result["sent"], 2),
                  "moto_ms_per_request": round(1000 * (after["busy_seconds"] - before["busy_seconds"])
                                               / max(1, after["requests"] - before["requests"]), 2),
                  # CPU per answer of the whole replay (setup, answers, aggregation): on an idle
                  # 2-core machine moto (one request at a time) can serve at most 1000/moto
                  # answers a second, and the three processes together 2000/total.
                  "cpu_ms_per_answer": {**cpu_ms, "total": round(sum(cpu_ms.values()), 2)}}
        log(f"{mode}: {json.dumps(report)}")
        if args.large:
            report["flatness"] = flatness(stack, args.large, args.jobs)
        return report
    finally:
        stop.set()
        schedule.join(timeout=120)
        stack.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--replay-tasks", type=int, default=100, help="RTE tasks replayed (10 answers each)")
    parser.add_argument("--large", type=int, default=20000, help="tasks of the large project (0: skip flatness)")
    parser.add_argument("--jobs", type=int, default=120, help="work rounds per project size")
    parser.add_argument("--modes", default="baseline,fast")
    args = parser.parse_args()
    moto_port, api_port = local_stack.free_port(), local_stack.free_port()
    load = os.getloadavg()
    reports = {mode: run_mode(mode, args, moto_port, api_port) for mode in args.modes.split(",")}
    print(json.dumps({"load_average_at_start": [round(x, 1) for x in load], "cpus": os.cpu_count(),
                      "load_average_at_end": [round(x, 1) for x in os.getloadavg()]}))
    for report in reports.values():
        print(json.dumps(report))
    if {"baseline", "fast"} <= reports.keys():
        base, fast = reports["baseline"], reports["fast"]
        ratios = {"answers_per_second": fast["replay"]["answers_per_second"] / base["replay"]["answers_per_second"]}
        for process in ("moto", "chalice", "total"):
            ratios[f"cpu_per_answer_{process}_baseline/fast"] = (base["cpu_ms_per_answer"][process]
                                                                  / fast["cpu_ms_per_answer"][process])
        for q in ("p50_ms", "p95_ms", "p99_ms"):
            ratios[f"replay_{q}_baseline/fast"] = base["replay"][q] / fast["replay"][q]
        for size, figures in base.get("flatness", {}).items():
            ratios[f"{size}_p50_baseline/fast"] = figures["p50_ms"] / fast["flatness"][size]["p50_ms"]
        print(json.dumps({"ratios": {k: round(v, 2) for k, v in ratios.items()}}))


if __name__ == "__main__":
    main()
