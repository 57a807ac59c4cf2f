"""How far a seeded deep run repeats when what differs between machines differs: TensorFlow's
oneDNN kernels (on by default on x86 CPUs, chosen by the CPU's instruction set) and the number
of threads its ops use. Each configuration runs ``python -m tsad_helpers evaluate`` in its own
process with the same seed, so the only difference is the environment.

Run:  TSAD_DATA_DIR=<data root> python benchmarks/bench_reproducibility.py \\
          [--dataset asd] [--entity omi-1] [--detector transformer_ae_gan] [--profile paper]
Writes benchmarks/results/reproducibility.csv (one row per configuration: epochs run, the
best validation loss's epoch, VUS-PR, F1, wall seconds, and whether the metrics equal the
first configuration's bit for bit) and prints it.

What a row can and cannot say: two configurations on this machine stand in for two machines
(another CPU picks other oneDNN kernels; another core count other thread pools). A CPU with
another instruction set can differ in ways this machine cannot show.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
CONFIGS = {  # name: environment variables set for the run
    "default": {},
    "default, again": {},
    "oneDNN off": {"TF_ENABLE_ONEDNN_OPTS": "0"},
    "1 thread": {"TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1"},
    "oneDNN off, 1 thread": {"TF_ENABLE_ONEDNN_OPTS": "0", "TF_NUM_INTRAOP_THREADS": "1",
                             "TF_NUM_INTEROP_THREADS": "1"},
}


def run(config: str, args, folder: Path) -> dict:
    out = folder / f"{len(list(folder.glob('*.json')))}.json"
    env = {**os.environ, "PYTHONHASHSEED": "0", "TF_CPP_MIN_LOG_LEVEL": "3",
           **CONFIGS[config]}
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "tsad_helpers", "evaluate", "--dataset", args.dataset,
                    "--entity", args.entity, "--detector", args.detector, "--profile",
                    args.profile, "--seed", "0", "--out", str(out)], check=True, env=env,
                   cwd=REPO, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    result = json.loads(out.read_text())
    log = pd.read_csv(out.with_name(f"{out.stem}.loss.csv"))
    m = result["metrics"]
    return {"config": config, "env": " ".join(f"{k}={v}" for k, v in CONFIGS[config].items()),
            "epochs_run": result["epochs_run"],
            "best_epoch": int(log["val_rec_loss"].idxmin()) + 1,
            "best_val_loss": float(log["val_rec_loss"].min()),
            "vus_pr_period": m["vus_pr_period"], "vus_pr": m["vus_pr"], "f1": m["f1"],
            "threshold": m["threshold"], "wall_seconds": round(seconds, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="asd")
    parser.add_argument("--entity", default="omi-1")
    parser.add_argument("--detector", default="transformer_ae_gan")
    parser.add_argument("--profile", default="paper")
    parser.add_argument("--out", default=str(REPO / "benchmarks/results/reproducibility.csv"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = [run(config, args, Path(tmp)) for config in CONFIGS]
    table = pd.DataFrame(rows)
    keys = ["epochs_run", "best_val_loss", "vus_pr_period", "vus_pr", "f1", "threshold"]
    first = table.iloc[0]
    table["equal_to_default"] = [bool((r[keys] == first[keys]).all()) for _, r in
                                 table.iterrows()]
    table.insert(0, "detector", args.detector)
    table.insert(1, "entity", f"{args.dataset}/{args.entity}")
    from tsad_helpers.results import save_table

    save_table(table, args.out)
    print(table.to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
