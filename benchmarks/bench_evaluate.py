"""Wall time of tsad_helpers.metrics.evaluate on a long series (target: 1M points < 10 s on
2 cores). Run: python benchmarks/bench_evaluate.py [--points N] [--repeats R]
Appends a row to benchmarks/results/evaluate.csv."""

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd

from tsad_helpers import metrics
from tsad_helpers.results import save_table


def series(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    labels = np.zeros(n, dtype=np.int8)
    for start in rng.choice(n - 500, max(n // 2500, 1), replace=False):
        labels[start:start + rng.integers(1, 300)] = 1
    return rng.normal(size=n) + 1.5 * labels, labels


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--vus-window", type=int, default=100)
    args = parser.parse_args()
    scores, labels = series(args.points)
    threshold = float(np.quantile(scores, 0.99))
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        metrics.evaluate(scores, labels, threshold, vus_window=args.vus_window)
        times.append(time.perf_counter() - start)
    row = {"date": time.strftime("%Y-%m-%d"), "points": args.points,
           "events": int(np.count_nonzero(np.diff(labels) == 1)), "vus_window": args.vus_window,
           "best_s": round(min(times), 3), "median_s": round(float(np.median(times)), 3),
           "cpus": os.cpu_count(), "machine": platform.machine()}
    print(row)
    out = Path(__file__).parent / "results" / "evaluate.csv"
    table = pd.concat([pd.read_csv(out), pd.DataFrame([row])]) if out.exists() else pd.DataFrame([row])
    save_table(table, out)


if __name__ == "__main__":
    main()
