"""Speed of the statistical detectors (``arima``, ``garch``, ``prophet``) on SMD machines:
fit on the training split and score the test split, with the caps that make them fit.

Run:  TSAD_DATA_DIR=../shared/datasets python benchmarks/bench_statistical.py \\
          [--entities machine-1-3] [--detectors arima garch prophet pca]

Each detector runs at its defaults (the paper profile's settings), once per machine, on
however many cores the process may use (``cores``; ``load_before``: the one-minute load
average before the run, 0 on an idle machine): fit seconds, score seconds,
what was capped (training points fitted; ARIMA's order-selection points), the chosen ARIMA
orders, the channels whose final fit did not report convergence, and VUS-PR (period window)
and AUC-PR on the test split. ``pca`` is a reference for scale. Results:
benchmarks/results/statistical_smd.csv and .md.
"""

import argparse
import collections
import os
import time

import numpy as np
import pandas as pd

from tsad_helpers import datasets, detectors, metrics, profiles
from tsad_helpers.paper import markdown_table
from tsad_helpers.results import REPO_ROOT, atomic_path, save_table

CAPS = ("max_fit_points", "select_points", "window")


def measure(entity: str, name: str) -> dict:
    ds = datasets.load("smd", entity)
    load = os.getloadavg()[0]  # other work on the machine (0: idle)
    params = profiles.get("paper")["detectors"].get(name, {})
    det = detectors.make(name, **params)
    start = time.perf_counter()
    det.fit(ds.train)
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    scores = det.decision_function(ds.test)
    score_seconds = time.perf_counter() - start
    # only threshold-free metrics are reported: the threshold argument plays no part
    m = metrics.evaluate(scores, ds.test_labels, np.quantile(scores, 0.99),
                         period_series=ds.test)
    p = det.get_params()
    orders = getattr(det, "orders_", None)
    return {"entity": entity, "detector": name, "cores": len(os.sched_getaffinity(0)),
            "load_before": round(load, 2), "train_points": len(ds.train),
            "channels": ds.n_channels, "fit_seconds": round(fit_seconds, 1),
            "score_seconds": round(score_seconds, 1),
            **{f"cap_{k}": p.get(k) for k in CAPS},
            "fitted_points": getattr(det, "fit_points_", None),
            "constant_channels": (int(np.sum(det.constant_)) if hasattr(det, "constant_")
                                  else None),
            "unconverged_channels": (len(det.unconverged_channels_)
                                     if hasattr(type(det), "unconverged_channels_") else None),
            "orders": (None if orders is None else "; ".join(
                f"{o}: {n}" for o, n in collections.Counter(
                    str(o) for o in orders if o is not None).most_common())),
            "vus_pr_period": round(m["vus_pr_period"], 3), "auc_pr": round(m["auc_pr"], 3)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entities", nargs="+", default=["machine-1-3"])
    parser.add_argument("--detectors", nargs="+", default=["arima", "garch", "prophet", "pca"])
    args = parser.parse_args()
    rows = []
    for entity in args.entities:
        for name in args.detectors:
            rows.append(measure(entity, name))
            print(rows[-1], flush=True)
    table = pd.DataFrame(rows, dtype=object).fillna("-")  # "-": not a setting of that one
    out = REPO_ROOT / "benchmarks" / "results" / "statistical_smd"
    save_table(table, out.with_suffix(".csv"), index=False)
    with atomic_path(out.with_suffix(".md")) as tmp:
        tmp.write_text("Fit on the training split and score the test split, defaults (paper "
                       "profile); `cores`: the cores the process could use, `load_before`: "
                       "the machine's load average before the run; `cap_*`: the stated caps; "
                       "`-`: not a parameter or attribute of that detector.\n\n"
                       + markdown_table(table) + "\n")


if __name__ == "__main__":
    main()
