"""Why the statistical detectors fit with one BLAS thread: ARIMA fitted on a few SMD channels
with NumPy's BLAS at its default thread pool (every core) and limited to one thread
(``statistical.one_blas_thread``, what the detectors do), alternately, in one process.

Run:  TSAD_DATA_DIR=../shared/datasets python benchmarks/bench_blas_threads.py \\
          [--channels 6] [--repeats 2]

The gap depends on what else runs: with every core busy, BLAS threads wait on one another.
Each row records the cores, the BLAS threads, the one-minute load average before the fit
(0: idle) and when the call ran; each call adds its rows to
benchmarks/results/blas_threads.csv.
"""

import argparse
import contextlib
import os
import time

import pandas as pd
from threadpoolctl import threadpool_info

from tsad_helpers import datasets, detectors
from tsad_helpers.detectors import statistical
from tsad_helpers.results import REPO_ROOT, save_table


def fit_seconds(x, limited: bool) -> float:
    original = statistical.one_blas_thread
    if not limited:
        statistical.one_blas_thread = contextlib.nullcontext
    try:
        start = time.perf_counter()
        detectors.make("arima").fit(x)
        return time.perf_counter() - start
    finally:
        statistical.one_blas_thread = original


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--channels", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    x = datasets.load("smd", "machine-1-3").train[:, :args.channels]
    blas = max((i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"),
               default=1)
    rows = []
    for repeat in range(args.repeats):
        for limited in (False, True):
            load = os.getloadavg()[0]
            rows.append({"repeat": repeat, "blas_threads": 1 if limited else blas,
                         "cores": len(os.sched_getaffinity(0)), "load_before": round(load, 2),
                         "channels": args.channels,
                         "fit_seconds": round(fit_seconds(x, limited), 1)})
            print(rows[-1], flush=True)
    # every call adds its rows (idle and busy machines both belong in the record)
    target = REPO_ROOT / "benchmarks" / "results" / "blas_threads.csv"
    table = pd.DataFrame(rows).assign(run=time.strftime("%Y-%m-%d %H:%M"))
    if target.is_file():
        table = pd.concat([pd.read_csv(target), table], ignore_index=True)
    save_table(table, target, index=False)


if __name__ == "__main__":
    main()
