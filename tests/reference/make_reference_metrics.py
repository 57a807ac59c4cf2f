"""Compute reference metric values with the published implementations, once.

Not part of the test suite and not a dependency: run it in a scratch environment

    python3 -m venv .refenv
    .refenv/bin/pip install numpy==1.26.4 scikit-learn==1.9.1 prts==1.0.0.3
    .refenv/bin/pip install --no-deps tsb-ad==1.5
    .refenv/bin/python tests/reference/make_reference_metrics.py

It writes tests/reference/reference_metrics.json: fixed score/label vectors (seeded) and, for
each, the values of
- AUC-ROC, AUC-PR: scikit-learn roc_auc_score / average_precision_score;
- VUS-ROC, VUS-PR: TSB-AD 1.5 (Paparrizos' group), generate_curve(version="opt", thre=250);
- affiliation precision/recall: TSB-AD 1.5's vendored copy of Huet et al.'s code
  (TSB_AD.evaluation.affiliation, pr_from_events on convert_vector_to_events);
- range-based precision/recall: prts 1.0.0.3 (ts_precision / ts_recall) for several
  alpha/cardinality/bias settings (precision with alpha = 0, as the paper defines it);
- point-adjusted F1: TSB-AD's _adjust_predicts + sklearn f1_score.
"""

import json
from pathlib import Path

import numpy as np
from prts import ts_precision, ts_recall
from sklearn.metrics import average_precision_score, f1_score, roc_auc_score
from TSB_AD.evaluation.affiliation.generics import convert_vector_to_events
from TSB_AD.evaluation.affiliation.metrics import pr_from_events
from TSB_AD.evaluation.basic_metrics import basic_metricor, generate_curve

RANGE_SETTINGS = [(0.0, "reciprocal", "flat"), (0.2, "reciprocal", "flat"),
                  (0.5, "one", "front"), (0.0, "reciprocal", "back"), (0.3, "one", "middle")]


def labels_with_events(rng, n, n_events, max_len):
    y = np.zeros(n, dtype=int)
    for start in rng.choice(np.arange(5, n - max_len - 5), n_events, replace=False):
        y[start:start + rng.integers(1, max_len + 1)] = 1
    return y


def case(seed, n, n_events, max_len, signal, window):
    rng = np.random.default_rng(seed)
    y = labels_with_events(rng, n, n_events, max_len)
    score = np.round(rng.normal(size=n) + signal * y + 0.3 * np.convolve(y, np.ones(7), "same"), 3)
    threshold = float(np.quantile(score, 0.9))
    pred = (score > threshold).astype(int)
    out = {"seed": seed, "scores": score.tolist(), "labels": y.tolist(), "threshold": threshold,
           "vus_window": window}
    out["auc_roc"] = roc_auc_score(y, score)
    out["auc_pr"] = average_precision_score(y, score)
    *_, vus_roc, vus_pr = generate_curve(y, score, window, "opt", 250)
    out["vus_roc"], out["vus_pr"] = float(vus_roc), float(vus_pr)
    aff = pr_from_events(convert_vector_to_events(pred), convert_vector_to_events(y), (0, n))
    out["affiliation_precision"] = aff["Affiliation_Precision"]
    out["affiliation_recall"] = aff["Affiliation_Recall"]
    out["range"] = [{"alpha": a, "cardinality": c, "bias": b,
                     "precision": float(ts_precision(y, pred, alpha=0.0, cardinality=c, bias=b)),
                     "recall": float(ts_recall(y, pred, alpha=a, cardinality=c, bias=b))}
                    for a, c, b in RANGE_SETTINGS]
    adjusted = basic_metricor()._adjust_predicts(score, y, pred=pred)
    out["pa_f1"] = f1_score(y, adjusted)
    return out


def main():
    cases = [case(1, 300, 4, 12, 1.5, 10), case(2, 1000, 8, 40, 1.0, 20),
             case(3, 500, 1, 30, 0.5, 0), case(4, 2000, 15, 5, 2.0, 50),
             case(5, 800, 6, 60, 0.8, 33)]
    meta = {"generated_by": "tests/reference/make_reference_metrics.py",
            "packages": {"prts": "1.0.0.3", "tsb-ad": "1.5", "scikit-learn": "1.9.1",
                         "numpy": np.__version__}}
    path = Path(__file__).with_name("reference_metrics.json")
    path.write_text(json.dumps({"meta": meta, "cases": cases}) + "\n")
    print(f"wrote {len(cases)} cases to {path}")


if __name__ == "__main__":
    main()
