"""Choose the flagship's defaults on the development set only: one configuration of
``transformer_ae_gan`` (or a reference detector) at a time over every entity of a dataset
(ASD by default; SMD, MSL, SMAP and UCR are kept for confirmation), resumable.

Run:  TSAD_DATA_DIR=../shared/datasets python benchmarks/sweep_flagship.py \\
          [--dataset asd] [--configs default no_masking ...] [--seeds 0] [--workers 2] \\
          [--tables-only]

Each configuration is a named set of parameters over the paper profile's settings of its
detector (for the flagship: over its settings when the sweep began, ``SWEEP_BASE``, all three
parts on; ``CONFIGS`` below; a name always means the same parameters: a changed definition
needs a new name, and the script refuses to mix them). One run = (configuration, entity,
seed), the unsupervised protocol of ``tsad_helpers.evaluation`` (fit on the head of the
training split, label-free threshold from its tail, test scored once); runs are tasks on
dask.distributed (tsad_helpers.grid). The driver alone writes
``benchmarks/results/flagship_sweep_<dataset>.csv`` (one row per run, rewritten atomically
after each) and the summary ``flagship_sweep_<dataset>.md``: per configuration the mean of
VUS-PR with the series' period window (TSB-AD's published protocol), VUS-PR with the fixed
100-point window, AUC-PR, label-free point-wise F1 and point-adjusted F1, fit seconds and
epochs, and the paired difference to ``default`` and to ``plain_transformer_ae``
(wins/losses, Wilcoxon p, rank-biserial effect size). Loss logs go to
a temporary folder: nothing under version control is written but the two result files.
"""

import argparse
import json
import os
import tempfile

import numpy as np
import pandas as pd
from scipy.stats import wilcoxon
from tqdm.auto import tqdm

from bench_detectors import rank_biserial  # the sibling script (benchmarks/)
from tsad_helpers import datasets, grid
from tsad_helpers.detectors.classic import reference_pca_params
from tsad_helpers.evaluation import evaluate_entity
from tsad_helpers.results import REPO_ROOT, atomic_path, save_table

FLAGSHIP = "transformer_ae_gan"
# the flagship's settings when the sweep began (every part on); its configurations are
# changes to these, whatever the defaults are today (the sweep froze new ones)
SWEEP_BASE = {"masking": True, "contrastive": True, "adversarial": True}
METRICS = ["vus_pr_period", "vus_pr", "auc_pr", "f1", "pa_f1", "best_f1"]
# name -> (detector, parameters over the profile's, protocol); one factor at a time from the
# defaults frozen before this sweep, then reference detectors
CONFIGS = {
    "default": (FLAGSHIP, {}, "train"),
    "no_masking": (FLAGSHIP, {"masking": False}, "train"),
    "plain_scoring": (FLAGSHIP, {"score_masks": 0}, "train"),
    "rec_masked": (FLAGSHIP, {"rec_target": "masked"}, "train"),
    "mask_share_0.5": (FLAGSHIP, {"mask_share": 0.5}, "train"),
    "window_64": (FLAGSHIP, {"window": 64}, "train"),
    "point_last": (FLAGSHIP, {"point_score": "last"}, "train"),
    "channel_max": (FLAGSHIP, {"channel_score": "max"}, "train"),
    "scaling_standard": (FLAGSHIP, {"scaling": "standard"}, "train"),
    "no_adversarial": (FLAGSHIP, {"adversarial": False}, "train"),
    "no_contrastive": (FLAGSHIP, {"contrastive": False}, "train"),
    "d_model_64": (FLAGSHIP, {"d_model": 64, "ff_dim": 128}, "train"),
    "latent_8": (FLAGSHIP, {"latent_dim": 8}, "train"),
    "bottleneck_step": (FLAGSHIP, {"bottleneck": "step", "latent_dim": 8}, "train"),
    "epochs_60": (FLAGSHIP, {"epochs": 60, "patience": 8}, "train"),
    "lr_3e-4": (FLAGSHIP, {"learning_rate": 3e-4}, "train"),
    "adversarial_0.1": (FLAGSHIP, {"adversarial_weight": 0.1}, "train"),
    "contrastive_1.0": (FLAGSHIP, {"contrastive_weight": 1.0}, "train"),
    "disc_blend_0.3": (FLAGSHIP, {"discriminator_weight": 0.3}, "train"),
    "mask_ratio_0.3": (FLAGSHIP, {"mask_ratio": 0.3}, "train"),
    "mask_length_8": (FLAGSHIP, {"mask_length": 8.0}, "train"),
    "window_16": (FLAGSHIP, {"window": 16}, "train"),
    # second round: the two settings that moved VUS-PR up (neither significantly) together,
    # and the plain Transformer autoencoder (all three parts off)
    "no_masking+scaling_standard": (FLAGSHIP, {"masking": False, "scaling": "standard"},
                                    "train"),
    "plain_transformer_ae": (FLAGSHIP, {"masking": False, "contrastive": False,
                                        "adversarial": False}, "train"),
    # third round: the plain autoencoder won clearly; each part added back alone, and a
    # larger training budget (most plain fits ran into the 30-epoch ceiling)
    "plain+masking": (FLAGSHIP, {"contrastive": False, "adversarial": False}, "train"),
    "plain+contrastive": (FLAGSHIP, {"masking": False, "adversarial": False}, "train"),
    "plain+adversarial": (FLAGSHIP, {"masking": False, "contrastive": False}, "train"),
    "plain+epochs_60": (FLAGSHIP, {"masking": False, "contrastive": False,
                                   "adversarial": False, "epochs": 60, "patience": 8},
                        "train"),
    # fourth round: around the new defaults (the plain autoencoder)
    "plain+scaling_standard": (FLAGSHIP, {"masking": False, "contrastive": False,
                                          "adversarial": False, "scaling": "standard"},
                               "train"),
    "plain+d_model_64": (FLAGSHIP, {"masking": False, "contrastive": False,
                                    "adversarial": False, "d_model": 64, "ff_dim": 128},
                         "train"),
    # references: the plain LSTM autoencoder and the published PCA in both protocols
    "ref:lstm_ae": ("lstm_ae", {}, "train"),
    "ref:cnn_forecaster": ("cnn_forecaster", {}, "train"),
    "ref:pca": ("pca", {}, "train"),
    "ref:pca_reference": ("pca", reference_pca_params(), "train"),
    "ref:pca_reference_transductive": ("pca", reference_pca_params(), "transductive"),
}


def results_path(dataset: str):
    return REPO_ROOT / "benchmarks" / "results" / f"flagship_sweep_{dataset}.csv"


def read_runs(dataset: str) -> pd.DataFrame:
    path = results_path(dataset)
    return pd.read_csv(path) if path.is_file() else pd.DataFrame()


def _check_definitions(runs: pd.DataFrame, names) -> None:
    """A stored configuration must still mean the same parameters."""
    if runs.empty:
        return
    for name in names:
        detector, params, protocol = CONFIGS[name]
        stored = runs.loc[runs["config"] == name, "params"]
        want = json.dumps(params, sort_keys=True)
        if len(stored) and (set(stored) != {want} or
                            set(runs.loc[runs["config"] == name, "protocol"]) != {protocol}):
            raise SystemExit(f"configuration {name!r} was run with other parameters "
                             f"({stored.iloc[0]}); give the new definition a new name")


def task(dataset, entity, name, seed, loss_dir):
    """One run (importable by dask workers): the result row."""
    detector, params, protocol = CONFIGS[name]
    run_params = {**SWEEP_BASE, **params} if detector == FLAGSHIP else dict(params)
    if detector in ("transformer_ae_gan", "lstm_ae", "cnn_forecaster"):
        safe = f"{name}_{entity}_seed{seed}".replace("/", "_").replace(":", "_")
        run_params["loss_log"] = os.path.join(loss_dir, f"{safe}.csv")
    result = evaluate_entity(dataset, entity, detector, "paper", seed, params=run_params,
                             name=name, protocol=protocol)
    m = result["metrics"]
    return {"config": name, "detector": detector, "params": json.dumps(params, sort_keys=True),
            "protocol": protocol, "entity": entity, "seed": seed,
            **{k: m[k] for k in METRICS}, "period_window": m["period_window"],
            "fit_seconds": result["fit_seconds"], "score_seconds": result["score_seconds"],
            "epochs_run": result["epochs_run"]}


def sweep(dataset: str, names, seeds, client) -> pd.DataFrame:
    runs = read_runs(dataset)
    _check_definitions(runs, names)
    done = set() if runs.empty else set(zip(runs["config"], runs["entity"], runs["seed"]))
    loss_dir = tempfile.mkdtemp(prefix="tsad_sweep_")
    pending = [(dataset, e, n, s, loss_dir) for n in names for s in seeds
               for e in datasets.entities(dataset) if (n, e, s) not in done]
    if client is None or not pending:
        return runs
    rows = [] if runs.empty else runs.to_dict("records")
    bar = lambda total: tqdm(total=total, desc=f"sweep {dataset}", unit="run")  # noqa: E731
    for _, row in grid.run_tasks(client, task, pending, recycle_every=10, progress=bar):
        rows.append(row)
        save_table(pd.DataFrame(rows), results_path(dataset))
    return pd.DataFrame(rows)


REFERENCES = ("default", "plain_transformer_ae")  # the configurations others are paired with


def paired_to(runs: pd.DataFrame, config: str, reference: str) -> dict:
    """``config`` minus ``reference`` on the same (entity, seed), period-window VUS-PR: mean
    difference, wins/losses, two-sided Wilcoxon p and rank-biserial r (NaN under 5 pairs or
    all equal)."""
    key = ["entity", "seed"]
    x = runs[runs["config"] == config].set_index(key)["vus_pr_period"]
    ref = runs[runs["config"] == reference].set_index(key)["vus_pr_period"]
    both = x.to_frame("x").join(ref.rename("r"), how="inner")
    diff = (both["x"] - both["r"]).to_numpy()
    testable = len(diff) >= 5 and np.any(diff != 0)
    return {"delta": diff.mean() if len(diff) else np.nan, "wins": int((diff > 0).sum()),
            "losses": int((diff < 0).sum()),
            "p": wilcoxon(diff).pvalue if testable else np.nan,
            "r": rank_biserial(diff) if testable else np.nan}


def summary(runs: pd.DataFrame, references=REFERENCES) -> pd.DataFrame:
    """Per configuration: runs, mean of each metric, fit seconds, epochs, and
    :func:`paired_to` each of ``references`` that was run (columns ``<key>_vs_<reference>``)."""
    out = []
    for name, g in runs.groupby("config", sort=False):
        row = {"config": name, "detector": g["detector"].iloc[0],
               "protocol": g["protocol"].iloc[0], "runs": len(g),
               **{k: g[k].mean() for k in METRICS},
               "vus_pr_period_std": g["vus_pr_period"].std(ddof=0),
               "fit_seconds": g["fit_seconds"].mean(), "epochs": g["epochs_run"].mean()}
        for ref in references:
            if ref in set(runs["config"]):
                row.update({f"{k}_vs_{ref}": v for k, v in paired_to(runs, name, ref).items()})
        out.append(row)
    return pd.DataFrame(out)


def _paired_cell(r, ref: str) -> str:
    if f"delta_vs_{ref}" not in r or np.isnan(r[f"delta_vs_{ref}"]) or r["config"] == ref:
        return "-"
    p = r[f"p_vs_{ref}"]
    text = f"{r[f'delta_vs_{ref}']:+.3f} ({r[f'wins_vs_{ref}']}/{r[f'losses_vs_{ref}']}"
    if not np.isnan(p):
        text += (", p<0.01" if p < 0.01 else f", p={p:.2f}") + f", r={r[f'r_vs_{ref}']:+.2f}"
    return text + ")"


def markdown(table: pd.DataFrame, dataset: str, n_entities: int) -> str:
    refs = [ref for ref in REFERENCES if f"delta_vs_{ref}" in table]
    lines = [f"Flagship sweep on {dataset.upper()} ({n_entities} entities; the development set: "
             "defaults are chosen here only), paper profile, seed 0, unsupervised protocol "
             "(label-free 0.99-quantile threshold from the training tail for f1 and pa_f1). "
             "vus_pr_period: VUS-PR with the period window of TSB-AD's protocol (mean ± std "
             "over entities); vus_pr: fixed 100-point window. `Δ vs X`: mean paired "
             "difference of vus_pr_period to configuration X on the same entities (wins/"
             "losses, two-sided Wilcoxon p, rank-biserial effect size r); with fewer runs "
             "than entities a row is still running and its means are over other entities "
             "than the full rows'. `ref:` rows are reference detectors; `transductive` = "
             "fitted on the test series itself (TSB-AD's unsupervised track). best_f1 is the "
             "oracle (test labels choose its threshold), for reference only. Generated by "
             "benchmarks/sweep_flagship.py.", "",
             "| config | runs | vus_pr_period | vus_pr | auc_pr | f1 | pa_f1 | best_f1 (oracle) | "
             + " | ".join(f"Δ vs {ref}" for ref in refs) + " | fit s | epochs |",
             "|" + "---|" * (10 + len(refs))]
    for _, r in table.iterrows():
        epochs = "-" if np.isnan(r["epochs"]) else f"{r['epochs']:.1f}"
        lines.append(
            f"| {r['config']} | {r['runs']} | {r['vus_pr_period']:.3f} ± "
            f"{r['vus_pr_period_std']:.3f} | {r['vus_pr']:.3f} | {r['auc_pr']:.3f} | "
            f"{r['f1']:.3f} | {r['pa_f1']:.3f} | {r['best_f1']:.3f} | "
            + " | ".join(_paired_cell(r, ref) for ref in refs)
            + f" | {r['fit_seconds']:.1f} | {epochs} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="asd")
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--scheduler")
    parser.add_argument("--tables-only", action="store_true")
    args = parser.parse_args()
    unknown = [n for n in args.configs if n not in CONFIGS]
    if unknown:
        raise SystemExit(f"unknown configurations {unknown}; known: {', '.join(CONFIGS)}")
    if args.workers > 1 and not args.scheduler:
        os.environ["TF_NUM_INTRAOP_THREADS"] = str(max(1, (os.cpu_count() or 1)
                                                       // args.workers))
        os.environ["TF_NUM_INTEROP_THREADS"] = "1"
    if args.tables_only:
        runs = sweep(args.dataset, args.configs, args.seeds, None)
    else:
        with grid.cluster(args.scheduler, args.workers) as client:
            runs = sweep(args.dataset, args.configs, args.seeds, client)
    if runs.empty:
        raise SystemExit("no finished runs")
    order = [n for n in CONFIGS if n in set(runs["config"])]
    runs = runs.set_index("config").loc[order].reset_index()
    text = markdown(summary(runs), args.dataset, runs["entity"].nunique())
    with atomic_path(results_path(args.dataset).with_suffix(".md")) as tmp:
        tmp.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
