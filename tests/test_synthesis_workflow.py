"""Fitting generators on labelled windows (tsad_helpers.synthesis.workflow), the fidelity
table, and what is particular to notebook 02 (tsad_helpers.synthesis.study)."""

import numpy as np
import pandas as pd
import pytest

from tsad_helpers import datasets, fidelity, profiles, synthesis
from tsad_helpers.synthesis import study, workflow


@pytest.fixture(scope="module")
def ds():
    return datasets.load("synthetic", "syn-2", train_length=400, test_length=1000,
                         events_per_type=1, n_channels=4)


def test_labelled_windows_split_and_labels(ds):
    x, y, hx, hy = workflow.labelled_windows(ds, window=20, stride=5, train_share=0.6)
    assert x.shape[1:] == (20, 4) and hx.shape[1:] == (20, 4)
    assert len(x) == (600 - 20) // 5 + 1 and len(hx) == (400 - 20) // 5 + 1
    # a window is anomalous iff it holds a labelled point; none crosses the cut at 600
    np.testing.assert_array_equal(x[3], ds.test[15:35])
    assert y[3] == ds.test_labels[15:35].max()
    np.testing.assert_array_equal(hx[0], ds.test[600:620])
    assert y.sum() > 0 and hy.sum() > 0
    with pytest.raises(ValueError, match="train_share"):
        workflow.labelled_windows(ds, 20, 5, 1.0)
    with pytest.raises(ValueError, match="shorter than window=500"):
        workflow.labelled_windows(ds, 500, 5, 0.6)


def test_fit_sample_fidelity_save(ds, tmp_path):
    x, y, hx, hy = workflow.labelled_windows(ds, window=16, stride=4, train_share=0.6)
    gens = {"injection": {}, "smote": {}, "oversample": {}}
    fitted, times = workflow.fit_generators(x, y, gens, seed=0, loss_dir=tmp_path / "loss")
    assert list(times["generator"]) == list(gens)
    synth = workflow.sample_like(fitted, y, ratio=2.0)
    n1, n0 = int(y.sum()), int((y == 0).sum())
    assert (synth["injection"][1] == 1).all() and len(synth["injection"][1]) == 2 * n1
    assert (np.bincount(synth["smote"][1]) == [2 * n0, 2 * n1]).all()
    table = fidelity.fidelity_table(x, y, hx, hy, synth, {"repeats": 1, "disc_steps": 5,
                                                 "pred_steps": 5}, classes=[1])
    assert list(table["generator"]) == ["real (holdout)", "injection", "smote", "oversample"]
    row = table.set_index("generator")
    assert row.loc["oversample", "nn_ratio"] < 0.01 < row.loc["injection", "nn_ratio"]
    path = workflow.save_synthetic(synth, tmp_path / "w.npz", train_share=0.6)
    back = workflow.load_synthetic(path)
    assert set(back) == set(gens)
    np.testing.assert_array_equal(back["smote"][0], synth["smote"][0])
    assert workflow.plot_examples(x, y, synth, tmp_path / "ex.png").stat().st_size > 1000
    assert len(fidelity.plot_embeddings(x, y, synth, tmp_path)) == 3
    with pytest.raises(ValueError, match="no generator with a loss history"):
        workflow.plot_losses(fitted, tmp_path / "l.png")


def test_load_series_reports_missing(tmp_path):
    settings = profiles.get("smoke")
    settings["synthesis"]["series"] = [["synthetic", "syn-1"], ["smd", "machine-1-3"]]
    loaded, missing = study.load_series(settings, tmp_path)
    assert [d.entity for d in loaded] == ["syn-1"] and missing == ["smd/machine-1-3"]
    assert loaded[0].test.shape == (settings["synthetic"]["test_length"], 10)


def test_separate_generators_per_class(ds, tmp_path):
    x, y, _, _ = workflow.labelled_windows(ds, window=16, stride=4, train_share=0.6)
    gens = {"vae": {"hidden": 8, "epochs": 2, "batch_size": 32}}
    fitted, _ = workflow.fit_generators(x, y, gens, seed=0, loss_dir=tmp_path, separate=True)
    per_class = fitted["vae"]
    assert set(per_class.generators) == {0, 1}
    assert not per_class.generators[1].conditional_  # each fitted on one class only
    assert len(per_class.generators[1].window_shape_) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vae_seed0_class0.csv",
                                                          "vae_seed0_class1.csv"]
    synth = workflow.sample_like(fitted, y)
    assert (np.bincount(synth["vae"][1]) == np.bincount(y)).all()
    phases = {row["phase"] for row in per_class.history_}
    assert phases == {"class 0: train", "class 1: train"}
    assert workflow.plot_losses(fitted, tmp_path / "l.png").exists()


def test_stride_per_dataset():
    assert study.stride_for({"stride": 3}, "smd") == 3
    cfg = {"stride": {"synthetic": 1, "smd": 4}}
    assert study.stride_for(cfg, "synthetic") == 1 and study.stride_for(cfg, "smd") == 4
    with pytest.raises(ValueError, match="no stride for dataset 'msl'"):
        study.stride_for(cfg, "msl")
    with pytest.raises(ValueError, match="must be an int >= 1, got 0"):
        study.stride_for({"stride": 0}, "smd")
    for name in profiles.NAMES:  # every profile's series has a stride
        cfg = profiles.get(name)["synthesis"]
        assert all(study.stride_for(cfg, d) >= 1 for d, _ in cfg["series"])


def test_every_neural_generator_keeps_its_loss_log(ds, tmp_path):
    """DoppelGANger included: each generator that logs losses gets its loss log in
    ``loss_dir``, and with ``separate`` one generator per class."""
    assert [n for n in synthesis.REGISTRY.names() if workflow.keeps_loss_log(n)] == [
        "timegan", "wgan_gp", "doppelganger", "vae"]
    x, y, _, _ = workflow.labelled_windows(ds, window=16, stride=4, train_share=0.6)
    gens = {"doppelganger": {"hidden": 8, "attr_hidden": 8, "critic_hidden": 8, "epochs": 1,
                             "batch_size": 32}, "smote": {}}
    workflow.fit_generators(x, y, gens, seed=0, loss_dir=tmp_path / "joint")
    assert [p.name for p in (tmp_path / "joint").iterdir()] == ["doppelganger_seed0.csv"]
    fitted, _ = workflow.fit_generators(x, y, gens, seed=0, loss_dir=tmp_path / "apart",
                                        separate=True)
    assert set(fitted["doppelganger"].generators) == {0, 1}
    assert sorted(p.name for p in (tmp_path / "apart").iterdir()) == [
        "doppelganger_seed0_class0.csv", "doppelganger_seed0_class1.csv"]


def _study_cfg():
    return {"separate": False, "ratio": 1.0, "fidelity_classes": [1],
            "fidelity_budget": {"repeats": 1, "disc_steps": 5, "pred_steps": 5},
            "generators": {"vae": {"hidden": 8, "epochs": 2, "batch_size": 32},
                           "oversample": {}}}


def test_synthesise_matches_the_steps_one_by_one_and_keeps_the_order(ds, tmp_path):
    """One task per (series, generator) gives what fitting all of a series' generators,
    sampling and judging them together gives, in the order of the series and generators
    whatever order the tasks ran in (the larger series first)."""
    cfg = _study_cfg()
    parts = {"small": workflow.labelled_windows(ds, 16, 8, 0.6),
             "large": workflow.labelled_windows(ds, 16, 4, 0.6)}
    ran = []
    done = study.synthesise(parts, cfg, 0, {k: tmp_path / k for k in parts},
                            progress=lambda total: ran.append(total) or None)
    assert ran == [6]  # 2 series x (2 generators + the held-out rows)
    assert list(done["fit_times"].columns) == ["generator", "fit_seconds", "series"]
    assert list(done["fit_times"]["series"]) == ["small"] * 2 + ["large"] * 2
    assert list(done["synthetic"]["large"]) == list(cfg["generators"])
    assert [p.name for p in (tmp_path / "large").iterdir()] == ["vae_seed0.csv"]
    assert list(done["histories"]["large"]["vae"][0]) == list(
        pd.read_csv(tmp_path / "large" / "vae_seed0.csv").columns)
    assert not done["histories"]["large"]["oversample"]
    x, y, hx, hy = parts["large"]
    fitted, _ = workflow.fit_generators(x, y, cfg["generators"], seed=0)
    synth = workflow.sample_like(fitted, y, cfg["ratio"])
    for name in cfg["generators"]:
        np.testing.assert_array_equal(done["synthetic"]["large"][name][0], synth[name][0])
    table = fidelity.fidelity_table(x, y, hx, hy, synth, cfg["fidelity_budget"],
                                    classes=cfg["fidelity_classes"])
    mine = done["fidelity"]
    assert list(mine["series"].drop_duplicates()) == ["small", "large"]
    mine = mine[mine["series"] == "large"].drop(columns="series").reset_index(drop=True)
    pd.testing.assert_frame_equal(mine, table)
    assert workflow.plot_losses(done["histories"]["large"], tmp_path / "l.png").exists()


def test_synthesise_on_a_local_cluster_gives_the_serial_numbers(ds):
    from tsad_helpers import grid

    cfg = {**_study_cfg(), "generators": {"injection": {}, "smote": {}}}
    parts = {"a": workflow.labelled_windows(ds, 16, 4, 0.6)}
    serial = study.synthesise(parts, cfg, 0)
    with grid.cluster(workers=2) as client:
        spread = study.synthesise(parts, cfg, 0, client=client)
    # the NumPy/scikit-learn scores bit for bit; the GRU scores (TensorFlow in this process,
    # after other tests and with two threads, against fresh single-threaded workers) finite
    numpy_only = ["series", "generator", "class", "windows", "mmd", "ks_mean", "acf_distance",
                  "nn_ratio"]
    pd.testing.assert_frame_equal(spread["fidelity"][numpy_only], serial["fidelity"][numpy_only])
    gru = ["discriminative", "predictive"]
    assert np.isfinite(spread["fidelity"][gru].to_numpy()).all()
    for name in cfg["generators"]:
        np.testing.assert_array_equal(spread["synthetic"]["a"][name][0],
                                      serial["synthetic"]["a"][name][0])
