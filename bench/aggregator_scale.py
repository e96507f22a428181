"""Time and peak memory of one aggregation run of a large project, reading from moto server.

    .venv/bin/python bench/aggregator_scale.py --answers 100000 [--per-task 5] [--workers 500]

Starts its own moto server (tools/moto_server.py) with infra/template.yaml deployed, writes a
synthetic project straight into the tables (tasks, and answers with their answer-index shard,
as the answer path writes them; 10% gold), then runs `aggregator.aggregate_project` in a
fresh child process and reports: wall time of the run, of its reading step alone, the
child's peak RSS, and its RSS after imports (so the run's own share is the difference).
Loading goes through moto one request at a time: 1M answers take long to load.
`--in-memory` measures the same run without moto (synthetic rows, no-op writes): the CPU time
and memory of building the arrays, aggregating and writing the files, at any size.
"""
import argparse
import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHILD = r"""
import json, resource, sys, time
rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
from chalicelib.models import Project
from chalicelib.services import aggregator
rss_imports = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
project_id = sys.argv[1]
read_s = None
if "--read-step" in sys.argv:
    start = time.perf_counter()
    rows = aggregator.load_answers(project_id)
    read_s = time.perf_counter() - start
    del rows
start = time.perf_counter()
summary = aggregator.aggregate_project(Project.get(project_id, consistent_read=True))
run_s = time.perf_counter() - start
print(json.dumps({"summary": summary, "read_s": read_s and round(read_s, 2), "run_s": round(run_s, 2),
                  "rss_after_imports_mib": round(rss_imports / 1024, 1),
                  "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))
"""


# --in-memory: the same run with DynamoDB and S3 replaced by synthetic rows and no-op writes, so
# that its CPU time and memory can be measured at sizes moto cannot serve (1M answers).
IN_MEMORY_CHILD = r"""
import json, random, resource, sys, time
from types import SimpleNamespace
from chalicelib.services import aggregator, publishing
n_answers, per_task, n_workers = map(int, sys.argv[1:4])
rss_imports = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
rng = random.Random(1)
labels = ["a", "b", "c"]
n_tasks = n_answers // per_task
truth = [rng.choice(labels) for _ in range(n_tasks)]
skill = [rng.uniform(0.55, 0.95) for _ in range(n_workers)]
rows = []
for i in range(n_tasks):
    for w in rng.sample(range(n_workers), per_task):
        rows.append(aggregator.AnswerRow(f"t{i:07d}", f"w{w:05d}",
                    truth[i] if rng.random() < skill[w] else rng.choice(labels), 1_700_000_000_000 + i, 1000))
tasks = [SimpleNamespace(task_id=f"t{i:07d}", payload={"i": i}, known_answer=truth[i] if i % 10 == 0 else None)
         for i in range(n_tasks)]
rss_data = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
aggregator.load_answers = lambda project_id: rows
aggregator.Task = SimpleNamespace(query=lambda *a, **k: iter(tasks))
aggregator.store_results = aggregator.mark_run = lambda *a, **k: None
aggregator.quality = SimpleNamespace(without_excluded=lambda project, answers: (answers, {}),
                                     after_run=lambda *a, **k: None)
sizes = {}
publishing.publish_run = lambda project_id, run_id, files, manifest: sizes.update({k: len(v) for k, v in files.items()})
project = SimpleNamespace(project_id="p-mem", answer_type={"labels": labels}, aggregation_method=None)
start = time.perf_counter()
summary = aggregator._run(project, "run", 0, "salt")
run_s = time.perf_counter() - start
print(json.dumps({"summary": summary, "run_s": round(run_s, 2), "file_bytes": sizes,
                  "rss_after_imports_mib": round(rss_imports / 1024, 1),
                  "rss_with_answers_in_memory_mib": round(rss_data / 1024, 1),
                  "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))
"""


def load(project_id: str, n_answers: int, per_task: int, n_workers: int, seed: int) -> float:
    from chalicelib.models import Assignment, Project, Task
    from chalicelib.models.assignments import task_key
    from chalicelib.services.leases import answer_shard

    rng = random.Random(seed)
    labels = ["a", "b", "c"]
    n_tasks = n_answers // per_task
    now = int(time.time() * 1000)
    start = time.perf_counter()
    Project(project_id, owner_id="bench", title="scale", answer_type={"kind": "single_choice", "labels": labels},
            overlap=per_task, reward_cents=0, lease_seconds=600, priority=0, status="active",
            created_at=now, updated_at=now).save()
    skill = [rng.uniform(0.55, 0.95) for _ in range(n_workers)]
    truth = [rng.choice(labels) for _ in range(n_tasks)]
    with Task.batch_write() as tasks:
        for i in range(n_tasks):
            gold = truth[i] if i % 10 == 0 else None
            tasks.save(Task(project_id, f"t{i:07d}", payload={"i": i}, known_answer=gold, created_at=now))
    with Assignment.batch_write() as answers:
        for i in range(n_tasks):
            task_id = f"t{i:07d}"
            for w in rng.sample(range(n_workers), per_task):
                label = truth[i] if rng.random() < skill[w] else rng.choice(labels)
                answers.save(Assignment(task_key(project_id, task_id), f"w{w:05d}", project_id=project_id,
                                        task_id=task_id, lease_id=f"l{i}-{w}", slot="0", state="submitted",
                                        leased_at=now, expires_at=now, answer=label, submitted_at=now + i,
                                        time_spent_ms=rng.randrange(500, 20000),
                                        answer_shard=answer_shard(project_id, task_id)))
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--answers", type=int, default=100_000)
    parser.add_argument("--per-task", type=int, default=5)
    parser.add_argument("--workers", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--read-step", action="store_true", help="also time reading the answers alone, first")
    parser.add_argument("--in-memory", action="store_true", help="no moto: synthetic rows, no-op writes")
    args = parser.parse_args()
    if args.in_memory:
        child = subprocess.run([sys.executable, "-c", IN_MEMORY_CHILD, str(args.answers), str(args.per_task),
                                str(args.workers)], cwd=ROOT, capture_output=True, text=True)
        if child.returncode:
            print(child.stderr[-3000:], file=sys.stderr)
            return 1
        report = json.loads(child.stdout.strip().splitlines()[-1])
        report.update(answers=args.answers, workers=args.workers, mode="in-memory", machine_cpus=os.cpu_count())
        print(json.dumps(report))
        return 0

    from tools import local_stack

    for name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL")]:
        del os.environ[name]
    port = local_stack.free_port()
    moto = local_stack.start_moto(port)
    try:
        os.environ.update(local_stack.deploy_stack(f"http://127.0.0.1:{port}"))
        project_id = f"p-bench{args.answers}"
        load_s = load(project_id, args.answers, args.per_task, args.workers, args.seed)
        child = subprocess.run([sys.executable, "-c", CHILD, project_id, *(["--read-step"] if args.read_step else [])],
                               cwd=ROOT, env=os.environ.copy(),
                               capture_output=True, text=True)
        if child.returncode:
            print(f"loaded {args.answers} answers in {load_s:.0f} s; the run failed:\n{child.stderr[-3000:]}",
                  file=sys.stderr)
            return 1
        report = json.loads(child.stdout.strip().splitlines()[-1])
        report.update(answers=args.answers, tasks=args.answers // args.per_task, workers=args.workers,
                      load_s=round(load_s, 1), machine_cpus=os.cpu_count())
        print(json.dumps(report))
    finally:
        moto.terminate()
        moto.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
