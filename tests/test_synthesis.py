"""Generators of synthetic windows (tsad_helpers.synthesis): the shared contract, each
generator's own promise, loss logs. Tiny settings: seconds each."""

import numpy as np
import pandas as pd
import pytest

from tsad_helpers import synthesis
from tsad_helpers.datasets.synthetic import ANOMALY_TYPES

TINY = {
    "timegan": {"hidden": 8, "layers": 1, "embedding_epochs": 1, "supervised_epochs": 1,
                "epochs": 1, "batch_size": 32},
    "wgan_gp": {"hidden": 8, "epochs": 1, "n_critic": 2, "batch_size": 32},
    "doppelganger": {"hidden": 8, "attr_hidden": 8, "critic_hidden": 8, "sample_len": 5,
                     "epochs": 1, "batch_size": 32},
    "vae": {"hidden": 8, "epochs": 2, "batch_size": 32},
    "injection": {},
    "smote": {},
    "oversample": {},
}


@pytest.fixture(scope="module")
def windows():
    rng = np.random.default_rng(0)
    t = np.arange(12)
    phase = rng.integers(0, 12, (120, 1, 3))
    x = np.sin(2 * np.pi * (t[None, :, None] + phase) / 6) * np.array([1.0, 3.0, 0.5])
    x = x + rng.normal(0, 0.1, x.shape) + np.array([0.0, 10.0, -5.0])
    y = (np.arange(120) % 5 == 0).astype(int)  # 24 anomalous-labelled windows
    return x.astype(np.float32), y


def test_registry_errors():
    with pytest.raises(ValueError, match="unknown generator 'gan'"):
        synthesis.make("gan")
    with pytest.raises(ValueError, match="bad parameters for generator 'vae'"):
        synthesis.make("vae", depth=3)


@pytest.mark.parametrize("name", list(TINY))
def test_contract(name, windows, tmp_path):
    x, y = windows
    params = dict(TINY[name])
    if name in ("timegan", "wgan_gp", "vae", "doppelganger"):
        params["loss_log"] = str(tmp_path / "loss.csv")
    gen = synthesis.make(name, **params)
    with pytest.raises(RuntimeError, match="not fitted"):
        gen.sample(3)
    assert gen.fit(x, y) is gen
    one = gen.sample(7, label=1)
    assert one.shape == (7, 12, 3) and one.dtype == np.float32 and np.isfinite(one).all()
    assert gen.sample(0, label=1).shape == (0, 12, 3)
    if name != "injection":
        mixed = gen.sample(10)
        assert mixed.shape == (10, 12, 3)
        assert gen.sample(5, label=0).shape == (5, 12, 3)
        with pytest.raises(ValueError, match="not among the training labels"):
            gen.sample(2, label=2)
        unlabelled = synthesis.make(name, **{**params, "loss_log": None}
                                    if "loss_log" in params else params).fit(x)
        assert unlabelled.sample(4).shape == (4, 12, 3)
        with pytest.raises(ValueError, match="fitted without labels"):
            unlabelled.sample(2, label=1)
    if "loss_log" in params:
        log = pd.read_csv(params["loss_log"])
        assert len(log) == len(gen.history_) >= 1 and {"phase", "epoch"} <= set(log.columns)
        losses = log.drop(columns=["phase", "epoch"]).to_numpy(float)
        assert np.isfinite(losses[~np.isnan(losses)]).all()
        if name == "timegan":
            assert log["phase"].tolist() == ["embedding", "supervised", "joint"]
            assert log.loc[2, ["e_loss", "s_loss", "g_loss", "d_loss"]].notna().all()


def test_input_errors(windows):
    x, y = windows
    gen = synthesis.make("smote")
    with pytest.raises(ValueError, match=r"shape \[N, L, C\], got shape \(120, 12\)"):
        gen.fit(x[:, :, 0])
    bad = x.copy()
    bad[4, 2, 1] = np.nan
    with pytest.raises(ValueError, match="first in window 4, step 2, channel 1"):
        gen.fit(bad)
    with pytest.raises(ValueError, match="labels of shape \\(3,\\) for 120 windows"):
        gen.fit(x, y[:3])
    with pytest.raises(ValueError, match="non-negative integer"):
        gen.fit(x, y).sample(-1)


def test_seeded_generators_repeat(windows):
    x, y = windows
    for name in ("smote", "injection", "vae"):
        a = synthesis.make(name, **TINY[name]).fit(x, y).sample(6, label=1)
        b = synthesis.make(name, **TINY[name]).fit(x, y).sample(6, label=1)
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_fits_do_not_depend_on_what_ran_before(windows):
    """Bitwise: a seeded fit gives the same weights whether or not other Keras models were
    built earlier in the process (Keras' name counters would otherwise reorder the graph's
    gradient sums), and a generator fitted earlier still samples the same afterwards."""
    x, y = windows
    params = {**TINY["vae"], "epochs": 5}
    first = synthesis.make("vae", **params).fit(x, y)
    weights = [w.copy() for w in first.model_.get_weights()]
    before = first.sample(4, label=1)
    synthesis.make("wgan_gp", **TINY["wgan_gp"]).fit(x, y)  # other models, other layer names
    synthesis.make("vae", **{**params, "hidden": 4}).fit(x, y)
    again = synthesis.make("vae", **params).fit(x, y)
    for w, v in zip(weights, again.model_.get_weights()):
        np.testing.assert_array_equal(w, v)
    first.rng_ = np.random.default_rng(first.random_state)
    np.testing.assert_array_equal(first.sample(4, label=1), before)


def test_smote_interpolates_within_the_class(windows):
    x, y = windows
    x = x.copy()
    x[y == 1] += 100.0  # class 1 far from class 0
    new = synthesis.make("smote", k_neighbors=3).fit(x, y).sample(50, label=1).reshape(50, -1)
    ones = x[y == 1].reshape(int(y.sum()), -1)
    assert new.min() >= ones.min() - 1e-4 and new.max() <= ones.max() + 1e-4
    # not copies: SMOTE interpolates
    d = np.abs(new[:, None, :] - ones[None]).sum(axis=2).min(axis=1)
    assert (d > 1e-3).mean() > 0.9
    copies = synthesis.make("oversample").fit(x, y).sample(20, label=1).reshape(20, -1)
    assert (np.abs(copies[:, None, :] - ones[None]).sum(axis=2).min(axis=1) < 1e-4).all()


def test_injection_changes_only_the_reported_steps(windows):
    x, y = windows
    gen = synthesis.make("injection", random_state=1).fit(x, y)
    normal = x[y == 0]
    out, kinds, altered = gen.inject(normal)
    changed = np.abs(out - normal) > 1e-5
    assert (changed.any(axis=2) <= altered).all()  # nothing outside the reported steps
    assert changed.any(axis=(1, 2)).all()  # every window is changed
    assert set(kinds) == set(ANOMALY_TYPES)
    scale = gen._scale(normal[0].astype(np.float64))
    only = synthesis.make("injection", kinds=("level_shift",)).fit(x, y)
    o, _, alt = only.inject(normal[:1])
    shift = np.abs(o[0] - normal[0])[alt[0]].max(axis=0)
    assert shift.max() >= 2 * scale.min() - 1e-5  # at least 2 local scales on some channel
    with pytest.raises(ValueError, match="unknown kinds"):
        synthesis.make("injection", kinds=("spike",)).fit(x)
    with pytest.raises(ValueError, match="label must be None or 1"):
        gen.sample(3, label=0)


def test_doppelganger_draws_both_levels_of_its_windows():
    """Its auto-normalisation: windows around two far-apart levels are drawn at both, not at
    the midpoint between them (the collapse the paper's min/max attributes prevent)."""
    rng = np.random.default_rng(0)
    t = np.arange(12)
    level = np.where(rng.random(200) < 0.5, 0.0, 10.0)
    x = np.sin(2 * np.pi * (t[None] + rng.integers(0, 12, (200, 1))) / 6) + level[:, None]
    x = (x[..., None] + rng.normal(0, 0.05, (200, 12, 1))).astype(np.float32)
    gen = synthesis.make("doppelganger", hidden=16, attr_hidden=16, critic_hidden=32,
                         sample_len=3, epochs=300, batch_size=50).fit(x)
    means = gen.sample(400).mean(axis=(1, 2))
    assert 0.3 < (means > 5).mean() < 0.7
    assert ((means > 2) & (means < 8)).mean() < 0.2
    with pytest.raises(ValueError, match=r"sample_len must be an integer in \[1, 12\]"):
        synthesis.make("doppelganger", sample_len=13, epochs=1).fit(x)


def test_doppelganger_without_auto_normalisation_draws_windows_directly(windows):
    """auto_normalise=False: no attribute generator and no auxiliary critic (its loss stays
    0), the contract kept, the same seed giving the same windows."""
    x, y = windows
    params = {**TINY["doppelganger"], "epochs": 2, "auto_normalise": False, "random_state": 3}
    gen = synthesis.make("doppelganger", **params).fit(x, y)
    assert gen.model_.attr_gen is None and gen.model_.aux_critic is None
    assert [row["aux_loss"] for row in gen.history_] == [0.0, 0.0]
    one = gen.sample(6, label=1)
    assert one.shape == (6, 12, 3) and np.isfinite(one).all()
    assert (one >= x.min(axis=(0, 1)) - 1e-4).all() and (one <= x.max(axis=(0, 1)) + 1e-4).all()
    again = synthesis.make("doppelganger", **params).fit(x, y).sample(6, label=1)
    np.testing.assert_array_equal(one, again)
    assert synthesis.make("doppelganger", **TINY["doppelganger"]).fit(x).model_.auto


def test_vae_is_conditional(windows):
    x, _ = windows
    y = np.r_[np.zeros(60), np.ones(60)].astype(int)
    x = x.copy()
    x[60:, :, 1] += 8.0  # class 1: channel 1 much higher
    gen = synthesis.make("vae", hidden=16, epochs=30, batch_size=32).fit(x, y)
    lo, hi = gen.sample(200, label=0)[:, :, 1].mean(), gen.sample(200, label=1)[:, :, 1].mean()
    assert hi - lo > 4.0, (lo, hi)


def test_vae_samples_draw_the_fitted_observation_noise(windows):
    x, _ = windows
    gen = synthesis.make("vae", hidden=16, epochs=20, batch_size=32).fit(x)
    # residual scale per channel, in the [0, 1] scaled space, from the training windows
    assert gen.noise_std_.shape == (3,) and np.all((gen.noise_std_ > 0) & (gen.noise_std_ < 1))
    noisy = gen.sample(2000)
    gen.observation_noise = False
    smooth = gen.sample(2000)
    # independent noise adds 2 sigma^2 (scaled back per channel) to the step-to-step variance
    sigma = gen.noise_std_ * gen.scaler_.span_
    rough = lambda w: np.diff(w, axis=1).var(axis=(0, 1))  # noqa: E731
    np.testing.assert_allclose(rough(noisy), rough(smooth) + 2 * sigma ** 2, rtol=0.15)


def test_timegan_behind_pca_maps_back(windows):
    x, y = windows
    gen = synthesis.make("timegan", **TINY["timegan"], pca_components=2).fit(x, y)
    assert gen.model_shape_ == (12, 2)
    assert gen.sample(5, label=1).shape == (5, 12, 3)


def test_protocol_sines_match_the_reference_generator():
    from tsad_helpers.synthesis.protocol import sines

    x = sines(n=50, seq_len=24, dim=5, seed=1)
    assert x.shape == (50, 24, 5) and x.dtype == np.float32
    # sin(f t + p) with f, p in [0, 0.1): values in [0.5, 1] after (x + 1) / 2, first step
    # sin(p), and every series is a sine of its own frequency
    assert x.min() >= 0.5 and x.max() <= 1.0
    s = 2 * x.astype(np.float64) - 1
    p = np.arcsin(s[:, 0])
    f = np.arcsin(s[:, 1]) - p
    assert ((p >= 0) & (p < 0.1)).all() and ((f > 0) & (f < 0.1 + 1e-6)).all()


def test_protocol_stock_windows(real_root, tmp_path):
    from tests.conftest import need
    from tsad_helpers.datasets._io import DataFormatError
    from tsad_helpers.synthesis.protocol import stock_windows

    need(real_root, "TimeGAN")
    w = stock_windows(real_root, seed=0)
    assert w.shape == (3661, 24, 6)  # 3,685 rows; the reference loop stops one window early
    assert w.min() == 0.0 and w.max() <= 1.0 and w.max() > 0.99
    assert not np.array_equal(w, stock_windows(real_root, seed=1))  # shuffled by seed
    (tmp_path / "TimeGAN").mkdir()
    (tmp_path / "TimeGAN" / "stock_data.csv").write_text("Open,High,Low\n1,2,3\n")
    with pytest.raises(DataFormatError, match="stock_data.csv: expected 6 columns"):
        stock_windows(tmp_path)


def test_the_protocol_table_holds_every_finished_run_whatever_seeds_were_asked(tmp_path):
    import json
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import bench_synthesis_protocol as protocol

    for dataset, generator, seed in (("stocks", "vae", 1), ("stocks", "vae", 0),
                                     ("stocks", "real", 0), ("sines", "timegan", 0)):
        (tmp_path / dataset).mkdir(exist_ok=True)
        (tmp_path / dataset / f"{generator}_seed{seed}.json").write_text(json.dumps(
            {"dataset": dataset, "generator": generator, "seed": seed, "params": {},
             "discriminative": 0.1}))
    table = protocol.finished_runs(tmp_path)
    assert table[["dataset", "generator", "seed"]].values.tolist() == [
        ["sines", "timegan", 0], ["stocks", "real", 0], ["stocks", "vae", 0],
        ["stocks", "vae", 1]]
    assert "params" not in table
    with pytest.raises(SystemExit, match="no finished run"):
        protocol.finished_runs(tmp_path / "none")


def test_the_protocol_table_gives_the_same_spread_over_seeds_as_the_paper():
    import sys
    from pathlib import Path

    import pandas as pd

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import bench_synthesis_protocol as protocol

    from tsad_helpers.paper import protocol_cell

    runs = pd.DataFrame({"dataset": "stocks", "generator": "vae", "seed": [0, 1],
                         "discriminative": [0.1, 0.2], "discriminative_std": 0.01,
                         "predictive": [0.04, 0.04], "predictive_std": 0.001, "mmd": 0.0,
                         "ks_mean": 0.0, "acf_distance": 0.0, "fit_seconds": [10.0, 30.0]})
    row = next(line for line in protocol.table(runs).splitlines()
               if line.startswith("| stocks | vae |"))
    assert "| 0.150 ± 0.071 |" in row and row.endswith("| 20 |")  # sample SD; mean fit time
    assert protocol_cell(runs, "discriminative") == "0.150 ± 0.071"


def test_the_generator_sweep_parses_its_settings_and_names_an_unknown_one():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import sweep_generator as sweep

    assert sweep.parse_set(["epochs=1000", "learning_rate=1e-4", "observation_noise=false",
                            "name=x"]) == {"epochs": 1000, "learning_rate": 1e-4,
                                           "observation_noise": False, "name": "x"}
    assert isinstance(sweep.parse_value("300"), int)
    with pytest.raises(SystemExit, match="NAME=VALUE"):
        sweep.parse_set(["epochs"])
    with pytest.raises(SystemExit, match="doppelganger has no parameter epoch;.*epochs"):
        sweep.check_params("doppelganger", ["epoch", "hidden"])
    sweep.check_params("vae", ["reconstruction_weight"])
    history = ([{"phase": "embed", "epoch": e, "loss": 9.0} for e in range(3)]
               + [{"phase": "joint", "epoch": e, "g_loss": float(e)} for e in range(20)])
    assert sweep.final_losses(history) == {"g_loss": 14.5}  # epochs 10-19 of the last phase
    assert sweep.final_losses([]) == {}
