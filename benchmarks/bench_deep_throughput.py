"""Training and scoring throughput (windows per second) of the deep detectors, with and
without XLA (jit_compile), and peak memory.

Run:  TSAD_DATA_DIR=../shared/datasets python benchmarks/bench_deep_throughput.py \\
          [--dataset smd] [--entity machine-1-3] [--profile paper] [--epochs 2]
Appends rows to benchmarks/results/deep_throughput.csv. Run it on an idle machine.
"""

import argparse
import resource
import time
from pathlib import Path

import pandas as pd

from tsad_helpers import datasets, detectors, profiles
from tsad_helpers.preprocessing import window_starts
from tsad_helpers.results import save_table


def measure(name: str, params: dict, ds, epochs: int) -> dict:
    det = detectors.make(name, **{**params, "epochs": epochs, "patience": epochs,
                                  "validation_fraction": 0.0})
    start = time.perf_counter()
    det.fit(ds.train)
    fit_s = time.perf_counter() - start
    n_train = len(window_starts(len(ds.train), det.window, det.fit_stride)) * epochs
    start = time.perf_counter()
    det.score(ds.test)
    score_s = time.perf_counter() - start
    n_score = len(window_starts(len(ds.test), det.window, 1))
    return {"detector": name, "jit_compile": params.get("jit_compile", False),
            "train_windows_per_s": round(n_train / fit_s, 1),
            "score_windows_per_s": round(n_score / score_s, 1),
            "fit_s": round(fit_s, 1), "score_s": round(score_s, 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", default="smd")
    parser.add_argument("--entity", default="machine-1-3")
    parser.add_argument("--profile", default="paper")
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    ds = datasets.load(args.dataset, args.entity)
    settings = profiles.get(args.profile)["detectors"]
    rows = []
    for name in ("transformer_ae_gan", "lstm_ae"):
        for jit in (False, True):
            row = measure(name, {**settings[name], "jit_compile": jit}, ds, args.epochs)
            row.update(date=time.strftime("%Y-%m-%d"), dataset=args.dataset, entity=args.entity,
                       profile=args.profile,
                       peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))
            print(row, flush=True)
            rows.append(row)
    out = Path(__file__).parent / "results" / "deep_throughput.csv"
    table = pd.concat([pd.read_csv(out), pd.DataFrame(rows)]) if out.exists() else pd.DataFrame(rows)
    save_table(table, out)


if __name__ == "__main__":
    main()
