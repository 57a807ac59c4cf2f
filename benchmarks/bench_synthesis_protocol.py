"""TimeGAN's evaluation protocol on Sines and Stocks for our generators, beside the published
numbers. Resumable: one JSON per (dataset, generator, seed).

Run:  TSAD_DATA_DIR=../shared/datasets python benchmarks/bench_synthesis_protocol.py \\
          [--datasets sines stocks] [--seeds 0] [--budget paper|smoke] \\
          [--generators real timegan wgan_gp doppelganger doppelganger_tuned vae \\
          vae_mean] \\
          [--out synthesis_protocol] [--tables-only]

Protocol (Yoon et al. 2019, reference code): sequences of 24 steps min-max scaled to [0, 1]
(tsad_helpers.synthesis.protocol); as many synthetic sequences as real ones; discriminative
score = |accuracy - 0.5| of a post-hoc GRU classifier (2000 batches of 128) on a held-out
20 %, predictive score = MAE on the real sequences of a GRU next-step predictor trained on
the synthetic ones (5000 batches of 128); the discriminative score averaged over
``disc_repeats`` = 10 fresh classifiers and splits, as the reference code's 10 metric
iterations (its spread between classifiers is wide: .08 to .23 for one Stocks sample), the
predictive one over ``pred_repeats`` = 3 (its spread is below .002). ``real`` is the
reference row: the predictor trained on real data, and a real-vs-real discriminative score
(two disjoint halves). Also MMD, KS and ACF distance. Results:
simulation_results/<out>/<budget>/<dataset>/<generator>_seed<k>.json; the table of every
finished run, whichever seeds a call asked for, simulation_results/<out>/protocol_<budget>.{csv,md};
loss logs loss/<out>/<dataset>/.
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from tsad_helpers import fidelity, profiles, synthesis
from tsad_helpers.results import REPO_ROOT, atomic_path, loss_log_path, save_json, save_table
from tsad_helpers.synthesis.protocol import sines, stock_windows

# Published numbers (TimeGAN: Yoon et al., NeurIPS 2019, Table 2; Diffusion-TS: Yuan & Qiao,
# ICLR 2024, Table 1, same protocol), kept in one place with their sources: paper/published.csv


def published() -> dict:
    """{(dataset, metric): {name: value}} of the protocol's published rows."""
    pub = pd.read_csv(REPO_ROOT / "paper" / "published.csv")
    out: dict = {}
    for _, r in pub[pub["table"] == "timegan_protocol"].iterrows():
        dataset, name, metric = r["quantity"].split(":")
        out.setdefault((dataset, metric), {})[name.replace(" (published)", "")] = r["value"]
    return out


PUBLISHED = published()
# Generator settings per budget, from the one place that holds them: "paper" is each
# generator's defaults (the settings this benchmark found best; TimeGAN's paper: hidden 24
# (4 x features), 3 GRU layers, batch 128, 50,000 iterations per phase, which a CPU budget cuts
# to 100 + 100 + 150 epochs), "smoke" the smoke profile's generators.
SETTINGS = {
    "paper": {"timegan": {}, "wgan_gp": {}, "vae": {}, "vae_mean": {"observation_noise": False},
              "doppelganger": {},
              "doppelganger_tuned": {"epochs": 1000, "learning_rate": 1e-4,
                                     "auto_normalise": False}},
    "smoke": {**{k: v for k, v in profiles.get("smoke")["synthesis"]["generators"].items()
                 if k in ("timegan", "wgan_gp", "vae")},
              "doppelganger": {"hidden": 16, "attr_hidden": 16, "critic_hidden": 32,
                               "epochs": 3},
              "doppelganger_tuned": {"hidden": 16, "critic_hidden": 32, "epochs": 3,
                                     "learning_rate": 1e-4, "auto_normalise": False},
              "vae_mean": {**profiles.get("smoke")["synthesis"]["generators"]["vae"],
                           "observation_noise": False}},
}
# Rows that are a generator with other settings: ``vae_mean`` samples the decoder's mean
# only (no observation noise), to show what the noise does; ``doppelganger_tuned`` is
# DoppelGANger with the settings benchmarks/sweep_generator.py chose on Stocks with seed 0
# (benchmarks/results/doppelganger_sweep.csv), its defaults staying the paper's.
GENERATOR = {"vae_mean": "vae", "doppelganger_tuned": "doppelganger"}
# The table's order of generators, and the default of --generators
ORDER = ["real", "timegan", "wgan_gp", "doppelganger", "doppelganger_tuned", "vae", "vae_mean"]
METRIC_BUDGET = {"paper": {"disc_repeats": 10, "pred_repeats": 3, "disc_steps": 2000,
                           "pred_steps": 5000},
                 "smoke": {"disc_repeats": 1, "pred_repeats": 1, "disc_steps": 20,
                           "pred_steps": 20}}


def load(dataset: str, seed: int) -> np.ndarray:
    if dataset == "sines":
        return sines(seed=seed)
    if dataset == "stocks":
        return stock_windows(seed=seed)
    raise SystemExit(f"unknown dataset {dataset!r}; known: sines, stocks")


def one_run(dataset, generator, seed, budget, out) -> dict:
    real = load(dataset, seed)
    m = METRIC_BUDGET[budget]
    started = time.perf_counter()
    if generator == "real":
        half = len(real) // 2
        synth, fit_s = real[half:], 0.0
        real_part = real[:half]
        disc = fidelity.discriminative_score(real_part, synth, repeats=m["disc_repeats"],
                                       steps=m["disc_steps"], seed=seed)
        pred = [fidelity.predictive_score(real, real, steps=m["pred_steps"], seed=seed + r)
                for r in range(m["pred_repeats"])]
        synth_for_dist, real_for_dist = synth, real_part
        settings = {}
    else:
        params = {**SETTINGS[budget][generator], "random_state": seed,
                  "loss_log": str(loss_log_path(out, dataset, f"{generator}_{budget}_seed{seed}"))}
        gen = synthesis.make(GENERATOR.get(generator, generator), **params).fit(real)
        settings = {k: v for k, v in gen.get_params().items()
                    if k not in ("random_state", "loss_log", "verbose")}
        fit_s = time.perf_counter() - started
        synth = gen.sample(len(real))
        disc = fidelity.discriminative_score(real, synth, repeats=m["disc_repeats"],
                                       steps=m["disc_steps"], seed=seed)
        pred = [fidelity.predictive_score(synth, real, steps=m["pred_steps"], seed=seed + r)
                for r in range(m["pred_repeats"])]
        synth_for_dist, real_for_dist = synth, real
    ks = fidelity.ks_per_channel(real_for_dist, synth_for_dist)
    return {"dataset": dataset, "generator": generator, "seed": seed, "budget": budget,
            "params": settings, "metric_budget": m,
            "discriminative": disc["mean"], "discriminative_std": disc["std"],
            "predictive": float(np.mean(pred)), "predictive_std": float(np.std(pred)),
            "mmd": fidelity.mmd_rbf(real_for_dist, synth_for_dist, seed=seed),
            "ks_mean": float(ks["ks"].mean()),
            "acf_distance": fidelity.autocorrelation_distance(real_for_dist, synth_for_dist),
            "fit_seconds": round(fit_s, 1),
            "total_seconds": round(time.perf_counter() - started, 1), "windows": len(real)}


def table(rows: pd.DataFrame) -> str:
    lines = ["Discriminative score (|accuracy - 0.5|, lower is better) and predictive score "
             "(MAE of a next-step GRU trained on synthetic, tested on real; `real`: trained on "
             "real) in TimeGAN's protocol; mean over seeds (± the standard deviation over "
             "seeds, as in the paper; for one seed, over metric repeats: 10 discriminative "
             "classifiers, 3 predictors); fit s: mean fit time over seeds. Published rows are "
             "quoted from the papers, not rerun.", ""]
    head = ["dataset", "generator", "seeds", "discriminative", "predictive", "mmd", "ks_mean",
            "acf_distance", "fit s"]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for (dataset, gen), g in rows.groupby(["dataset", "generator"], sort=False):
        def pm(col):
            std = g[col].std(ddof=1) if len(g) > 1 else g[f"{col}_std"].iloc[0]
            return f"{g[col].mean():.3f} ± {std:.3f}"
        lines.append(f"| {dataset} | {gen} | {len(g)} | {pm('discriminative')} | "
                     f"{pm('predictive')} | {g['mmd'].mean():.4f} | {g['ks_mean'].mean():.3f} | "
                     f"{g['acf_distance'].mean():.3f} | {g['fit_seconds'].mean():.0f} |")
        for name in ("TimeGAN", "Diffusion-TS", "real data"):
            d = PUBLISHED.get((dataset, "discriminative"), {}).get(name)
            p = PUBLISHED.get((dataset, "predictive"), {}).get(name)
            if gen == rows[rows["dataset"] == dataset]["generator"].iloc[-1] and (d or p):
                lines.append(f"| {dataset} | {name} (published) | - | "
                             f"{'' if d is None else f'{d:.3f}'} | "
                             f"{'' if p is None else f'{p:.3f}'} | | | | |")
    return "\n".join(lines) + "\n"


def finished_runs(folder) -> pd.DataFrame:
    """Every finished run under ``folder`` (``<dataset>/<generator>_seed<k>.json``), whatever
    this call computed, so that a call for some seeds never drops the others from the table;
    ordered by dataset, generator (the benchmark's order, then any other) and seed."""
    order = {g: i for i, g in enumerate(ORDER)}
    rows = []
    for path in sorted(Path(folder).glob("*/*_seed*.json")):
        result = json.loads(path.read_text())
        rows.append({k: v for k, v in result.items() if k not in ("params", "metric_budget")})
    if not rows:
        raise SystemExit(f"no finished run under {folder}: run without --tables-only first")
    frame = pd.DataFrame(rows)
    rank = frame["generator"].map(order).fillna(len(order))
    return (frame.assign(_rank=rank).sort_values(["dataset", "_rank", "generator", "seed"])
            .drop(columns="_rank").reset_index(drop=True))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--datasets", nargs="+", default=["sines", "stocks"])
    parser.add_argument("--generators", nargs="+", choices=ORDER, default=ORDER)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--budget", choices=sorted(SETTINGS), default="paper")
    parser.add_argument("--out", default="synthesis_protocol")
    parser.add_argument("--tables-only", action="store_true",
                        help="build the table from the finished runs, start none")
    args = parser.parse_args()
    base = REPO_ROOT / "simulation_results" / args.out
    for dataset in args.datasets:
        for generator in args.generators:
            for seed in args.seeds:
                path = base / args.budget / dataset / f"{generator}_seed{seed}.json"
                if not path.exists() and not args.tables_only:
                    print(f"{dataset} {generator} seed {seed} ...", flush=True)
                    save_json(one_run(dataset, generator, seed, args.budget, args.out), path)
    frame = finished_runs(base / args.budget)
    save_table(frame, base / f"protocol_{args.budget}.csv")
    text = table(frame)
    with atomic_path(base / f"protocol_{args.budget}.md") as tmp:
        tmp.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
