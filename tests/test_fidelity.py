"""Fidelity checks of synthetic data (tsad_helpers.fidelity)."""

import numpy as np
import pytest

from tsad_helpers import fidelity


def sines(n, seed, freq=1.0, noise=0.0):
    rng = np.random.default_rng(seed)
    t = np.arange(16)
    phase = rng.uniform(0, 2 * np.pi, (n, 1, 1)) + np.array([0.0, 1.0])  # channels coupled
    x = (np.sin(2 * np.pi * freq * t[None, :, None] / 8 + phase) + 1) / 2
    return (x + rng.normal(0, noise, x.shape)).astype(np.float32)


def test_distances_separate_like_from_unlike():
    real, same = sines(300, 0), sines(300, 1)
    noise = np.random.default_rng(2).random((300, 16, 2)).astype(np.float32)
    assert abs(fidelity.mmd_rbf(real, same)) < 0.01 < fidelity.mmd_rbf(real, noise)
    assert fidelity.autocorrelation_distance(real, real) == 0.0
    assert fidelity.autocorrelation_distance(real, same) < 0.05 < fidelity.autocorrelation_distance(real, noise)
    ks = fidelity.ks_per_channel(real, real, channels=["a", "b"])
    assert ks["channel"].tolist() == ["a", "b"] and (ks["ks"] == 0).all()
    assert (fidelity.ks_per_channel(real, noise)["ks"] > 0.1).all()


def test_discriminative_and_predictive_scores():
    real = sines(400, 0)
    flat = np.full_like(real, 0.5) + np.random.default_rng(3).normal(0, 0.01, real.shape)
    easy = fidelity.discriminative_score(real, flat.astype(np.float32), repeats=2, steps=400)
    assert easy["mean"] > 0.35 and len(easy["scores"]) == 2  # trivially told apart
    hard = fidelity.discriminative_score(real, sines(400, 5), repeats=1, steps=400)
    assert hard["mean"] < easy["mean"]
    # train on real, test on real beats train on constant windows
    assert fidelity.predictive_score(real, sines(200, 6), steps=300) < fidelity.predictive_score(
        flat.astype(np.float32), sines(200, 6), steps=300)


def test_embedding_plot_and_errors(tmp_path):
    real, synth = sines(60, 0), sines(60, 1)
    fidelity.embedding_plot(real, synth, tmp_path / "emb.png", title="sines")
    assert (tmp_path / "emb.png").stat().st_size > 1000
    with pytest.raises(ValueError, match=r"differ in \[L, C\]"):
        fidelity.mmd_rbf(real, synth[:, :8])
    with pytest.raises(ValueError, match="synthetic windows hold NaN"):
        fidelity.ks_per_channel(real, np.full_like(synth, np.nan))
    with pytest.raises(ValueError, match=r"real windows must have shape \[N, L, C\]"):
        fidelity.autocorrelation_distance(real[0], synth)


def test_nearest_neighbour_ratio_exposes_copies():
    train, holdout = sines(200, 0, noise=0.05), sines(200, 1, noise=0.05)
    copies = train[:100] + 1e-4
    assert fidelity.nearest_neighbour_ratio(train, copies, holdout) < 0.05
    assert 0.7 < fidelity.nearest_neighbour_ratio(train, sines(200, 2, noise=0.05), holdout) < 1.4
