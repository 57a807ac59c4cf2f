"""How much two Dask workers speed up notebook 02's generator fits on this machine: the same
short TimeGAN fit (the paper profile's settings and series, a few epochs a phase) timed alone
in this process with one TensorFlow thread, alone with every core's threads, and as two tasks
at once on a LocalCluster of two single-threaded workers (what ``study.synthesise`` does).

Run:  TSAD_DATA_DIR=../shared/datasets python benchmarks/bench_synthesis_workers.py \\
          [--epochs 3] [--generator timegan]

Throughput of two workers against one process: 2 x (one alone, one thread) / (the slower of
the two at once). Each row records the cores, the one-minute load average before it (0: idle)
and when it ran; each call adds its rows to benchmarks/results/synthesis_workers.csv.
"""

import argparse
import os
import subprocess
import sys
import time

import pandas as pd

from tsad_helpers import grid, profiles
from tsad_helpers.results import REPO_ROOT, save_table
from tsad_helpers.synthesis import make, study, workflow


def fit_seconds(generator: str, epochs: int) -> float:
    """One fit of ``generator`` on the paper profile's first series, ``epochs`` per phase."""
    settings = profiles.get("paper")
    cfg = settings["synthesis"]
    ds = study.load_series(settings)[0][0]
    x, y, _, _ = workflow.labelled_windows(ds, cfg["window"], study.stride_for(cfg, ds.name),
                                           cfg["train_share"])
    params = {**cfg["generators"][generator], "epochs": epochs}
    if generator == "timegan":
        params.update(embedding_epochs=epochs, supervised_epochs=epochs)
    start = time.perf_counter()
    make(generator, **params).fit(x, y)
    return time.perf_counter() - start


def alone(generator: str, epochs: int, threads: int) -> float:
    """The fit in a fresh process with ``threads`` TensorFlow threads (set before import)."""
    env = {**os.environ, "TF_NUM_INTRAOP_THREADS": str(threads), "TF_NUM_INTEROP_THREADS": "1"}
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from bench_synthesis_workers import "
            "fit_seconds; print(fit_seconds(sys.argv[2], int(sys.argv[3])))")
    done = subprocess.run([sys.executable, "-c", code, str(REPO_ROOT / "benchmarks"), generator,
                           str(epochs)], env=env, capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--generator", default="timegan")
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))
    rows = []

    def record(setup, seconds):
        rows.append({"generator": args.generator, "epochs": args.epochs, "setup": setup,
                     "cores": cores, "load_before": round(load, 2),
                     "fit_seconds": round(seconds, 1)})
        print(rows[-1], flush=True)

    for threads in (1, cores):
        load = os.getloadavg()[0]
        record(f"alone, {threads} thread(s)", alone(args.generator, args.epochs, threads))
    load = os.getloadavg()[0]
    with grid.cluster(workers=2) as client:
        futures = [client.submit(fit_seconds, args.generator, args.epochs, pure=False)
                   for _ in range(2)]
        for seconds in client.gather(futures):
            record("2 workers at once, 1 thread each", seconds)
    one, pair = rows[0]["fit_seconds"], max(r["fit_seconds"] for r in rows[2:])
    print(f"two workers do {2 * one / pair:.2f} x the work of one single-threaded process")
    target = REPO_ROOT / "benchmarks" / "results" / "synthesis_workers.csv"
    table = pd.DataFrame(rows).assign(run=time.strftime("%Y-%m-%d %H:%M"))
    if target.is_file():
        table = pd.concat([pd.read_csv(target), table], ignore_index=True)
    save_table(table, target, index=False)


if __name__ == "__main__":
    main()
