"""Rerun stored detector-benchmark runs with the current code and compare their metrics with the
stored ones (a check that a refactoring preserved behaviour). Nothing stored is touched: loss
logs go to a temporary folder, the comparison to benchmarks/results/recheck_<dataset>.csv.

Run:  TSAD_DATA_DIR=../shared/datasets python benchmarks/recheck_detectors.py \\
          [--dataset smd] [--entities machine-1-3 machine-2-1 machine-3-2] \\
          [--detectors pca iforest transformer_ae_gan lstm_ae] [--profile paper] [--seed 0]

Stored runs: simulation_results/detectors/<profile>/<dataset>/<detector>/<entity>_seed<k>.json
(benchmarks/bench_detectors.py). Each row: the stored and rerun value of every metric of the
benchmark tables, their largest absolute difference, whether the epochs run agree, and how far
the first epoch's validation loss moved (last digits: rounding, e.g. another thread count, so
run with the stored run's ``tf_intra_op_threads`` via TF_NUM_INTRAOP_THREADS; visibly: another
initialisation).
"""

import argparse
import json
import tempfile
from pathlib import Path

import pandas as pd

from tsad_helpers import datasets, profiles
from tsad_helpers.evaluation import evaluate_detector
from tsad_helpers.results import REPO_ROOT, save_table

METRICS = ["f1", "pa_f1", "auc_pr", "vus_pr", "affiliation_f1", "auc_roc", "best_f1"]


def recheck(dataset, entities, names, profile, seed, loss_dir) -> pd.DataFrame:
    settings = profiles.get(profile)
    rows = []
    for entity in entities:
        ds = datasets.load(dataset, entity)
        for name in names:
            stored_path = (REPO_ROOT / "simulation_results" / "detectors" / profile / dataset
                           / name / f"{entity.replace('/', '__')}_seed{seed}.json")
            if not stored_path.is_file():
                raise SystemExit(f"no stored run {stored_path}")
            stored = json.loads(stored_path.read_text())
            params = {}
            if "loss_log" in stored["detector_params"]:
                params["loss_log"] = str(Path(loss_dir) / f"{entity}_{name}.csv")
            new = evaluate_detector(ds, name, settings, profile, seed, params=params)
            row = {"entity": entity, "detector": name}
            for m in METRICS:
                row[f"{m}_stored"] = stored["metrics"][m]
                row[f"{m}_now"] = new["metrics"][m]
            row["max_abs_diff"] = max(abs(row[f"{m}_stored"] - row[f"{m}_now"]) for m in METRICS)
            if "loss_log" in params:
                now_log = pd.read_csv(params["loss_log"])
                old_log = REPO_ROOT / stored["detector_params"]["loss_log"]
                row["epochs_now"] = len(now_log)
                old_log = pd.read_csv(old_log) if old_log.is_file() else None
                row["epochs_stored"] = None if old_log is None else len(old_log)
                # the first epoch's validation loss: rounding (threads, kernels) moves it in
                # the last digits; another initialisation (an unseeded draw) moves it visibly
                col = next((c for c in now_log if c.startswith("val_")), None)
                if old_log is not None and col in old_log:
                    a, b = float(old_log[col].iloc[0]), float(now_log[col].iloc[0])
                    row["first_val_rel_diff"] = abs(a - b) / abs(a)
            row["fit_seconds_now"] = new["fit_seconds"]
            rows.append(row)
            print(f"{entity} {name}: vus_pr {row['vus_pr_stored']:.4f} -> {row['vus_pr_now']:.4f}"
                  f", max |diff| over {len(METRICS)} metrics {row['max_abs_diff']:.2e}",
                  flush=True)
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="smd")
    parser.add_argument("--entities", nargs="+",
                        default=["machine-1-3", "machine-2-1", "machine-3-2"])
    parser.add_argument("--detectors", nargs="+",
                        default=["pca", "iforest", "transformer_ae_gan", "lstm_ae"])
    parser.add_argument("--profile", default="paper")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--name", help="results file suffix (default: the dataset)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        table = recheck(args.dataset, args.entities, args.detectors, args.profile, args.seed,
                        tmp)
    path = save_table(table, REPO_ROOT / "benchmarks" / "results"
                      / f"recheck_{args.name or args.dataset}.csv")
    print(f"-> {path.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
