"""Cold-start import cost of each Lambda function, against bare imports of its dependencies.

    .venv/bin/python bench/coldstart.py [--runs 7]

Each measurement is a fresh interpreter (`python -c`) timing one import statement with
perf_counter, so the figures are import time only (interpreter start excluded). Reports the
median and min over the runs, and the ratio of each function's import to its baseline:
- API function: `import app` vs `import chalice, pynamodb, pydantic, boto3`
- aggregator:   `from chalicelib.services import aggregator` vs the same + numpy
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
PROBE = "import time; t = time.perf_counter(); {stmt}; print(time.perf_counter() - t)"


def measure(statement: str, runs: int) -> list[float]:
    env = {"PATH": os.environ.get("PATH", ""), "AWS_DEFAULT_REGION": "us-east-1", "PYTHONDONTWRITEBYTECODE": "1"}
    times = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", PROBE.format(stmt=statement)], cwd=ROOT, env=env,
                             capture_output=True, text=True, check=True).stdout
        times.append(float(out.strip().splitlines()[-1]))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    measure("import app", 1)  # warm the OS file cache and the .pyc files once
    results = {}
    print(f"{'import':58s} {'median s':>9s} {'min s':>7s}   ({args.runs} fresh interpreters each)")
    for label, statement in CASES:
        times = measure(statement, args.runs)
        results[label] = statistics.median(times)
        print(f"{label:58s} {statistics.median(times):9.3f} {min(times):7.3f}")
    api = results[CASES[1][0]] / results[CASES[0][0]]
    agg = results[CASES[3][0]] / results[CASES[2][0]]
    print(f"\nratio API function / its baseline:        {api:.2f}")
    print(f"ratio aggregator / baseline + numpy: {agg:.2f}")
    print(f"API function saves {results[CASES[3][0]] - results[CASES[1][0]]:.3f} s by not importing "
          "the aggregation path")


if __name__ == "__main__":
    main()
