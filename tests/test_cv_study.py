"""The CV study (tsad_helpers.cv_study, cv_report): cuts, folds without leakage, a marker
planted in the validation fold that no generator, scaler or threshold may see, resumable
runs, failed tasks reported, Dask results equal to the serial path, and the statistics."""

import re

import numpy as np
import pandas as pd
import pytest

from tsad_helpers import cv_report, cv_study, profiles
from tsad_helpers.detectors.base import Detector
from tsad_helpers.synthesis.base import Synthesizer

METRIC_COLUMNS = ["f1", "pa_f1", "auc_pr", "vus_pr", "precision", "recall", "best_f1"]


def tiny_settings(detectors=("pca", "random", "window_classifier"),
                  arms=("none", "class_weight", "oversample", "injection")):
    s = profiles.get("smoke")
    s["cv"].update(detectors=list(detectors), arms=list(arms), ratios=[0.5])
    s["detectors"]["window_classifier"].update(epochs=2, patience=1, filters=8)
    return s


def labels_with_events(n=600, events=((50, 60), (200, 215), (380, 390), (500, 520))):
    y = np.zeros(n, dtype=np.int64)
    for a, b in events:
        y[a:b] = 1
    return y


# ---- cut and folds -----------------------------------------------------------------------------
def test_development_cut_keeps_whole_events_on_both_sides():
    y = labels_with_events()
    cut = cv_study.development_cut(y, share=0.7, window=8)
    assert abs(cut - 420) <= 0.15 * 600
    assert not (y[cut - 1] == 1 and y[cut] == 1)  # not inside an event
    assert y[:cut].any() and y[cut:].any()
    # the nearest allowed position to 70 % is inside the event at 380-390? no: 420 is free
    assert cut == 420


def test_development_cut_moves_out_of_an_event_and_refuses_impossible_series():
    y = labels_with_events(events=((100, 110), (400, 440), (550, 560)))
    cut = cv_study.development_cut(y, share=0.7, window=8)
    assert cut in (400, 440)
    with pytest.raises(cv_study.NoDevelopmentCut, match="1 event"):
        cv_study.development_cut(labels_with_events(events=((100, 120),)))
    with pytest.raises(cv_study.NoDevelopmentCut, match="no cut within"):
        cv_study.development_cut(labels_with_events(events=((10, 20), (30, 40))), window=8)


@pytest.mark.parametrize("scheme", cv_study.TIME_RESPECTING)
def test_time_respecting_folds_train_before_the_gap(scheme):
    y = labels_with_events(1200, ((100, 110), (350, 370), (600, 610), (820, 840), (1050, 1060)))
    window = 16
    folds = cv_study.folds(scheme, y, window, stride=4, n_splits=3, seed=0)
    assert len(folds) == 3
    for train, val in folds:
        assert len(train) and len(val)
        # no training point within gap (window - 1) of, or after, any validation point
        assert (train + window - 1).max() < val.min() - (window - 1)
        assert np.all(np.diff(val) == 1)  # validation: every window of the block


def test_rolling_stratified_validation_blocks_hold_whole_events():
    y = labels_with_events(1200, ((100, 110), (350, 370), (600, 610), (820, 840), (1050, 1060)))
    for _, val in cv_study.folds("rolling_stratified", y, 16, 4, 3, 0):
        a, b = val.min(), val.max() + 16  # the block's points [a, b)
        assert not (y[a - 1] == 1 and y[a] == 1)  # no event cut by an edge
        assert b == len(y) or not (y[b - 1] == 1 and y[b] == 1)
        assert y[a:b].any()


def test_shuffled_folds_leak_overlapping_windows():
    """The schemes the earlier study used: validation windows overlap training windows."""
    y = labels_with_events()
    for scheme in ("kfold", "stratified_kfold"):
        train, val = cv_study.folds(scheme, y, 16, 4, 3, seed=0)[0]
        assert len(set(train) & set(val)) == 0
        overlap = np.abs(train[:, None] - val[None, :]).min(axis=0) < 16
        assert overlap.mean() > 0.9


def test_stratified_kfold_refuses_too_few_anomalous_windows():
    with pytest.raises(ValueError, match="anomalous windows"):
        cv_study.folds("stratified_kfold", labels_with_events(events=((10, 11),)), 4, 4, 3, 0)


def test_inner_split_leaves_no_overlap():
    starts = np.arange(0, 400, 4)
    fit, inner = cv_study.inner_split(starts, 16, 0.25)
    assert (fit + 16).max() <= inner.min()
    assert len(inner) == 25


# ---- a marker in the validation fold -------------------------------------------------------
@pytest.mark.parametrize("scheme,fold", [("rolling_stratified", 1), ("final", -1)])
def test_nothing_fitted_sees_the_validation_fold(monkeypatch, tmp_path, scheme, fold):
    settings = tiny_settings(detectors=("pca", "lstm_ae", "window_classifier"),
                             arms=("none", "oversample", "smote", "injection", "vae"))
    settings["detectors"]["lstm_ae"].update(epochs=1, units=8, latent=4)
    x_dev, y_dev, x_out, y_out, cut = cv_study.load_entity("synthetic", "syn-1", settings)
    marker = 1e6
    if scheme == "final":
        x_out = x_out.copy()
        x_out[5:] = marker
    else:
        window = settings["window"]
        _, val = cv_study.folds(scheme, y_dev, window, 4, settings["cv"]["n_splits"], 0)[fold]
        x_dev = x_dev.copy()
        x_dev[val.min():val.max() + window] = marker
    monkeypatch.setattr(cv_study, "load_entity", lambda *a: (x_dev, y_dev, x_out, y_out, cut))
    seen = []

    def spy(cls, method):
        original = getattr(cls, method)

        def wrapper(self, *args, **kwargs):
            arrays = list(args) + list(kwargs.values())
            for a in arrays:
                for part in (a if isinstance(a, tuple) else (a,)):
                    if isinstance(part, np.ndarray) and part.dtype.kind == "f":
                        seen.append((type(self).__name__, method, bool((part >= marker).any())))
            return original(self, *args, **kwargs)
        monkeypatch.setattr(cls, method, wrapper)

    spy(Detector, "fit_windows")  # training windows, validation windows, scale_on
    spy(Detector, "score_windows")  # what thresholds are computed from
    spy(Synthesizer, "fit")
    rows = cv_study.run_fold("synthetic", "syn-1", scheme, fold, 0, "smoke",
                             loss_root=tmp_path, settings=settings)
    assert {r["status"] for r in rows} == {"ok"}
    names = {name for name, _, _ in seen}
    assert {"PCADetector", "LSTMAutoencoder", "WindowClassifier", "SMOTESynthesizer",
            "AnomalyInjector", "TimeVAE"} <= names
    assert not [s for s in seen if s[2]], "a fitted component saw the validation marker"
    # ...while the validation scores did: the marker region is judged
    assert any(r["val_points"] > 0 for r in rows)


# ---- one fold, the grid ------------------------------------------------------------------------
def test_run_fold_rows(tmp_path):
    settings = tiny_settings()
    rows = pd.DataFrame(cv_study.run_fold("synthetic", "syn-1", "rolling_stratified", 0, 0,
                                          "smoke", loss_root=tmp_path, settings=settings))
    assert set(cv_study.RUN) <= set(rows.columns)
    assert (rows["status"] == "ok").all()
    clf = rows[rows["detector"] == "window_classifier"]
    assert sorted(clf["arm"]) == ["class_weight", "injection", "injection", "none",
                                  "oversample", "oversample"]
    assert set(clf["threshold_rule"]) == {"probability"}
    assert clf["epochs_run"].notna().all() and clf["best_epoch"].between(1, 2).all()
    pca = rows[rows["detector"] == "pca"]
    assert set(pca["threshold_rule"]) == {"label_free", "calibrated"}
    # arms change an unsupervised detector's calibrated threshold only, never its ranking
    assert pca["auc_pr"].nunique() == 1
    assert rows[rows["detector"] == "random"].shape[0] == 1
    synth = rows[rows["arm"] == "injection"]
    assert set(synth["ratio"]) == {"0.5", "balance"} and not synth["collapsed"].any()
    logs = list(tmp_path.rglob("*.csv"))
    assert [p.relative_to(tmp_path).as_posix() for p in logs] == [
        "synthetic/syn-1/rolling_stratified_fold0_seed0.csv"]
    models = set(pd.read_csv(logs[0])["model"])
    assert {"window_classifier_injection_rbalance", "window_classifier_none_r0"} <= models
    assert not list(tmp_path.rglob("*.parts"))


def test_collapsed_generator_is_flagged():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(20, 8, 3))
    same = np.repeat(real[:1], 30, axis=0) + rng.normal(scale=1e-3, size=(30, 8, 3))
    assert cv_study._diversity(same, real)["collapsed"]
    assert not cv_study._diversity(rng.normal(size=(30, 8, 3)), real)["collapsed"]


def test_run_resumes_and_reports_failed_tasks(monkeypatch, tmp_path):
    settings = tiny_settings(detectors=("pca", "random"), arms=("none", "oversample"))
    table = tmp_path / "runs.csv"
    calls = []
    real = cv_study.run_fold

    def flaky(*task):
        calls.append(task[:5])
        if task[2] == "rolling_stratified" and task[3] == 1:
            raise RuntimeError("boom")
        return real(*task)
    monkeypatch.setattr(cv_study, "run_fold", flaky)
    first = cv_study.run(settings, "smoke", table, serial=True, loss_root=tmp_path / "loss")
    assert len(calls) == 3
    failed = pd.read_csv(table.with_suffix(".failed.csv"))
    assert failed[["scheme", "fold"]].values.tolist() == [["rolling_stratified", 1]]
    assert "RuntimeError: boom" in failed["error"].iloc[0]
    assert set(first["scheme"]) == {"final", "rolling_stratified"}
    # the table's floats keep TABLE_DIGITS significant digits, and read back unchanged
    text = table.read_text()
    mantissas = re.findall(r"(?<![\w.])\d+\.\d+(?=[,\n])", text)
    assert mantissas and max(len(m.replace(".", "").lstrip("0")) for m in mantissas) \
        <= cv_study.TABLE_DIGITS
    pd.testing.assert_frame_equal(cv_study.read_table(table), first, check_dtype=False)
    calls.clear()
    second = cv_study.run(settings, "smoke", table, serial=True, loss_root=tmp_path / "loss")
    assert calls == [("synthetic", "syn-1", "rolling_stratified", 1, 0)]  # only the failed one
    assert len(second) == len(first)
    pd.testing.assert_frame_equal(pd.read_csv(table, dtype={"ratio": str}), second,
                                  check_dtype=False)
    # a held-out refit without its kept scores (a table from before they were kept) is run
    # again, and its rows replaced, not doubled
    cv_study.scores_path(cv_study.scores_dir_for(table), "synthetic", "syn-1", 0).unlink()
    calls.clear()
    third = cv_study.run(settings, "smoke", table, serial=True, loss_root=tmp_path / "loss")
    assert sorted(calls) == [("synthetic", "syn-1", cv_study.FINAL, -1, 0),
                             ("synthetic", "syn-1", "rolling_stratified", 1, 0)]  # still boom
    assert len(third) == len(first)
    assert not third.duplicated(list(cv_study.RUN)).any()
    assert cv_study.scores_path(cv_study.scores_dir_for(table), "synthetic", "syn-1", 0).is_file()


def test_compact_rounds_floats_to_significant_digits_and_is_stable():
    frame = pd.DataFrame({"f1": [1 / 3, 123456.789012345, np.nan, 2.0, 1e-12 / 3],
                          "fold": [0, 1, 2, 3, 4], "arm": list("abcde")})
    small = cv_study.compact(frame, digits=4)
    assert small["f1"].tolist()[:2] == [0.3333, 123500.0] and np.isnan(small["f1"][2])
    assert small["f1"][4] == 3.333e-13
    pd.testing.assert_frame_equal(small[["fold", "arm"]], frame[["fold", "arm"]])
    pd.testing.assert_frame_equal(cv_study.compact(small, digits=4), small)
    assert (frame["f1"] == 1 / 3).sum() == 1  # the input is not changed


def test_dask_grid_equals_serial_path(tmp_path):
    settings = tiny_settings(detectors=("pca", "iforest", "random", "window_classifier"),
                             arms=("none", "smote"))
    serial = cv_study.run(settings, "smoke", tmp_path / "serial.csv", serial=True,
                          loss_root=tmp_path / "l1")
    dask = cv_study.run(settings, "smoke", tmp_path / "dask.csv", workers=2,
                        loss_root=tmp_path / "l2")
    keep = list(cv_study.RUN) + ["status"] + METRIC_COLUMNS
    numpy_only = serial["detector"] != "window_classifier"
    # scikit-learn/NumPy detectors: bit for bit
    pd.testing.assert_frame_equal(serial.loc[numpy_only, keep], dask.loc[numpy_only, keep])
    # TensorFlow fits differ between this process (other tests' TensorFlow state, two
    # threads) and fresh single-threaded workers, and a 2-epoch classifier on 40 windows
    # amplifies that (measured: AUC-PR .50 vs .10 on one run), so its rows are checked for the
    # same runs and statuses, with finite metrics, not for equal values
    pd.testing.assert_frame_equal(serial.loc[~numpy_only, list(cv_study.RUN) + ["status"]],
                                  dask.loc[~numpy_only, list(cv_study.RUN) + ["status"]])
    assert np.isfinite(dask.loc[~numpy_only, ["auc_pr", "vus_pr"]].to_numpy()).all()


# ---- statistics --------------------------------------------------------------------------------
def fake_table(effect=0.1, n_entities=8):
    rng = np.random.default_rng(1)
    rows = []
    for e in range(n_entities):
        entity_level = rng.uniform(0.2, 0.6)
        for fold in (0, 1, 2, -1):
            scheme = "final" if fold == -1 else "kfold"
            base = entity_level + rng.normal(0, 0.02)
            for arm, shift in (("none", 0.0), ("smote", 0.02), ("vae", effect)):
                ratio = "0" if arm == "none" else "1"
                optimistic = 0.1 if scheme == "kfold" else 0.0
                rows.append({"dataset": "d", "entity": f"e{e}", "scheme": scheme, "fold": fold,
                             "seed": 0, "arm": arm, "ratio": ratio, "detector": "clf",
                             "threshold_rule": "probability", "status": "ok",
                             **{m: base + shift + optimistic + rng.normal(0, 0.01)
                                for m in cv_report.METRICS}})
    return pd.DataFrame(rows)


def test_paired_tests_find_a_real_effect_and_not_a_null_one():
    t = fake_table(effect=0.1)
    res = cv_report.paired_tests(t[t["scheme"] == "kfold"], "f1")
    vae = res[res["arm"] == "vae"].iloc[0]
    assert vae["n"] == 24 and vae["mean_diff"] == pytest.approx(0.1, abs=0.01)
    assert vae["p"] < 1e-3 and vae["p_holm"] >= vae["p"] and vae["wins"] == 1.0
    null = cv_report.paired_tests(fake_table(effect=0.0)[lambda d: d["scheme"] == "kfold"],
                                  "auc_pr")
    assert null[null["arm"] == "vae"]["p"].iloc[0] > 0.01
    vs_smote = cv_report.paired_tests(t, "f1", baseline="smote")
    assert set(vs_smote["arm"]) == {"vae"}


def test_optimism_is_cv_estimate_minus_held_out():
    opt = cv_report.optimism(fake_table(), "auc_pr")
    assert set(opt["scheme"]) == {"kfold"}
    assert opt["optimism"].mean() == pytest.approx(0.1, abs=0.03)
    summ = cv_report.optimism_summary(opt)
    assert summ["ci_low"].iloc[0] < summ["mean"].iloc[0] < summ["ci_high"].iloc[0]


def test_summary_and_bootstrap():
    summ = cv_report.summary(fake_table())
    row = summ[(summ["arm"] == "vae") & (summ["scheme"] == "kfold") & (summ["metric"] == "f1")]
    assert row["n"].iloc[0] == 24
    assert row["ci_low"].iloc[0] < row["mean"].iloc[0] < row["ci_high"].iloc[0]
    assert cv_report.bootstrap_ci([np.nan, 2.0]) == (2.0, 2.0)


def test_critical_difference(tmp_path):
    t = fake_table(effect=0.1)
    t["ratio"] = t["ratio"].replace("1", "balance")
    ranks, p, nemenyi, path = cv_report.critical_difference(t, "f1", "kfold", "clf",
                                                            path=tmp_path / "cd.png")
    assert list(ranks.index) == ["vae", "smote", "none"] and p < 0.01
    assert nemenyi.shape == (3, 3) and path.is_file()


def test_the_results_folder_table_is_gzipped_reproducibly_beside_its_settings(tmp_path):
    from tsad_helpers.results import save_table

    settings = tiny_settings(detectors=("random",), arms=("none",))
    table = cv_study.table_in(tmp_path)
    first = cv_study.run(settings, "smoke", table, serial=True, loss_root=tmp_path / "loss")
    assert table.name == "03_cv_runs.csv.gz" and table.read_bytes()[:2] == b"\x1f\x8b"
    assert {p.name for p in tmp_path.glob("03_cv_runs.*")} == {
        "03_cv_runs.csv.gz", "03_cv_runs.settings.json", "03_cv_runs.failed.csv"}
    pd.testing.assert_frame_equal(cv_study.read_table(table), first, check_dtype=False)
    # the plan it is part of, for a partial table's coverage
    planned = pd.read_csv(tmp_path / "03_cv_plan.csv")
    assert list(planned.columns) == list(cv_study.KEY)
    assert len(planned) == len(first.drop_duplicates(list(cv_study.KEY)))
    # no time stamp or file name in the gzip header: the same table gives the same bytes
    again = save_table(first, tmp_path / "other" / "copy.csv.gz", index=False)
    assert again.read_bytes() == save_table(first, table, index=False).read_bytes()
    # a plain table left by an earlier version is not silently ignored or replaced
    old = tmp_path / "old"
    old.mkdir()
    (old / "03_cv_runs.csv").write_text("dataset\nsynthetic\n")
    with pytest.raises(FileExistsError, match=r"03_cv_runs.csv is an uncompressed .*gzip"):
        cv_study.table_in(old)


def test_cli_cv_runs_the_grid_into_the_profile_table(monkeypatch, tmp_path, capsys):
    from tsad_helpers import cli

    seen = {}

    def fake_run(settings, profile, table_path, **kwargs):
        seen.update(profile=profile, table=table_path, **kwargs)
        return pd.DataFrame({"x": [1, 2]})
    monkeypatch.setattr(cv_study, "run", fake_run)
    code = cli.main(["cv", "--profile", "smoke", "--out", str(tmp_path), "--workers", "3",
                     "--scheduler", "tcp://127.0.0.1:1"])
    assert code == 0
    assert seen["table"] == tmp_path / "03_cv_runs.csv.gz" and seen["workers"] == 3
    assert seen["scheduler"] == "tcp://127.0.0.1:1"
    assert "2 runs" in capsys.readouterr().out
    code = cli.main(["cv", "--profile", "smoke", "--out", str(tmp_path), "--supplement"])
    assert code == 0 and seen["table"] == tmp_path / "03_cv_supplement_runs.csv.gz"
    assert seen["loss_root"] == tmp_path / "loss" / "03_cv_supplement"


def test_arm_entities_limit_a_costly_arm_and_plan_lists_it():
    s = tiny_settings(arms=("none", "injection", "timegan"))
    s["cv"]["arm_entities"] = {"timegan": {"synthetic": ["syn-9"]}}
    assert cv_study.arms_for(s["cv"], "synthetic", "syn-1") == ["none", "injection"]
    assert cv_study.arms_for(s["cv"], "smd", "machine-1-1") == ["none", "injection", "timegan"]
    _, skipped = cv_study.plan(s)
    assert skipped["reason"].str.contains("arm timegan not run").any()


def test_a_table_is_continued_only_with_its_own_settings(tmp_path):
    settings = tiny_settings(detectors=("pca", "random"), arms=("none",))
    table = tmp_path / "runs.csv"
    cv_study.run(settings, "smoke", table, serial=True, loss_root=tmp_path / "loss")
    assert table.with_suffix(".settings.json").is_file()
    changed = tiny_settings(detectors=("pca", "random"), arms=("none",))
    changed["cv"]["inner_validation"] = 0.3
    with pytest.raises(ValueError, match="other settings"):
        cv_study.run(changed, "smoke", table, serial=True, loss_root=tmp_path / "loss")
    # a detector the study does not run may be added or changed; one it runs may not
    extra = tiny_settings(detectors=("pca", "random"), arms=("none",))
    extra["detectors"]["some_new_detector"] = {"window": 7}
    cv_study.run(extra, "smoke", table, serial=True, loss_root=tmp_path / "loss")
    used = tiny_settings(detectors=("pca", "random"), arms=("none",))
    used["detectors"]["pca"] = {**used["detectors"]["pca"], "n_components": 0.5}
    with pytest.raises(ValueError, match="other settings"):
        cv_study.run(used, "smoke", table, serial=True, loss_root=tmp_path / "loss")


def test_arm_blocks_drop_an_arm_run_on_few_entities():
    t = fake_table(effect=0.1)
    t["ratio"] = t["ratio"].replace("1", "balance")
    t = t[~((t["arm"] == "vae") & (t["entity"] != "e0"))]
    wide = cv_report.arm_blocks(t, "f1", "kfold", "clf")
    assert list(wide.columns) == ["none", "smote"] and len(wide) == 24


def test_arm_schemes_and_study_seeds():
    s = tiny_settings(arms=("none", "timegan"))
    s["cv"]["arm_schemes"] = {"timegan": ["rolling_stratified", "final"]}
    assert cv_study.arms_for(s["cv"], "synthetic", "syn-1", "kfold") == ["none"]
    assert cv_study.arms_for(s["cv"], "synthetic", "syn-1", "final") == ["none", "timegan"]
    s["cv"]["seeds"] = [3, 4]
    tasks, _ = cv_study.plan(s)
    assert {t[4] for t in tasks} == {3, 4}


def test_held_out_refit_keeps_scores_that_reproduce_its_rows(tmp_path):
    from tsad_helpers import metrics

    settings = tiny_settings(detectors=("pca", "random", "window_classifier"),
                             arms=("none", "injection"))
    rows = pd.DataFrame(cv_study.run_fold("synthetic", "syn-1", cv_study.FINAL, -1, 0, "smoke",
                                          loss_root=tmp_path / "loss", settings=settings,
                                          scores_root=tmp_path / "scores"))
    path = cv_study.scores_path(tmp_path / "scores", "synthetic", "syn-1", 0)
    kept = cv_study.load_scores(path)
    _, _, _, y_out, _ = cv_study.load_entity("synthetic", "syn-1", settings)
    np.testing.assert_array_equal(kept["labels"], y_out)
    ok = rows[rows["status"] == "ok"]
    assert len(kept["runs"]) == len(ok)
    assert set(kept["scores"]) == {"pca", "random", "window_classifier_none_r0",
                                   "window_classifier_injection_r0.5",
                                   "window_classifier_injection_rbalance"}
    assert set(kept["sources"]) == {"pca", "random"}
    key = ["detector", "arm", "ratio", "threshold_rule"]
    for run in kept["runs"].to_dict("records"):
        row = ok.set_index(key).loc[tuple(run[k] for k in key)]
        again = metrics.evaluate(kept["scores"][run["model"]].astype(np.float64),
                                 kept["labels"], run["threshold"])
        assert again["f1"] == pytest.approx(row["f1"], abs=1e-6)
        assert again["auc_pr"] == pytest.approx(row["auc_pr"], abs=1e-4)
    # the label-free threshold is the 0.99 quantile of the kept source quantiles
    q = list(np.round(kept["source_quantiles"], 6)).index(0.99)
    free = kept["runs"].query("detector == 'pca' and threshold_rule == 'label_free'")
    assert free["threshold"].iloc[0] == pytest.approx(kept["sources"]["pca"][q])
    # CV folds keep nothing; a damaged file is refused with its name
    cv_study.run_fold("synthetic", "syn-1", "rolling_stratified", 0, 0, "smoke",
                      loss_root=tmp_path / "loss", settings=settings,
                      scores_root=tmp_path / "scores")
    assert [p.name for p in (tmp_path / "scores").rglob("*.npz")] == ["final_seed0.npz"]
    path.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="final_seed0.npz: not a held-out scores file"):
        cv_study.load_scores(path)


def test_the_committed_cv_table_was_made_with_todays_settings():
    """The paper profile's committed CV table resumes only with the settings that began it:
    a changed profile (a detector's stopping rule, say) must come with a new table or an
    explicit pin of the old setting."""
    import json

    from tsad_helpers.results import REPO_ROOT

    path = REPO_ROOT / "simulation_results" / "paper" / "03_cv_runs.settings.json"
    recorded = json.loads(path.read_text())
    current = cv_study.fingerprint(profiles.get("paper"))
    assert cv_study._relevant(recorded) == cv_study._relevant(current)


def test_generators_and_detectors_outside_the_study_do_not_change_its_settings():
    settings = profiles.get("smoke")
    base = cv_study._relevant(cv_study.fingerprint(settings))
    settings["synthesis"]["generators"]["doppelganger"] = {"epochs": 1}  # notebook 02 only
    settings["detectors"]["garch"] = {"window": 99}
    assert cv_study._relevant(cv_study.fingerprint(settings)) == base
    arm = settings["cv"]["arms"][-1]
    settings["synthesis"]["generators"].setdefault(arm, {})["changed"] = 1  # one it runs
    assert cv_study._relevant(cv_study.fingerprint(settings)) != base


# ---- the supplement grid -----------------------------------------------------------------------
@pytest.mark.parametrize("profile", profiles.NAMES)
def test_supplement_replaces_the_grid_and_merges_the_parameters(profile):
    settings = profiles.get(profile)
    sup = cv_study.supplement_settings(settings)
    extra = settings["cv_supplement"]
    assert sup["cv"]["arms"] == extra["arms"] and sup["cv"]["detectors"] == extra["detectors"]
    assert "doppelganger" in sup["cv"]["arms"]
    assert {"arima", "garch"} & set(sup["cv"]["detectors"])
    # the main grid's parameters stay (a detector both grids run keeps its settings) ...
    for key in ("generator_params", "detector_params"):
        assert sup["cv"][key] == {**settings["cv"][key], **extra[key]}
    # ... and so do its folds, windows and data, unless it sets them
    for key in ("datasets", "share", "n_splits", "stride", "inner_validation", "max_entities"):
        assert sup["cv"][key] == extra.get(key, settings["cv"][key])
    assert {"share", "n_splits", "stride", "inner_validation"}.isdisjoint(extra)
    assert settings["cv"]["arms"] != sup["cv"]["arms"]  # the main settings are not changed
    # the statistical detectors score the study's window, so every arm calibrates them
    assert all(sup["cv"]["detector_params"][d]["window"] == settings["window"]
               for d in ("arima", "garch"))
    without = {k: v for k, v in settings.items() if k != "cv_supplement"}
    assert cv_study.supplement_settings(without) is None


def test_the_supplement_has_its_own_table_scores_and_settings(tmp_path):
    main, sup = cv_study.table_in(tmp_path), cv_study.table_in(tmp_path, cv_study.SUPPLEMENT)
    assert main.name == "03_cv_runs.csv.gz" and sup.name == "03_cv_supplement_runs.csv.gz"
    assert cv_study.scores_dir_for(main).name == cv_study.SCORES_DIR
    assert cv_study.scores_dir_for(sup).name == "03_cv_supplement_scores"
    assert cv_study.plan_path_for(main).name == "03_cv_plan.csv"
    assert cv_study.plan_path_for(sup).name == "03_cv_supplement_plan.csv"
    with pytest.raises(ValueError, match="unknown part of the CV study 'extra'"):
        cv_study.table_in(tmp_path, "extra")


def test_a_detector_that_cannot_fit_a_fold_is_a_status_row_not_a_failed_task(tmp_path):
    settings = tiny_settings(detectors=("garch", "pca"), arms=("none",))
    settings["cv"]["detector_params"] = {"garch": {"window": settings["window"],
                                                   "min_fit_points": 10 ** 6}}
    rows = pd.DataFrame(cv_study.run_fold("synthetic", "syn-1", "rolling_stratified", 0, 0,
                                          "smoke", loss_root=tmp_path, settings=settings))
    garch = rows[rows["detector"] == "garch"]
    assert len(garch) == 1 and garch["status"].iloc[0].startswith("garch: ")
    assert "min_fit_points=1000000" in garch["status"].iloc[0]
    assert (rows.loc[rows["detector"] == "pca", "status"] == "ok").all()


def test_statistical_detectors_and_doppelganger_run_in_a_fold(tmp_path):
    settings = tiny_settings(detectors=("arima", "garch"), arms=("none", "doppelganger"))
    settings["cv"]["detector_params"] = {d: {"window": settings["window"],
                                             "min_fit_points": 100} for d in ("arima", "garch")}
    settings["cv"]["generator_params"] = {"doppelganger": {
        "hidden": 8, "attr_hidden": 8, "critic_hidden": 8, "epochs": 1}}
    rows = pd.DataFrame(cv_study.run_fold("synthetic", "syn-1", cv_study.FINAL, -1, 0,
                                          "smoke", loss_root=tmp_path, settings=settings))
    assert (rows["status"] == "ok").all(), rows["status"].unique()
    for det in ("arima", "garch"):
        mine = rows[rows["detector"] == det]
        assert set(mine["arm"]) == {"none", "doppelganger"}
        assert mine["auc_pr"].between(0, 1).all() and mine["auc_pr"].nunique() == 1
    dg = rows[rows["arm"] == "doppelganger"]
    assert dg["generator_seconds"].gt(0).all() and dg["n_synthetic"].gt(0).all()
    models = set(pd.read_csv(next(tmp_path.rglob("*.csv")))["model"])
    assert "generator_doppelganger" in models  # its losses are logged with the fold's


def test_saved_score_noise_shows_ties_that_rounding_noise_breaks(tmp_path):
    y = np.zeros(40, dtype=np.int8)
    y[[3, 10, 20, 30]] = 1
    tied = np.where(np.arange(40) % 2 == 0, 1.0, 2.0)  # two plateaus, labels on both
    noisy = tied * (1 + 1e-6 * np.random.default_rng(0).standard_normal(40))
    for root, score in (("main", noisy), ("again", tied)):
        for entity in ("e1", "e2"):
            cv_study.save_scores(tmp_path / root / "d" / entity / "final_seed0.npz", y,
                                 {"runs": [], "scores": {"pca": score}, "sources": {}})
    cv_study.save_scores(tmp_path / "main" / "d" / "e3" / "final_seed0.npz", y,
                         {"runs": [], "scores": {"pca": tied}, "sources": {}})  # main only
    t = cv_report.saved_score_noise(tmp_path / "main", tmp_path / "again")
    assert list(t["file"]) == ["d/e1/final_seed0.npz", "d/e2/final_seed0.npz"]
    assert t["distinct_again"].eq(2).all() and t["distinct"].gt(2).all()
    assert t["max_rel_diff"].between(1e-8, 1e-5).all()
    assert (t["auc_pr"] != t["auc_pr_again"]).all()  # the broken ties move AUC-PR
    cv_study.save_scores(tmp_path / "again" / "d" / "e2" / "final_seed0.npz", 1 - y,
                         {"runs": [], "scores": {"pca": tied}, "sources": {}})
    with pytest.raises(ValueError, match="e2/final_seed0.npz.*labels differ"):
        cv_report.saved_score_noise(tmp_path / "main", tmp_path / "again")
    with pytest.raises(FileNotFoundError, match="no saved scores folder .*missing"):
        cv_report.saved_score_noise(tmp_path / "main", tmp_path / "missing")


def test_repeated_runs_compare_a_supplement_with_the_main_table():
    main = pd.DataFrame({"dataset": "d", "entity": "e", "scheme": "final", "fold": -1,
                         "seed": 0, "arm": "none", "ratio": "0",
                         "detector": ["pca", "pca", "window_classifier", "garch"],
                         "threshold_rule": ["label_free", "calibrated", "probability",
                                            "label_free"],
                         "status": "ok", "f1": [0.5, 0.4, 0.3, 0.2],
                         "auc_pr": [0.6, 0.6, 0.7, 0.1]})
    other = main.copy()
    other.loc[2, "f1"] = 0.25  # the classifier did not repeat
    other = other[other["detector"] != "garch"]  # and garch is not in both
    same = cv_report.repeated_runs(main, other).set_index("detector")
    assert list(same.index) == ["pca", "window_classifier"]
    assert same.loc["pca", "pairs"] == 2 and same.loc["pca", "f1_same"] == 1.0
    assert same.loc["pca", "identical"] == 2 and same.loc["window_classifier", "identical"] == 0
    assert same.loc["window_classifier", "f1_max_diff"] == pytest.approx(0.05)
    assert same.loc["window_classifier", "f1_same"] == 0.0
    assert same.loc["window_classifier", "auc_pr_same"] == 1.0
