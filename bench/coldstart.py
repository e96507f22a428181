"""Cold-start import cost of each Lambda function, against bare imports of its dependencies.

    .venv/bin/python bench/coldstart.py [--runs 7] [--before DIR]

Each measurement is a fresh interpreter (`python -c`) timing one import statement with
perf_counter, so the figures are import time only (interpreter start excluded). Reports the
median and min over the runs, and the ratio of each function's import to its baseline:
- API function: `import app` vs `import chalice, pynamodb, pydantic, boto3`
- aggregator:   `from chalicelib.services import aggregator` vs the same + numpy
The cases take turns (one run of each, then the next round), so a burst of load on a shared
machine falls on all of them alike. `--before DIR` also times `import app` in another checkout
(e.g. `git archive HEAD~3 | tar -x -C /tmp/before`), in the same rounds, for a before/after ratio.
A benchmark, not a test: tests/infra checks the behaviour (app imports no numpy).
"""
import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CASES = [
    ("baseline: chalice, pynamodb, pydantic, boto3", "import chalice, pynamodb, pydantic, boto3"),
    ("API function: import app", "import app"),
    ("baseline + numpy", "import chalice, pynamodb, pydantic, boto3, numpy"),
    ("aggregator: from chalicelib.services import aggregator", "from chalicelib.services import aggregator"),
]
# Wall time, and the process's CPU time: on a loaded machine the CPU time is what the import
# itself costs (on Lambda, with its CPU to itself, the two agree).
PROBE = ("import time; t, c = time.perf_counter(), time.process_time(); {stmt}; "
         "print(time.perf_counter() - t, time.process_time() - c)")


def measure_once(statement: str, cwd: Path = ROOT) -> tuple[float, float]:
    env = {"PATH": os.environ.get("PATH", ""), "AWS_DEFAULT_REGION": "us-east-1", "PYTHONDONTWRITEBYTECODE": "1"}
    out = subprocess.run([sys.executable, "-c", PROBE.format(stmt=statement)], cwd=cwd, env=env,
                         capture_output=True, text=True, check=True).stdout
    wall, cpu = out.strip().splitlines()[-1].split()
    return float(wall), float(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--before", type=Path, help="another checkout whose `import app` is timed too")
    args = parser.parse_args()
    cases = [(label, statement, ROOT) for label, statement in CASES]
    if args.before:
        cases.append((f"before: import app in {args.before}", "import app", args.before.resolve()))
    for _, statement, cwd in cases:
        measure_once(statement, cwd)  # warm the OS file cache and the .pyc files once
    times: dict[str, list[float]] = {label: [] for label, _, _ in cases}
    cpu_times: dict[str, list[float]] = {label: [] for label, _, _ in cases}
    for _ in range(args.runs):
        for label, statement, cwd in cases:
            wall, cpu = measure_once(statement, cwd)
            times[label].append(wall)
            cpu_times[label].append(cpu)
    results = {label: statistics.median(t) for label, t in times.items()}
    cpu = {label: statistics.median(t) for label, t in cpu_times.items()}
    print(f"{'import':58s} {'median s':>9s} {'min s':>7s} {'CPU s':>7s}   ({args.runs} fresh interpreters each)")
    for label, t in times.items():
        print(f"{label:58s} {statistics.median(t):9.3f} {min(t):7.3f} {cpu[label]:7.3f}")
    api = results[CASES[1][0]] / results[CASES[0][0]]
    agg = results[CASES[3][0]] / results[CASES[2][0]]
    print(f"\nCPU-time ratio API function / its baseline: {cpu[CASES[1][0]] / cpu[CASES[0][0]]:.2f}")
    if args.before:
        print(f"CPU-time ratio before: API function / its baseline: {cpu[cases[-1][0]] / cpu[CASES[0][0]]:.2f}")
        print(f"ratio before: API function / its baseline: {results[cases[-1][0]] / results[CASES[0][0]]:.2f}")
    print(f"ratio API function / its baseline:        {api:.2f}")
    print(f"ratio aggregator / baseline + numpy: {agg:.2f}")
    print(f"API function saves {results[CASES[3][0]] - results[CASES[1][0]]:.3f} s by not importing "
          "the aggregation path")


if __name__ == "__main__":
    main()
