"""Baseline detectors over every SMD machine under the data root (the evaluation-core table).

Run:  TSAD_DATA_DIR=../shared/datasets python benchmarks/bench_baselines_smd.py \
          [--profile paper] [--seeds 0 1 2] [--detectors iforest pca random]

Each (detector, machine, seed) result is a JSON file under
simulation_results/baselines/smd/<profile>/<detector>/; finished ones are not recomputed, so an
interrupted run resumes. The summary (mean and std over machines and seeds) is written to
simulation_results/baselines/smd_<profile>.csv and .md.
"""

import argparse
import json
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from tsad_helpers import datasets
from tsad_helpers.evaluation import evaluate_detector
from tsad_helpers.results import REPO_ROOT, atomic_path, save_json, save_table

COLUMNS = ["f1", "pa_f1", "auc_pr", "vus_pr", "affiliation_f1", "auc_roc", "range_f1",
           "pa_k_auc", "best_f1"]


def run(profile: str, seeds: list[int], names: list[str]) -> pd.DataFrame:
    out = REPO_ROOT / "simulation_results" / "baselines" / "smd" / profile
    machines = datasets.entities("smd")
    jobs = [(d, m, s) for d in names for m in machines for s in seeds]
    rows = []
    for det, machine, seed in tqdm(jobs, desc="runs", unit="run"):
        path = out / det / f"{machine}_seed{seed}.json"
        if not path.exists():
            result = evaluate_detector(datasets.load("smd", machine), det, profile, seed)
            save_json(result, path)
        result = json.loads(path.read_text())
        rows.append({"detector": det, "machine": machine, "seed": seed,
                     "fit_seconds": result["fit_seconds"],
                     "score_seconds": result["score_seconds"],
                     **{k: result["metrics"][k] for k in COLUMNS}})
    return pd.DataFrame(rows)


def summarise(runs: pd.DataFrame) -> pd.DataFrame:
    g = runs.groupby("detector", sort=False)
    table = pd.DataFrame({"runs": g.size()})
    for col in COLUMNS + ["fit_seconds"]:
        table[f"{col}_mean"] = g[col].mean()
        table[f"{col}_std"] = g[col].std(ddof=0)
    return table.reset_index()


def markdown(table: pd.DataFrame, profile: str, n_machines: int) -> str:
    head = ["detector", "runs"] + COLUMNS + ["fit s"]
    lines = [f"SMD, {n_machines} machines, profile `{profile}`: mean ± std over machines and "
             "seeds. Label-free threshold: 0.99-quantile of scores on the last 20 % of each "
             "training split. `best_f1` is the oracle (test labels pick the threshold) and is "
             "shown only for reference.", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for _, r in table.iterrows():
        cells = [r["detector"], str(r["runs"])]
        cells += [f"{r[c + '_mean']:.3f} ± {r[c + '_std']:.3f}" for c in COLUMNS]
        cells += [f"{r['fit_seconds_mean']:.1f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--profile", default="paper")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--detectors", nargs="+", default=["iforest", "pca", "random"])
    args = parser.parse_args()
    runs = run(args.profile, args.seeds, args.detectors)
    table = summarise(runs)
    base = REPO_ROOT / "simulation_results" / "baselines"
    save_table(runs, base / f"smd_{args.profile}_runs.csv")
    save_table(table, base / f"smd_{args.profile}.csv")
    text = markdown(table, args.profile, runs["machine"].nunique())
    with atomic_path(base / f"smd_{args.profile}.md") as tmp:
        tmp.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
