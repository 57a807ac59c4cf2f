"""Training and scoring throughput (windows per second) of the deep detectors, with and
without XLA (jit_compile), and peak memory.

Run:  TSAD_DATA_DIR=../shared/datasets python benchmarks/bench_deep_throughput.py \\
          [--dataset smd] [--entity machine-1-3] [--profile paper] [--epochs 2]
Appends rows to benchmarks/results/deep_throughput.csv. Run it on an idle machine.

Each configuration runs in its own process: TensorFlow's op determinism (on for every
non-XLA fit, see ``KerasWindowDetector._seed``) cannot be switched off inside a process, and
Keras silently falls back to plain graphs while it is on. ``jit_compiled`` records what ran;
``peak_rss_mb`` is the peak resident memory of that process (data, TensorFlow and model).
"""

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from tsad_helpers.results import save_table


def measure(name: str, jit: bool, args) -> dict:
    from tsad_helpers import datasets, detectors, profiles
    from tsad_helpers.preprocessing import window_starts

    ds = datasets.load(args.dataset, args.entity)
    params = profiles.get(args.profile)["detectors"][name]
    det = detectors.make(name, **{**params, "jit_compile": jit, "epochs": args.epochs,
                                  "patience": args.epochs, "validation_fraction": 0.0})
    start = time.perf_counter()
    det.fit(ds.train)
    fit_s = time.perf_counter() - start
    n_train = len(window_starts(len(ds.train), det.window, det.fit_stride)) * args.epochs
    start = time.perf_counter()
    det.decision_function(ds.test)
    score_s = time.perf_counter() - start
    n_score = len(window_starts(len(ds.test), det.window, 1))
    return {"detector": name, "jit_compile": jit, "jit_compiled": det.jit_compiled_,
            "train_windows_per_s": round(n_train / fit_s, 1),
            "score_windows_per_s": round(n_score / score_s, 1),
            "fit_s": round(fit_s, 1), "score_s": round(score_s, 1), "epochs": args.epochs,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", default="smd")
    parser.add_argument("--entity", default="machine-1-3")
    parser.add_argument("--profile", default="paper")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--one", nargs=2, metavar=("DETECTOR", "JIT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:  # child process: one configuration, result as JSON on the last line
        print(json.dumps(measure(args.one[0], args.one[1] == "1", args)), flush=True)
        return
    rows = []
    for name in ("transformer_ae_gan", "lstm_ae"):
        for jit in (False, True):
            cmd = [sys.executable, __file__, "--one", name, "1" if jit else "0",
                   "--dataset", args.dataset, "--entity", args.entity,
                   "--profile", args.profile, "--epochs", str(args.epochs)]
            done = subprocess.run(cmd, capture_output=True, text=True)
            if done.returncode:
                sys.exit(f"{name} jit={jit} failed:\n{done.stderr[-3000:]}")
            row = json.loads(done.stdout.strip().splitlines()[-1])
            row.update(date=time.strftime("%Y-%m-%d"), dataset=args.dataset,
                       entity=args.entity, profile=args.profile)
            print(row, flush=True)
            rows.append(row)
    out = Path(__file__).parent / "results" / "deep_throughput.csv"
    table = pd.concat([pd.read_csv(out), pd.DataFrame(rows)]) if out.exists() else pd.DataFrame(rows)
    save_table(table, out)


if __name__ == "__main__":
    main()
