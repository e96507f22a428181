"""Lighthouse (mobile profile) on the worker app, and the size of its shell.

    (cd bench/lighthouse && npm ci) && .venv/bin/python bench/lighthouse_worker_app.py [--runs 3]

Serves web/worker/ with tools/web_server.py (as `make run` does) and runs Lighthouse 12.2.3
against Debian's /usr/bin/chromium (CHROME_PATH) on the first screen a visitor gets (sign in):
performance, accessibility and best practices, the median of the runs. Lighthouse's default
mobile profile: a mid-range phone, 4x CPU slowdown, simulated slow 4G.
"""
import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tools import local_stack, web_server  # noqa: E402

LIGHTHOUSE = ROOT / "bench" / "lighthouse" / "node_modules" / ".bin" / "lighthouse"
CATEGORIES = ("performance", "accessibility", "best-practices")


def shell_bytes() -> tuple[int, int]:
    """The app shell's JS and CSS: raw bytes, and gzipped (level 9) as one stream."""
    files = sorted(web_server.WORKER_APP.rglob("*.js")) + sorted(web_server.WORKER_APP.rglob("*.css"))
    raw = b"".join(f.read_bytes() for f in files)
    return len(raw), len(gzip.compress(raw, 9))


def lighthouse(url: str) -> dict[str, int]:
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "report.json"
        subprocess.run([str(LIGHTHOUSE), url, "--quiet", "--output=json", f"--output-path={report}",
                        f"--only-categories={','.join(CATEGORIES)}",
                        "--chrome-flags=--headless --no-sandbox --disable-gpu --no-first-run"],
                       check=True, env={**os.environ, "CHROME_PATH": "/usr/bin/chromium"})
        categories = json.loads(report.read_text())["categories"]
    return {name: round(categories[name]["score"] * 100) for name in CATEGORIES}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    raw, packed = shell_bytes()
    print(f"app shell (JS + CSS): {raw:,} bytes, {packed:,} bytes gzipped ({packed / 1024:.1f} KiB)")
    port = local_stack.free_port()
    server = web_server.serve(port, web_server.app_config("http://127.0.0.1:9"))
    try:
        runs = [lighthouse(f"http://127.0.0.1:{port}/#/signin") for _ in range(args.runs)]
    finally:
        server.shutdown()
    for name in CATEGORIES:
        scores = [run[name] for run in runs]
        print(f"{name}: median {statistics.median(scores):g} (runs: {scores})")


if __name__ == "__main__":
    main()
