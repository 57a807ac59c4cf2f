"""Loss and convergence analysis (tsad_helpers.loss_report, notebook 04): reading the CV and
benchmark loss logs, curves with their intervals, convergence per arm, the ranking of arms,
and clear errors for logs in another layout."""

import numpy as np
import pandas as pd
import pytest

from tsad_helpers import cv_study
from tsad_helpers import loss_report as lr

from .test_cv_study import tiny_settings


def write_log(root, name, rows):
    path = root / "synthetic" / "syn-1" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def clf_rows(model, losses, val):
    return [{"model": model, "epoch": e, "loss": a, "val_loss": b}
            for e, (a, b) in enumerate(zip(losses, val))]


def test_parse_model_names():
    assert lr.parse_model("generator_wgan_gp") == {
        "kind": "generator", "detector": "", "arm": "wgan_gp", "ratio": ""}
    assert lr.parse_model("window_classifier_class_weight_r0") == {
        "kind": "supervised", "detector": "window_classifier", "arm": "class_weight",
        "ratio": "0"}
    assert lr.parse_model("window_classifier_vae_rbalance")["ratio"] == "balance"
    assert lr.parse_model("window_classifier_smote_r0.25")["arm"] == "smote"
    assert lr.parse_model("lstm_ae") == {"kind": "unsupervised", "detector": "lstm_ae",
                                         "arm": "(any)", "ratio": ""}


def test_read_cv_logs_and_curve_band(tmp_path):
    write_log(tmp_path, "rolling_stratified_fold0_seed0.csv",
              clf_rows("window_classifier_none_r0", [4.0, 2.0, 1.0], [5.0, 3.0, 3.0]))
    write_log(tmp_path, "rolling_stratified_fold1_seed0.csv",
              clf_rows("window_classifier_none_r0", [2.0, 1.0], [3.0, 2.0]))
    logs = lr.read_cv_logs(tmp_path)
    assert set(logs["fold"]) == {0, 1} and set(logs["phase"]) == {"train"}
    assert set(logs["arm"]) == {"none"} and set(logs["kind"]) == {"supervised"}
    band = lr.curve_band(logs, "loss", ["arm"])
    assert band["mean"].tolist() == [3.0, 1.5, 1.0]
    assert band["n"].tolist() == [2, 2, 1]  # the second fold stopped after two epochs
    assert (band["low"] <= band["mean"]).all() and (band["mean"] <= band["high"]).all()
    assert band.loc[0, "low"] >= 2.0 and band.loc[0, "high"] <= 4.0  # inside the values
    panels = lr.train_val_panels(logs, "arm")
    assert list(panels["none"]) == ["training (loss)", "validation (val_loss)"]


def test_logs_in_another_layout_are_refused_with_the_file_named(tmp_path):
    bad = write_log(tmp_path, "fold0.csv", clf_rows("lstm_ae", [1.0], [1.0]))
    with pytest.raises(ValueError, match="fold0.csv: not named"):
        lr.read_cv_logs(tmp_path)
    bad.unlink()
    write_log(tmp_path, "kfold_fold0_seed0.csv", [{"epoch": 0, "loss": 1.0}])
    with pytest.raises(ValueError, match="kfold_fold0_seed0.csv: no 'model' column"):
        lr.read_cv_logs(tmp_path)
    (tmp_path / "synthetic" / "syn-1" / "kfold_fold0_seed0.csv").write_text("")
    with pytest.raises(ValueError, match="kfold_fold0_seed0.csv: not a loss log"):
        lr.read_cv_logs(tmp_path)
    assert lr.read_cv_logs(tmp_path / "nothing").empty
    with pytest.raises(FileNotFoundError, match="run notebook 03"):
        lr.read_study(tmp_path, tmp_path)


def test_loss_columns_and_run_convergence():
    logs = pd.DataFrame({"run": ["a"] * 4 + ["b"] * 3 + ["c"] * 2,
                         "epoch": [0, 1, 2, 3, 0, 1, 2, 0, 1],
                         "rec_loss": [4, 2, 1, .5, np.nan, np.nan, np.nan, 1, 1],
                         "val_rec_loss": [6, 3, 2, 2.5, np.nan, np.nan, np.nan, np.nan, np.nan],
                         "forecast_loss": [np.nan] * 4 + [3, 2, 1] + [np.nan] * 2,
                         "val_forecast_loss": [np.nan] * 4 + [3, 1, 2] + [np.nan] * 2})
    assert lr.loss_columns(logs[logs["run"] == "a"]) == ("rec_loss", "val_rec_loss")
    assert lr.loss_columns(logs[logs["run"] == "b"]) == ("forecast_loss", "val_forecast_loss")
    assert lr.loss_columns(logs[logs["run"] == "c"]) == ("rec_loss", None)
    with pytest.raises(ValueError, match="no training loss"):
        lr.loss_columns(logs[["run", "epoch"]])
    conv = lr.run_convergence(logs, ["run"]).set_index("run")
    assert conv.loc["a", "epochs_run"] == 4 and conv.loc["a", "best_epoch"] == 3
    assert conv.loc["a", "best_val_loss"] == 2 and conv.loc["a", "train_val_gap"] == 1
    assert conv.loc["a", "convergence_efficiency"] == pytest.approx((6 - 2) / 3)
    assert conv.loc["b", "best_epoch"] == 2
    assert np.isnan(conv.loc["c", "best_epoch"]) and conv.loc["c", "epochs_run"] == 2


def test_term_panels_leave_out_switched_off_parts_and_split_phases():
    logs = pd.DataFrame({"detector": ["plain"] * 2 + ["with_adv"] * 2, "epoch": [0, 1] * 2,
                         "rec_loss": [1.0, .5, 1.2, .6], "adv_loss": [0, 0, .7, .69]})
    panels = lr.term_panels(logs, ["rec_loss", "adv_loss", "con_loss"], "detector",
                            run=("detector",))
    assert list(panels) == ["rec_loss", "adv_loss"]
    assert list(panels["adv_loss"]) == ["with_adv"]
    gan = pd.DataFrame({"kind": "generator", "arm": "timegan", "dataset": "synthetic",
                        "phase": ["embedding", "embedding", "joint"], "epoch": [0, 1, 0],
                        "e_loss": [2.0, 1.0, 1.5], "g_loss": [np.nan, np.nan, 3.0]})
    assert list(lr.generator_panels(gan, "timegan")) == [
        "embedding · e_loss", "joint · e_loss", "joint · g_loss"]


def fit_rows(arm_seconds, blocks=6, detector="window_classifier", rule="probability"):
    rows = []
    for b in range(blocks):
        for arm, sec in arm_seconds.items():
            rows.append({"dataset": "synthetic", "entity": "syn-1", "scheme": "rolling_stratified",
                         "fold": b, "seed": 0, "arm": arm, "ratio": "0", "detector": detector,
                         "threshold_rule": rule, "status": "ok", "epochs_run": 5,
                         "best_epoch": 3, "seconds_to_best": sec + 0.01 * b,
                         "convergence_efficiency": 0.1, "train_val_gap": sec / 10,
                         "best_val_loss": sec})
    return rows


def test_convergence_summary_counts_an_unsupervised_fit_once():
    table = pd.DataFrame(fit_rows({"none": 1.0, "smote": 2.0})
                         + fit_rows({"none": 5.0, "smote": 5.0}, detector="lstm_ae",
                                    rule="label_free"))
    final = table.iloc[:2].assign(scheme=cv_study.FINAL, fold=-1)
    conv = lr.convergence_summary(pd.concat([table, final]))
    lstm = conv[(conv["detector"] == "lstm_ae") & (conv["measure"] == "epochs_run")]
    assert lstm["arm"].tolist() == ["(any)"] and lstm["n"].tolist() == [6]
    none = conv[(conv["arm"] == "none") & (conv["measure"] == "seconds_to_best")].iloc[0]
    assert none["n"] == 6 and none["mean"] == pytest.approx(1.025)
    assert none["ci_low"] <= none["mean"] <= none["ci_high"]
    text = lr.readable(conv)
    assert text.loc[("window_classifier", "none"), "fits"] == 6


def test_convergence_ranking_finds_the_faster_arm_and_leaves_out_a_sparse_one():
    rows = fit_rows({"none": 3.0, "smote": 1.0, "vae": 2.0}, blocks=8)
    rows += fit_rows({"timegan": 0.5}, blocks=2)
    ranking = lr.convergence_ranking(pd.DataFrame(rows), measures=("seconds_to_best",))
    assert ranking.index.tolist() == ["smote", "vae", "none"]
    assert ranking["seconds_to_best"].tolist() == [1.0, 2.0, 3.0]
    assert ranking.attrs["friedman_p"]["seconds_to_best"] < 0.01
    assert ranking.attrs["left_out"] == ["timegan"]
    tied = lr.convergence_ranking(pd.DataFrame(fit_rows({"a": 1.0, "b": 1.0, "c": 1.0})),
                                  measures=("epochs_run",))
    assert np.isnan(tied.attrs["friedman_p"]["epochs_run"])


def test_plots_write_files_and_refuse_nothing(tmp_path):
    table = pd.DataFrame(fit_rows({"none": 1.0, "smote": 2.0}))
    assert lr.plot_gap(table, tmp_path / "gap.png").stat().st_size > 0
    with pytest.raises(ValueError, match="no curve"):
        lr.plot_curves({}, tmp_path / "x.png")


def test_a_real_cv_task_logs_every_model_and_is_read_back(tmp_path):
    settings = tiny_settings(detectors=("window_classifier",), arms=("none", "injection"))
    rows = pd.DataFrame(cv_study.run_fold("synthetic", "syn-1", "rolling_stratified", 0, 0,
                                          "smoke", loss_root=tmp_path, settings=settings))
    logs = lr.read_cv_logs(tmp_path)
    runs = logs.drop_duplicates(["model"])
    assert sorted(runs["arm"]) == ["injection", "injection", "none"]
    assert set(runs["ratio"]) == {"0", "0.5", "balance"}
    # the table's convergence and the log agree on the epochs run
    per_model = logs.groupby("model")["epoch"].max() + 1
    clf = rows[rows["detector"] == "window_classifier"].set_index("ratio")
    assert per_model["window_classifier_none_r0"] == clf.loc["0", "epochs_run"]
    assert not list(tmp_path.rglob("*.parts"))
