"""Where the time of one Dawid-Skene EM step goes at scale, and what the alternatives cost.

    /tmp/bench-venv/bin/python bench/aggregation/em_floor.py [--answers 1000000]

Issue 3 asks `ds` to be 30x faster than crowd-kit's DawidSkene at 100k and 1M answers, in pure
numpy. This measures, on the benchmark's synthetic crowd (20 answers per worker, 10 per task,
5 labels), the numpy calls one EM step of `ds` is made of, then the same two sparse products
with scipy.sparse (if installed: the benchmark's venv has it, the Lambda package does not) and
the numpy calls split over two threads; and crowd-kit's DawidSkene fit and our whole fit, for the
per-step budget a 30x goal leaves. Medians of 10 repetitions, milliseconds. Not a test.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from synthetic import make_synthetic  # noqa: E402

from chalicelib.aggregation import aggregate  # noqa: E402
from chalicelib.aggregation.classification._answers import prepare_answers  # noqa: E402
from chalicelib.aggregation.classification._common import expected_counts, log_joint_from_confusion, normalize_log  # noqa: E402
from chalicelib.aggregation.classification.dawid_skene import fit as ds_fit  # noqa: E402


def median_ms(function, repeats: int = 10) -> float:
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--answers", type=int, default=1_000_000)
    args = parser.parse_args()
    tasks, workers, labels, truth, n_tasks, n_workers, n_labels = make_synthetic(args.answers)
    answers = prepare_answers(tasks, workers, labels, n_tasks, n_workers, n_labels)
    order, k = answers.by_task, n_labels
    rng = np.random.default_rng(0)
    posterior = rng.dirichlet(np.ones(k), n_tasks).T.copy()  # label-major, as inside the EM loop
    log_confusion = np.log(rng.dirichlet(np.ones(k), (n_workers, k)))
    log_class_prior = np.log(np.full(k, 1.0 / k))
    rows = []

    rows.append(("numpy: E-step (gather + per-task sums)",
                 median_ms(lambda: log_joint_from_confusion(answers, log_confusion, log_class_prior))))
    log_joint = log_joint_from_confusion(answers, log_confusion, log_class_prior)
    rows.append(("numpy: softmax of the E-step", median_ms(lambda: normalize_log(log_joint))))
    rows.append(("numpy: M-step counts (gather + bincount)", median_ms(lambda: expected_counts(answers, posterior))))
    iterations = ds_fit(answers).iterations
    whole = median_ms(lambda: aggregate("ds", tasks, workers, labels, n_tasks, n_workers, n_labels), 5)
    rows.append((f"numpy: whole `ds` fit ({iterations} iterations, input checks included)", whole))
    rows.append(("numpy: whole `ds` fit / iterations", whole / iterations))

    half = order.task.size // 2
    cut = int(np.searchsorted(order.segment_starts, half))
    starts = [order.segment_starts[:cut], order.segment_starts[cut:] - order.segment_starts[cut]]
    bounds = [(0, int(order.segment_starts[cut])), (int(order.segment_starts[cut]), order.task.size)]
    table = np.ascontiguousarray(log_confusion.transpose(1, 0, 2), dtype=np.float32).reshape(k, -1)

    def e_step_part(part: int) -> np.ndarray:
        low, high = bounds[part]
        gathered = np.take(table, order.worker_label[low:high], axis=1)
        return np.add.reduceat(gathered, starts[part], axis=1)

    with ThreadPoolExecutor(2) as pool:
        one = median_ms(lambda: [e_step_part(0), e_step_part(1)])
        two = median_ms(lambda: list(pool.map(e_step_part, (0, 1))))
    rows.append(("numpy: E-step gather + sums, 1 thread", one))
    rows.append(("numpy: the same split over 2 threads", two))

    try:
        import scipy.sparse as sparse
    except ImportError:
        sparse = None
    if sparse is not None:
        matrix = sparse.csr_matrix((np.ones(order.task.size, np.float32), (order.task, order.worker_label)),
                                   shape=(n_tasks, order.n_worker_labels))
        transposed = matrix.T.tocsr()
        table_rows = np.ascontiguousarray(table.T)
        posterior_rows = np.ascontiguousarray(posterior.T)
        rows.append(("scipy.sparse: E-step sums (CSR @ dense)", median_ms(lambda: matrix @ table_rows)))
        rows.append(("scipy.sparse: M-step counts (CSR @ dense)", median_ms(lambda: transposed @ posterior_rows)))
    try:
        import pandas as pd
        from crowdkit.aggregation import DawidSkene
        frame = pd.DataFrame({"task": tasks, "worker": workers, "label": labels})
        crowdkit = median_ms(lambda: DawidSkene(n_iter=100, tol=1e-5).fit(frame), 3)
        rows.append(("crowd-kit DawidSkene fit", crowdkit))
        rows.append(("30x goal: budget for the whole `ds` fit", crowdkit / 30))
        rows.append((f"30x goal: budget per `ds` iteration ({iterations} iterations)", crowdkit / 30 / iterations))
    except ImportError:
        pass
    print(f"{args.answers:,} answers, {n_tasks:,} tasks, {n_workers:,} workers, {n_labels} labels")
    print("| step | ms |\n|---|---:|")
    for name, ms in rows:
        print(f"| {name} | {ms:.1f} |")


if __name__ == "__main__":
    main()
