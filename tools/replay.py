"""Replay a real crowdsourcing dataset through Foule's HTTP API, end to end, and check nothing is lost.

    python -m tools.replay --dataset ../shared/datasets/rte [--api URL] [--admin-key KEY]
                           [--gold-fraction 0.1] [--concurrency 8] [--seed 1] [--timeout 120]
                           [--max-tasks N] [--kind KIND]

With `make run` going, --api and --admin-key default to `.local/stack.json`. The dataset folder
holds `answers.csv` and `gold.csv` (../shared/datasets/README.md): `worker,task,label` and
`task,label` for single choice; `worker,task,answer` and `task,answer` for the other kinds,
read from the folder's name (`numeric-*`: number, `text-*`, `multilabel-*`: multiple choice,
`box-*`: boxes, `pairwise-*` with `worker,task,left,right,answer` and gold `item,rank`) unless
--kind names it. tools/replay_kinds holds what differs per kind.

Steps, over HTTP only: create a requester key and one worker key per dataset worker; create a
project of the dataset's kind; upload the tasks (a seeded fraction of the gold tasks as gold;
a pairwise task shows its two items); have every worker lease and answer exactly the tasks it
answered in the data, as it answered them, N clients at once; ask for an aggregation and wait
until the published manifest counts every acknowledged answer; download results.jsonl (and
ranking.jsonl for pairwise) through its presigned URL, check its sha256 and score it against
gold with the kind's metric.

stdout gets one JSON line (sent, acknowledged, published, lost, failed, duplicates, tasks,
accuracy or the kind's metric, answers_per_second, p50/p95/p99_ms, ...); progress goes to
stderr. The exit code is non-zero when an answer was lost or failed, or when the replay could
not be completed.
"""
import argparse
import collections
import concurrent.futures
import csv
import hashlib
import json
import random
import sys
import threading
import time
from pathlib import Path

import requests

from tools import replay_kinds

STACK_FILE = Path(__file__).resolve().parent.parent / ".local" / "stack.json"
TASK_BATCH = 1000
MAX_OVERLAP = 100  # ProjectCreate.overlap's upper bound
ATTEMPTS = 5  # per call, for connection errors and 503
REQUEST_TIMEOUT = 30
POLL_SECONDS = 1.0


class ReplayError(Exception):
    """The replay cannot go on (setup refused, bad dataset, no results): a clear message."""


def log(message: str) -> None:
    print(f"[replay] {message}", file=sys.stderr, flush=True)


# --- The dataset ------------------------------------------------------------------------------
def read_dataset(folder: Path) -> tuple[list[tuple[str, str, str]], dict[str, str]]:
    """(answers as (worker, task, answer) rows, gold as {task: answer}); everything a string, as
    in the files (the `label` column of single-choice folders, `answer` of the others; pairwise
    gold is per item: see read_pairs)."""
    with open(folder / "answers.csv", newline="") as f:
        answers = [(r["worker"], r["task"], r["label"] if "label" in r else r["answer"]) for r in csv.DictReader(f)]
    gold = {}
    if (folder / "gold.csv").exists():
        with open(folder / "gold.csv", newline="") as f:
            gold = {r["task"]: r["label"] if "label" in r else r["answer"] for r in csv.DictReader(f) if "task" in r}
    if not answers:
        raise ReplayError(f"{folder / 'answers.csv'} has no answers")
    return answers, gold


def read_pairs(folder: Path) -> tuple[dict[str, tuple[str, str]], dict[str, int]]:
    """Pairwise: each task's (left, right) items, and the gold rank of each item (1 = best)."""
    with open(folder / "answers.csv", newline="") as f:
        pairs = {r["task"]: (r["left"], r["right"]) for r in csv.DictReader(f)}
    ranks = {}
    if (folder / "gold.csv").exists():
        with open(folder / "gold.csv", newline="") as f:
            ranks = {r["item"]: int(r["rank"]) for r in csv.DictReader(f)}
    return pairs, ranks


def read_judged(folder: Path) -> dict[str, list[str]]:
    """Multiple choice with a partial gold: the labels gold judged, per task (none: all)."""
    if not (folder / "gold.csv").exists():
        return {}
    with open(folder / "gold.csv", newline="") as f:
        return {r["task"]: json.loads(r["judged_labels"]) for r in csv.DictReader(f) if r.get("judged_labels")}


def unique_jobs(answers: list[tuple[str, str, str]]) -> tuple[list[tuple[str, str, str]], int]:
    """The first answer of each (worker, task) pair, in file order, and how many repeats were dropped."""
    seen, jobs = set(), []
    for worker, task, label in answers:
        if (worker, task) not in seen:
            seen.add((worker, task))
            jobs.append((worker, task, label))
    return jobs, len(answers) - len(jobs)


def overlap_of(jobs: list[tuple[str, str, str]]) -> int:
    """The largest number of distinct workers on one task (jobs are unique pairs already)."""
    return max(collections.Counter(task for _, task, _ in jobs).values())


def choose_gold(tasks: list[str], gold: dict[str, str], fraction: float, rng: random.Random) -> set[str]:
    """A fraction of the tasks that have a known label, chosen reproducibly."""
    candidates = sorted(t for t in tasks if t in gold)
    return set(rng.sample(candidates, round(fraction * len(candidates))))


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100) of the values, or None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))  # ceil(n * q / 100), at least 1
    return ordered[int(rank) - 1]


def score(rows: list[dict], gold: dict[str, str], gold_tasks: set[str],
          acknowledged_by_task: collections.Counter) -> dict:
    """Counts and accuracy of the published rows against what was acknowledged and the gold labels."""
    published_by_task = {r["task_id"]: int(r["answer_count"]) for r in rows}
    published = sum(published_by_task.values())
    shortfall = sum(max(0, n - published_by_task.get(task, 0)) for task, n in acknowledged_by_task.items())
    acknowledged = sum(acknowledged_by_task.values())
    scored = [r for r in rows if r["task_id"] in gold and r["task_id"] not in gold_tasks]
    correct = sum(str(r["label"]) == gold[r["task_id"]] for r in scored)
    return {"published": published, "lost": max(acknowledged - published, shortfall, 0),
            "tasks": len(rows), "scored_tasks": len(scored),
            "accuracy": round(correct / len(scored), 4) if scored else None}


# --- HTTP -------------------------------------------------------------------------------------
def call(session: requests.Session, method: str, url: str, key: str | None = None,
         body: dict | None = None) -> requests.Response:
    """One API call, retried on connection errors and 503 (honouring Retry-After). Returns the
    last response, whatever its status; raises requests.RequestException if it never got one."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    for attempt in range(1, ATTEMPTS + 1):
        try:
            response = session.request(method, url, json=body, headers=headers, timeout=REQUEST_TIMEOUT)
        except requests.RequestException:
            if attempt == ATTEMPTS:
                raise
            time.sleep(0.2 * 2 ** attempt)
            continue
        if response.status_code != 503 or attempt == ATTEMPTS:
            return response
        try:
            wait = float(response.headers.get("Retry-After", "1"))
        except ValueError:
            wait = 1.0
        time.sleep(min(max(wait, 0.1), 10))
    raise AssertionError("unreachable")


def error_text(response: requests.Response) -> str:
    try:
        error = response.json()["error"]
        return f"{response.status_code} {error['code']}: {error['message']}"
    except (ValueError, KeyError, TypeError):
        return f"{response.status_code}: {response.text[:200]}"


def expect(response: requests.Response, what: str) -> dict:
    if not 200 <= response.status_code < 300:
        raise ReplayError(f"{what} failed: {error_text(response)}")
    return response.json()


# --- The steps --------------------------------------------------------------------------------
def create_keys(api: str, admin_key: str, workers: list[str], concurrency: int) -> tuple[str, dict[str, str]]:
    """A requester key, and a worker key per dataset worker (created concurrently)."""
    with requests.Session() as session:
        requester = expect(call(session, "POST", f"{api}/keys", admin_key,
                                {"role": "requester", "name": "replay requester"}), "creating the requester key")

    local = threading.local()

    def create_worker_key(worker: str) -> str:
        if not hasattr(local, "session"):
            local.session = requests.Session()
        response = call(local.session, "POST", f"{api}/keys", admin_key,
                        {"role": "worker", "name": f"replay worker {worker}"[:200]})
        return expect(response, f"creating the key of worker {worker}")["key"]

    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        keys = dict(zip(workers, pool.map(create_worker_key, workers)))
    return requester["key"], keys


def create_project(session: requests.Session, api: str, key: str, name: str, answer_type: dict,
                   overlap: int) -> str:
    body = {"title": f"Replay of {name}", "instructions": f"Replayed from the {name} dataset.",
            "answer_type": answer_type, "overlap": overlap,
            "reward_cents": 1, "lease_seconds": 600}
    return expect(call(session, "POST", f"{api}/projects", key, body), "creating the project")["project_id"]


def upload_tasks(session: requests.Session, api: str, key: str, project_id: str, name: str,
                 tasks: list[str], gold: dict, gold_tasks: set[str], kind: str = "single_choice",
                 pairs: dict | None = None) -> None:
    items = [{"task_id": t, "payload": replay_kinds.payload(kind, name, t, pairs or {}),
              **({"known_answer": gold[t]} if t in gold_tasks else {})} for t in tasks]
    for start in range(0, len(items), TASK_BATCH):
        batch = items[start:start + TASK_BATCH]
        result = expect(call(session, "POST", f"{api}/projects/{project_id}/tasks", key, {"tasks": batch}),
                        f"uploading tasks {start}..{start + len(batch) - 1}")
        if result.get("errors"):
            raise ReplayError(f"the task upload was refused in part: {json.dumps(result['errors'][:5])}")


def answer_all(api: str, project_id: str, jobs: list[tuple[str, str, object]], keys: dict[str, str],
               concurrency: int, rng: random.Random) -> dict:
    """Every (worker, task, label) job leased and answered, `concurrency` clients at once.

    Latency is measured per job: the lease call plus the answer call, retries included.
    """
    local = threading.local()

    def run(job: tuple[str, str, str], time_spent_ms: int) -> tuple[str, str, float, str | None]:
        worker, task, label = job
        if not hasattr(local, "session"):
            local.session = requests.Session()
        started = time.perf_counter()
        try:
            lease = call(local.session, "POST", f"{api}/projects/{project_id}/tasks/{task}/lease", keys[worker])
            if not 200 <= lease.status_code < 300:
                return worker, task, time.perf_counter() - started, f"lease {error_text(lease)}"
            lease_id = lease.json()["lease_id"]
            answer = call(local.session, "POST", f"{api}/leases/{lease_id}/answer", keys[worker],
                          {"answer": label, "time_spent_ms": time_spent_ms})
            failure = None if 200 <= answer.status_code < 300 else f"answer {error_text(answer)}"
        except (requests.RequestException, ValueError, KeyError) as exc:  # no answer, or not JSON
            failure = f"error {type(exc).__name__}"
        return worker, task, time.perf_counter() - started, failure

    shuffled = list(jobs)
    rng.shuffle(shuffled)
    spent = [rng.randint(2_000, 60_000) for _ in shuffled]
    acknowledged_by_task, failures, latencies = collections.Counter(), collections.Counter(), []
    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        for done, (worker, task, seconds, failure) in enumerate(pool.map(run, shuffled, spent), 1):
            latencies.append(seconds * 1000)
            if failure:
                failures[failure.split(":")[0]] += 1
                if sum(failures.values()) <= 5:
                    log(f"worker {worker} on task {task}: {failure}")
            else:
                acknowledged_by_task[task] += 1
            if done % 1000 == 0:
                log(f"{done}/{len(shuffled)} answers sent ({time.perf_counter() - started:.1f} s)")
    return {"acknowledged_by_task": acknowledged_by_task, "failures": failures,
            "latencies_ms": latencies, "seconds": time.perf_counter() - started}


def wait_for_results(session: requests.Session, api: str, key: str, project_id: str,
                     acknowledged: int, timeout: float) -> tuple[dict | None, bool]:
    """Ask for an aggregation, then the latest results once they count every acknowledged answer.
    Returns (results or the last ones seen or None, whether they caught up before the timeout)."""
    expect(call(session, "POST", f"{api}/projects/{project_id}/aggregate", key), "requesting an aggregation")
    deadline, latest = time.monotonic() + timeout, None
    while True:
        response = call(session, "GET", f"{api}/projects/{project_id}/results", key)
        if 200 <= response.status_code < 300:
            latest = response.json()
            if int(latest["manifest"].get("answers", 0)) >= acknowledged:
                return latest, True
        elif response.status_code != 404 or response.json().get("error", {}).get("code") != "no_results_yet":
            raise ReplayError(f"reading the results failed: {error_text(response)}")
        if time.monotonic() > deadline:
            return latest, False
        time.sleep(POLL_SECONDS)


def download_results(results: dict, name: str = "results.jsonl") -> list[dict]:
    """A JSON-lines file of the run through its presigned URL (no API key), checked against the
    manifest's sha256."""
    entry = results["files"][name]
    response = requests.get(entry["url"], timeout=REQUEST_TIMEOUT)
    if response.status_code != 200:
        raise ReplayError(f"downloading {name} failed: {response.status_code} {response.text[:200]}")
    expected = results["manifest"]["files"][name]["sha256"]
    if hashlib.sha256(response.content).hexdigest() != expected:
        raise ReplayError(f"{name} does not match the sha256 of its manifest")
    return [json.loads(line) for line in response.text.splitlines() if line.strip()]


def first_tasks(jobs: list[tuple[str, str, str]], max_tasks: int | None) -> list[tuple[str, str, str]]:
    """The jobs of the first `max_tasks` task ids in sorted order (all of them when None)."""
    if max_tasks is None:
        return jobs
    kept = set(sorted({task for _, task, _ in jobs})[:max_tasks])
    return [job for job in jobs if job[1] in kept]


def replay(api: str, dataset, admin_key: str, gold_fraction: float = 0.1, concurrency: int = 8,
           seed: int = 0, timeout: float = 120, max_tasks: int | None = None, kind: str | None = None) -> dict:
    """Run the whole replay; return the report (see the module docstring). Raises ReplayError."""
    folder, api = Path(dataset), api.rstrip("/")
    name = folder.resolve().name
    kind = kind or replay_kinds.kind_of(folder.resolve())
    answers, gold = read_dataset(folder)
    answers = [(worker, task, replay_kinds.value(kind, raw)) for worker, task, raw in answers]
    gold = {task: replay_kinds.value(kind, raw) for task, raw in gold.items()}
    jobs, duplicates = unique_jobs(answers)
    jobs = first_tasks(jobs, max_tasks)
    answer_type = replay_kinds.answer_type(kind, [answer for _, _, answer in answers], gold)
    pairs, item_ranks = read_pairs(folder) if kind == "pairwise" else ({}, {})
    if kind == "pairwise":
        gold = replay_kinds.pairwise_gold(pairs, item_ranks, answer_type["allow_tie"])
    judged = read_judged(folder) if kind == "multiple_choice" else {}
    # Dataset ids that are not valid task ids (e.g. "dev-clean/76") get a valid one here.
    ids = {task: replay_kinds.task_id(task) for _, task, _ in jobs}
    jobs = [(worker, ids[task], answer) for worker, task, answer in jobs]
    gold, pairs, judged = ({ids[t]: v for t, v in table.items() if t in ids} for table in (gold, pairs, judged))
    tasks = sorted({task for _, task, _ in jobs})
    workers = sorted({worker for worker, _, _ in jobs})
    overlap = overlap_of(jobs)
    if overlap > MAX_OVERLAP:
        raise ReplayError(f"a task has {overlap} workers; a project allows at most {MAX_OVERLAP}")
    rng = random.Random(seed)
    # A partial gold (some labels judged, the others unknown) cannot be a task's known answer:
    # such a dataset is scored only.
    gold_tasks = choose_gold(tasks, gold, gold_fraction, rng) if not judged else set()
    described = answer_type.get("labels", "") if kind == "single_choice" else kind
    log(f"{name}: {len(jobs)} of its {len(answers)} answers ({duplicates} repeated pairs), {len(tasks)} tasks, "
        f"{len(workers)} workers, {described}, overlap {overlap}, {len(gold_tasks)} gold tasks")

    requester_key, worker_keys = create_keys(api, admin_key, workers, concurrency)
    with requests.Session() as session:
        project_id = create_project(session, api, requester_key, name, answer_type, overlap)
        upload_tasks(session, api, requester_key, project_id, name, tasks, gold, gold_tasks, kind, pairs)
        log(f"project {project_id}: {len(tasks)} tasks uploaded; answering with {concurrency} clients")
        work = answer_all(api, project_id, jobs, worker_keys, concurrency, rng)
        acknowledged = sum(work["acknowledged_by_task"].values())
        log(f"{acknowledged}/{len(jobs)} answers acknowledged in {work['seconds']:.1f} s; waiting for results")
        results, caught_up = wait_for_results(session, api, requester_key, project_id, acknowledged, timeout)
    if results is None:
        raise ReplayError(f"no results were published within {timeout:g} s")
    if not caught_up:
        log(f"timed out after {timeout:g} s: the latest run counts {results['manifest'].get('answers')} answers")
    rows = download_results(results)
    if kind == "single_choice":
        scores = score(rows, gold, gold_tasks, work["acknowledged_by_task"])
    else:
        scored = [r for r in rows if r["task_id"] in gold and r["task_id"] not in gold_tasks]
        ranking = download_results(results, "ranking.jsonl") if kind == "pairwise" else None
        scores = {**score(rows, {}, gold_tasks, work["acknowledged_by_task"]), "scored_tasks": len(scored),
                  **replay_kinds.quality(kind, answer_type, scored, gold, judged, ranking, item_ranks)}
        scores.pop("accuracy")
        if ranking is not None:
            scores["ranked_items"] = len(ranking)
    latencies = work["latencies_ms"]
    report = {"dataset": name, "kind": kind, "project_id": project_id, "run_id": results["run_id"],
              "method": results["method"], "workers": len(workers), "gold_tasks": len(gold_tasks),
              "sent": len(jobs), "acknowledged": acknowledged, **scores,
              "failed": sum(work["failures"].values()), "failures": dict(work["failures"]),
              "duplicates": duplicates, "timed_out": not caught_up,
              "answers_per_second": round(acknowledged / work["seconds"], 1) if work["seconds"] else None,
              **{f"p{q}_ms": round(percentile(latencies, q), 1) if latencies else None for q in (50, 95, 99)}}
    return report


def stack_defaults() -> dict:
    try:
        return json.loads(STACK_FILE.read_text())
    except (OSError, ValueError):
        return {}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.replay", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--api", help="API base URL (default: .local/stack.json)")
    parser.add_argument("--dataset", required=True, help="folder with answers.csv and gold.csv")
    parser.add_argument("--gold-fraction", type=float, default=0.1, help="share of gold tasks uploaded as gold")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent clients")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--admin-key", help="admin API key (default: .local/stack.json)")
    parser.add_argument("--timeout", type=float, default=120, help="seconds to wait for the results")
    parser.add_argument("--max-tasks", type=int, help="replay only the first N tasks (sorted ids)")
    parser.add_argument("--kind", choices=["single_choice", *replay_kinds.PREFIXES.values()],
                        help="the dataset's task kind (default: from the folder's name)")
    args = parser.parse_args(argv)
    if not 0 <= args.gold_fraction <= 1 or args.concurrency < 1:
        parser.error("--gold-fraction must be in [0, 1] and --concurrency at least 1")
    stack = stack_defaults() if not (args.api and args.admin_key) else {}
    api, admin_key = args.api or stack.get("api"), args.admin_key or stack.get("keys", {}).get("admin")
    if not api or not admin_key:
        parser.error(f"give --api and --admin-key, or start the stack (`make run`) so that {STACK_FILE} exists")
    try:
        report = replay(api, args.dataset, admin_key, args.gold_fraction, args.concurrency, args.seed, args.timeout,
                        args.max_tasks, args.kind)
    except (ReplayError, OSError, requests.RequestException) as exc:
        log(f"failed: {exc}")
        return 2
    print(json.dumps(report), flush=True)
    return 1 if report["lost"] or report["failed"] or report["timed_out"] else 0


if __name__ == "__main__":
    sys.exit(main())
