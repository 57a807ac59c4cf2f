"""Confusion matrices, curves and threshold sensitivity from the held-out scores
(tsad_helpers.confusion, notebook 05), on constructed scores whose answers are known."""

import numpy as np
import pandas as pd
import pytest

from tsad_helpers import confusion as cf
from tsad_helpers import cv_study, metrics


def labels_and_scores(n=400, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.zeros(n, dtype=np.int8)
    labels[100:120] = 1
    labels[300:310] = 1
    good = rng.normal(size=n) + 4 * labels  # separates the classes well
    noise = rng.normal(size=n)
    return labels, good, noise


def kept(tmp_path=None):
    labels, good, noise = labels_and_scores()
    normal = good[labels == 0]
    runs = [{"detector": "pca", "arm": "none", "ratio": "0", "threshold_rule": "label_free",
             "model": "pca", "threshold": float(np.quantile(normal, 0.99))},
            {"detector": "pca", "arm": "smote", "ratio": "1", "threshold_rule": "calibrated",
             "model": "pca", "threshold": 2.0},
            {"detector": "random", "arm": "none", "ratio": "0", "threshold_rule": "label_free",
             "model": "random", "threshold": 1.5},
            {"detector": "window_classifier", "arm": "none", "ratio": "0",
             "threshold_rule": "probability", "model": "window_classifier_none_r0",
             "threshold": 0.5}]
    store = {"scores": {"pca": good, "random": noise,
                        "window_classifier_none_r0": 1 / (1 + np.exp(-(good - 2)))},
             "runs": runs, "sources": {"pca": np.quantile(normal, cv_study.SOURCE_QUANTILES),
                                       "random": np.quantile(noise, cv_study.SOURCE_QUANTILES)}}
    if tmp_path is None:
        return labels, store
    path = cv_study.scores_path(tmp_path, "synthetic", "syn-1", 0)
    cv_study.save_scores(path, labels, store)
    return labels, store


def test_counts_point_and_event_wise():
    labels = np.array([0, 1, 1, 0, 0, 1, 1, 0, 0, 0])
    pred = np.array([0, 0, 1, 0, 0, 0, 0, 0, 1, 1], dtype=bool)
    assert cf.counts(pred, labels) == {"tp": 1, "fp": 2, "fn": 3, "tn": 4, "events_found": 1,
                                       "events_missed": 1, "false_alarms": 1}


def test_confusion_table_agrees_with_metrics_evaluate(tmp_path):
    labels, store = kept(tmp_path)
    table = cf.confusion_table(cf.read_held_out(tmp_path))
    assert len(table) == 4 and set(table["entity"]) == {"syn-1"}
    for row in table.to_dict("records"):
        model = next(r["model"] for r in store["runs"] if r["detector"] == row["detector"]
                     and r["threshold_rule"] == row["threshold_rule"])
        ref = metrics.evaluate(store["scores"][model], labels, row["threshold"])
        assert row["f1"] == pytest.approx(ref["f1"]) and row["pa_f1"] == pytest.approx(
            ref["pa_f1"])
        assert row["tp"] + row["fp"] == ref["n_predicted"]
        assert row["tp"] + row["fn"] == ref["n_anomalies"] == 30
        assert row["events_found"] == round(ref["event_recall"] * 2)
    pooled = cf.pooled(pd.concat([table, table.assign(seed=1)]))
    row = pooled.loc[("pca", "calibrated", "smote", "1")]
    assert row["runs"] == 2 and row["tp"] == 2 * table.iloc[1]["tp"]
    assert row["recall"] == pytest.approx(row["tp"] / 60)
    np.testing.assert_array_equal(cf.matrix(row), [[row["tn"], row["fp"]],
                                                   [row["fn"], row["tp"]]])
    assert row["recall_seed_sd"] == 0  # the same runs under both seeds


def test_pooled_rates_carry_their_spread_over_seeds():
    runs = pd.DataFrame({"detector": "pca", "threshold_rule": "label_free", "arm": "none",
                         "ratio": "0", "seed": [0, 0, 1], "tp": [3, 1, 8], "fn": [5, 3, 2],
                         "fp": 1, "tn": 9, "events_found": 1, "events_missed": 1,
                         "false_alarms": 0, "f1": [0.2, 0.4, 0.9], "pa_f1": 1.0})
    row = cf.pooled(runs).iloc[0]
    assert row["recall"] == pytest.approx(12 / 22)  # pooled over seeds: 4/12 and 8/10
    assert row["recall_seed_sd"] == pytest.approx(np.std([4 / 12, 8 / 10], ddof=1))
    assert row["f1_seed_sd"] == pytest.approx(np.std([0.3, 0.9], ddof=1))
    assert np.isnan(cf.pooled(runs[runs["seed"] == 0]).iloc[0]["recall_seed_sd"])


def test_curves_know_a_perfect_and_a_useless_detector():
    labels, store = kept()
    perfect = np.where(labels == 1, 10.0, 0.0) + np.linspace(0, 1, len(labels))
    store["scores"]["pca"] = perfect
    k = [{"dataset": "d", "entity": "e", "seed": 0, "labels": labels,
          "runs": pd.DataFrame(store["runs"]), "scores": store["scores"],
          "sources": store["sources"], "source_quantiles": cv_study.SOURCE_QUANTILES}]
    pr = cf.curves(k, "pr").set_index("model")
    assert (pr.loc["pca", "mean"] == 1).all()
    assert pr.loc["pca", "auc"].iloc[0] == pytest.approx(1)
    assert pr.loc["random", "auc"].iloc[0] < 0.3  # near the anomalous share .075
    roc = cf.curves(k, "roc").set_index("model")
    assert roc.loc["pca", "auc"].iloc[0] == pytest.approx(1)
    assert len(pr.loc["pca"]) == len(cf.CURVE_GRID)  # one curve, though judged twice
    with pytest.raises(ValueError, match="kind"):
        cf.curves(k, "det")


def test_sensitivity_marks_the_rule_and_an_oracle_above_it(tmp_path):
    kept(tmp_path)
    k = cf.read_held_out(tmp_path)
    sens = cf.sensitivity(k, "pca")
    assert set(sens["axis"]) == {"quantile"} and len(sens) == len(cv_study.SOURCE_QUANTILES)
    assert (sens["f1"] <= sens["oracle_f1"] + 1e-12).all()
    at = sens.loc[np.isclose(sens["x"], 0.99)].iloc[0]
    table = cf.confusion_table(k)
    free = table.query("detector == 'pca' and threshold_rule == 'label_free'").iloc[0]
    assert at["f1"] == pytest.approx(free["f1"])
    clf = cf.sensitivity(k, "window_classifier")
    assert set(clf["axis"]) == {"probability"} and clf["x"].between(0.05, 0.95).all()
    assert cf.plot_sensitivity(sens, tmp_path / "s.png", 0.99).stat().st_size > 0
    assert cf.plot_sensitivity(clf, tmp_path / "c.png", 0.5).stat().st_size > 0


def test_plots_write_files_and_refuse_nothing(tmp_path):
    kept(tmp_path)
    k = cf.read_held_out(tmp_path)
    pooled = cf.pooled(cf.confusion_table(k))
    assert cf.plot_matrices(pooled, tmp_path / "m.png").stat().st_size > 0
    assert cf.plot_matrices(pooled, tmp_path / "n.png", normalise=False).stat().st_size > 0
    assert cf.plot_curves(cf.curves(k, "roc"), tmp_path / "r.png", "roc").stat().st_size > 0
    with pytest.raises(ValueError, match="no held-out run"):
        cf.plot_matrices(pooled.iloc[0:0], tmp_path / "x.png")
    with pytest.raises(ValueError, match="no curve"):
        cf.plot_curves(pd.DataFrame(), tmp_path / "y.png")
    assert cf.read_held_out(tmp_path / "nothing") == []
