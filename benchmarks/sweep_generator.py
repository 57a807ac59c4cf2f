"""One setting of a generator at a time in TimeGAN's protocol: fit the generator at its
defaults (plus any ``--set`` overrides) with one parameter changed, for each value, on one
dataset and one seed, then score its samples with the protocol's metrics (discriminative:
mean ± std over ``--repeats`` classifiers; predictive: one predictor). Appends a row per value
to benchmarks/results/<generator>_sweep.csv, with the mean of each logged loss over the last
10 epochs.

Run:  TSAD_DATA_DIR=../shared/datasets python benchmarks/sweep_generator.py --generator vae \\
          --param reconstruction_weight --values 3 10 30 100 300 [--repeats 10]
      TSAD_DATA_DIR=../shared/datasets python benchmarks/sweep_generator.py \\
          --generator doppelganger --param learning_rate --values 1e-4 3e-4 --set epochs=1000

Used to pick the VAE's ``reconstruction_weight`` = 10 of the protocol benchmark (first run,
2026-11-28: one classifier each, weight 10 .228, 30 .247, 100 .376, 300 .341, 3 .430), to check
its latent size, and to tune DoppelGANger (``doppelganger_tuned`` of the protocol benchmark).
The values are chosen on Stocks with seed 0, so a row tuned this way is tuned on the data it
is scored on; the protocol benchmark's other seeds show how much that flatters it.
"""

import argparse
import time

import numpy as np
import pandas as pd

from tsad_helpers import fidelity, synthesis
from tsad_helpers.results import REPO_ROOT, save_table
from tsad_helpers.synthesis.protocol import sines, stock_windows

RESULTS = REPO_ROOT / "benchmarks" / "results"


def parse_value(text: str):
    """'300' -> 300, '1e-4' -> 0.0001, 'true'/'false' -> bool, anything else stays text."""
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_set(items: list[str]) -> dict:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"--set takes NAME=VALUE, got {item!r}")
        out[key] = parse_value(value)
    return out


def check_params(generator: str, names) -> None:
    known = synthesis.make(generator).get_params()
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise SystemExit(f"{generator} has no parameter {', '.join(unknown)}; "
                         f"its parameters: {', '.join(sorted(known))}")


def final_losses(history: list[dict], last: int = 10) -> dict:
    """Mean of each numeric logged quantity over the last ``last`` epochs of the last phase."""
    hist = pd.DataFrame(history)
    if hist.empty:
        return {}
    if "phase" in hist:
        hist = hist[hist["phase"] == hist["phase"].iloc[-1]]
    numeric = hist.drop(columns=["epoch"], errors="ignore").select_dtypes("number")
    numeric = numeric.dropna(axis=1, how="all")
    return numeric.tail(last).mean().to_dict()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--generator", default="vae")
    parser.add_argument("--dataset", choices=["stocks", "sines"], default="stocks")
    parser.add_argument("--param", required=True)
    parser.add_argument("--values", nargs="+", required=True)
    parser.add_argument("--set", nargs="*", default=[], metavar="NAME=VALUE",
                        help="other settings kept fixed for every value")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    base = parse_set(args.set)
    check_params(args.generator, [args.param, *base])
    x = stock_windows(seed=args.seed) if args.dataset == "stocks" else sines(seed=args.seed)
    out = RESULTS / f"{args.generator}_sweep.csv"
    for text in args.values:
        value = parse_value(text)
        start = time.perf_counter()
        gen = synthesis.make(args.generator, **{**base, args.param: value},
                             random_state=args.seed).fit(x)
        fit_s = time.perf_counter() - start
        synth = gen.sample(len(x))
        disc = fidelity.discriminative_score(x, synth, repeats=args.repeats, steps=2000,
                                             seed=args.seed)
        pred = fidelity.predictive_score(synth, x, steps=5000, seed=args.seed)
        row = {"generator": args.generator, "dataset": args.dataset, "seed": args.seed,
               "fixed": " ".join(f"{k}={v}" for k, v in base.items()), "param": args.param,
               "value": text, "repeats": args.repeats, "discriminative": disc["mean"],
               "discriminative_std": disc["std"], "predictive": pred,
               **final_losses(gen.history_), "fit_seconds": round(fit_s, 1)}
        print(f"{args.param} {value}: discriminative {disc['mean']:.3f} ± {disc['std']:.3f}, "
              f"predictive {pred:.4f}, fit {fit_s:.0f} s", flush=True)
        # One row at a time, so an interrupted sweep keeps the values it finished. The VAE's
        # first rows predate the generator, dataset and seed columns: Stocks, seed 0.
        table = pd.DataFrame([row])
        if out.exists():
            old = pd.read_csv(out, dtype={"value": str})
            old = old.assign(**{k: old.get(k, default) for k, default in (
                ("generator", args.generator), ("dataset", "stocks"), ("seed", 0))})
            table = pd.concat([old, table], ignore_index=True)
        save_table(table, out)
    print(f"appended to {out.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
