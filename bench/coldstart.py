"""Cold-start cost of each Lambda function, against bare imports of its dependencies.

    .venv/bin/python bench/coldstart.py [--runs 7] [--before DIR ...]

Each measurement is a fresh interpreter (`python -c`) timing one statement with perf_counter
and process_time, so the figures exclude interpreter start. Reports the median and min over
the runs, and the ratio of each case to its baseline:
- API function: `import app` vs `import chalice, pynamodb, pydantic, boto3`
- API function's first request: `import app` then one POST /work/next through
  chalice.test.Client (authorizer, rate limit, validation, the lease, the response), against
  a moto server this script starts. `import app` defers what a request may not need to that
  request, so this case shows whether time was saved or only moved. Each run leases with a
  worker key of its own; `chalice.test` itself is imported before the clock starts.
- aggregator:   `from chalicelib.services import aggregator` vs the same baseline + numpy
The cases take turns (one run of each, then the next round), so a burst of load on a shared
machine falls on all of them alike. `--before DIR` also times `import app` and the first
request in another checkout (e.g. `git archive HEAD~3 | tar -x -C /tmp/before`), in the same
rounds, for a before/after ratio; give it again for more checkouts (each named by its
directory's name). A benchmark, not a test: tests/test_layering.py checks
what `import app` loads, tests/test_kind_answers.py that it loads no numpy.
"""
import argparse
import contextlib
import io
import os
import statistics
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BASELINE = "baseline: import chalice, pynamodb, pydantic, boto3"
API = "(a) API function: import app"
FIRST_REQUEST = "(b) API function: import app + first POST /work/next"
BASELINE_NUMPY = "baseline + numpy"
AGGREGATOR = "aggregator: from chalicelib.services import aggregator"
FIRST_REQUEST_STATEMENT = """
import app
with Client(app.app, stage_name="local", project_dir=".") as client:
    response = client.http.post("/work/next", body=json.dumps({{"project_id": "{project_id}"}}).encode(),
                                headers={{"Authorization": "Bearer {worker_key}",
                                          "Content-Type": "application/json"}})
assert response.status_code == 200, response.body
"""
# Wall time, and the process's CPU time: on a loaded machine the CPU time is what the statement
# itself costs (on Lambda, with its CPU to itself, the two agree). The moto server's work is
# in another process: a request's CPU time here is the client side of its store calls.
PROBE = """
import time
{setup}
t, c = time.perf_counter(), time.process_time()
{statement}
print(time.perf_counter() - t, time.process_time() - c)
"""


@dataclass
class Case:
    label: str
    statement: str
    cwd: Path = ROOT
    setup: str = ""
    first_request: bool = False  # the statement needs a fresh worker key


def measure_once(case: Case, env: dict, fields: dict) -> tuple[float, float]:
    script = PROBE.format(setup=case.setup, statement=textwrap.dedent(case.statement).format(**fields))
    out = subprocess.run([sys.executable, "-c", script], cwd=case.cwd, env=env,
                         capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"{case.label} failed:\n{out.stderr}")
    wall, cpu = out.stdout.strip().splitlines()[-1].split()
    return float(wall), float(cpu)


def prepare_work(call, keys_needed: int) -> tuple[str, list[str]]:
    """A live project with a task for every first request, and one worker key per request."""
    from chalicelib import auth

    requester, _ = auth.create_key("requester", None)
    status, project = call("POST", "/projects", requester, {
        "title": "cold start", "answer_type": {"kind": "single_choice", "labels": ["a", "b"]},
        "overlap": 1, "budget_cents": 100000, "reward_cents": 5})
    assert status == 201, project
    project_id = project["project_id"]
    for start in range(0, keys_needed, 500):
        tasks = [{"task_id": f"t{i}", "payload": {"text": "x" * 200}}
                 for i in range(start, min(keys_needed, start + 500))]
        status, added = call("POST", f"/projects/{project_id}/tasks", requester, {"tasks": tasks})
        assert status == 200, added
    return project_id, [auth.create_key("worker", None)[0] for _ in range(keys_needed)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--before", type=Path, action="append", default=[],
                        help="another checkout whose `import app` and first request are timed too")
    args = parser.parse_args()
    request_setup = "import json\nfrom chalice.test import Client"
    cases = [Case(BASELINE, "import chalice, pynamodb, pydantic, boto3"),
             Case(API, "import app"),
             Case(FIRST_REQUEST, FIRST_REQUEST_STATEMENT, setup=request_setup, first_request=True),
             Case(BASELINE_NUMPY, "import chalice, pynamodb, pydantic, boto3, numpy"),
             Case(AGGREGATOR, "from chalicelib.services import aggregator")]
    befores = {}  # a checkout's name -> its (a) and (b) cases
    for before in (path.resolve() for path in args.before):
        befores[before.name] = (Case(f"{before.name}: (a) import app", "import app", before),
                                Case(f"{before.name}: (b) + first request", FIRST_REQUEST_STATEMENT, before,
                                     request_setup, True))
        cases += befores[before.name]

    from bench.work_path_calls import in_process_api

    with in_process_api() as call:  # a moto server with the stack, for the first requests
        first_requests = sum(case.first_request for case in cases) * (args.runs + 1)
        with contextlib.redirect_stdout(io.StringIO()):  # the app's request log lines
            project_id, worker_keys = prepare_work(call, first_requests)
        env = {name: value for name, value in os.environ.items()
               if name.startswith(("AWS_", "FOULE_")) or name == "PATH"}

        def measure(case: Case) -> tuple[float, float]:
            fields = {"project_id": project_id, "worker_key": worker_keys.pop() if case.first_request else ""}
            return measure_once(case, env, fields)

        for case in cases:
            measure(case)  # warm the OS file cache and write the .pyc files once
        times: dict[str, list[float]] = {case.label: [] for case in cases}
        cpu_times: dict[str, list[float]] = {case.label: [] for case in cases}
        for _ in range(args.runs):
            for case in cases:
                wall, cpu = measure(case)
                times[case.label].append(wall)
                cpu_times[case.label].append(cpu)
    wall = {label: statistics.median(t) for label, t in times.items()}
    cpu = {label: statistics.median(t) for label, t in cpu_times.items()}
    print(f"{'case':62s} {'median s':>9s} {'min s':>7s} {'CPU s':>7s}   ({args.runs} fresh interpreters each)")
    for label, t in times.items():
        print(f"{label:62s} {wall[label]:9.3f} {min(t):7.3f} {cpu[label]:7.3f}")
    print()
    def ratio(case: str, against: str) -> str:
        return f"{wall[case] / wall[against]:.2f} (CPU time {cpu[case] / cpu[against]:.2f})"

    print(f"(a) / baseline: {ratio(API, BASELINE)}")
    print(f"(b) / baseline: {ratio(FIRST_REQUEST, BASELINE)}")
    for name, (a, b) in befores.items():
        print(f"{name}: (a) / baseline: {ratio(a.label, BASELINE)}; (b) / baseline: {ratio(b.label, BASELINE)}; "
              f"(b) here / (b) there: {ratio(FIRST_REQUEST, b.label)}")
    print(f"aggregator / baseline + numpy: {ratio(AGGREGATOR, BASELINE_NUMPY)}")


if __name__ == "__main__":
    main()
