"""Profiles: one declarative definition, one window per profile, derived settings."""

import pytest

from tsad_helpers import datasets, detectors, profiles, synthesis
from tsad_helpers.results import REPO_ROOT, loss_dir, loss_log_path


@pytest.mark.parametrize("name", profiles.NAMES)
def test_one_window_per_profile(name):
    s = profiles.get(name)
    w = s["window"]
    for det in ("transformer_ae_gan", "lstm_ae", "window_classifier"):
        assert s["detectors"][det]["window"] == w
    assert s["detectors"]["pca"]["window"] == s["detectors"]["iforest"]["window"] == w // 2
    assert profiles.cv_gap(s) == w - 1
    assert s["synthesis"]["window"] == profiles.PROTOCOL_WINDOW == 24
    # every setting makes a detector or generator
    for det, params in s["detectors"].items():
        detectors.make(det, **params)
    for gen, params in s["synthesis"]["generators"].items():
        synthesis.make(gen, **params)


def test_get_returns_a_copy_and_unknown_names_fail():
    a = profiles.get("smoke")
    a["detectors"]["pca"]["window"] = 999
    assert profiles.get("smoke")["detectors"]["pca"]["window"] == 8
    with pytest.raises(ValueError, match="unknown profile 'fast'"):
        profiles.get("fast")


def test_dataset_options_only_for_the_synthetic_benchmark():
    s = profiles.get("smoke")
    assert profiles.dataset_options(s, "smd") == {}
    ds = datasets.load("synthetic", "syn-1", **profiles.dataset_options(s, "synthetic"))
    assert ds.test.shape == (s["synthetic"]["test_length"], s["synthetic"]["n_channels"])


def test_generator_defaults_are_the_protocol_settings():
    vae = synthesis.make("vae")
    assert (vae.hidden, vae.epochs, vae.reconstruction_weight) == (64, 300, 10.0)
    tg = synthesis.make("timegan")
    assert (tg.embedding_epochs, tg.supervised_epochs, tg.epochs) == (100, 100, 150)


def test_loss_paths():
    assert loss_log_path("paper", "nab", "realKnownCause/x", "pca_seed0") == (
        REPO_ROOT / "loss" / "paper" / "nab" / "realKnownCause__x" / "pca_seed0.csv")
    assert loss_dir("smoke", "02_synthesis", "synthetic/syn-1") == (
        REPO_ROOT / "loss" / "smoke" / "02_synthesis" / "synthetic__syn-1")


@pytest.mark.parametrize("name", ["transformer_ae_gan", "lstm_ae", "iforest", "pca"])
def test_detector_defaults_are_the_paper_benchmark_settings(name):
    made = detectors.make(name).get_params()
    for key, value in profiles.get("paper")["detectors"][name].items():
        assert made[key] == value, (name, key)
