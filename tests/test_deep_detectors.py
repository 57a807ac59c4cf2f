"""The Keras detectors on small synthetic data (smoke-sized settings: a few seconds each)."""

import numpy as np
import pandas as pd
import pytest

from tsad_helpers import datasets, detectors, profiles
from tsad_helpers.detectors.transformer import geometric_masks

SMOKE = profiles.get("smoke")["detectors"]


@pytest.fixture(scope="module")
def data():
    return datasets.load("synthetic", "syn-1", train_length=800, test_length=1000,
                         events_per_type=1, n_channels=6)


def test_geometric_masks_statistics():
    m = geometric_masks(2000, 64, 3, ratio=0.15, mean_length=3.0,
                        rng=np.random.default_rng(0))
    assert m.shape == (2000, 64, 3)
    assert m.mean() == pytest.approx(0.15, abs=0.01)
    runs = np.diff(np.concatenate([np.zeros((2000, 1, 3), bool), m], axis=1).astype(int), axis=1)
    n_runs = (runs == 1).sum()
    assert m.sum() / n_runs == pytest.approx(3.0, rel=0.15)  # mean masked run length
    # channels are independent
    assert abs(np.corrcoef(m[:, :, 0].ravel(), m[:, :, 1].ravel())[0, 1]) < 0.02
    with pytest.raises(ValueError, match="mask ratio"):
        geometric_masks(1, 4, 1, 1.5, 3, np.random.default_rng(0))


@pytest.mark.parametrize("name", ["transformer_ae_gan", "lstm_ae", "cnn_forecaster"])
def test_fit_score_log_save_load(name, data, tmp_path):
    log = tmp_path / "loss.csv"
    params = dict(SMOKE[name])
    if name == "transformer_ae_gan":  # the published method: every part on
        params.update(masking=True, contrastive=True, adversarial=True)
    det = detectors.make(name, **params, loss_log=str(log))
    assert det.fit(data.train) is det
    scores = det.decision_function(data.test)
    assert scores.shape == (1000,) and np.isfinite(scores).all()
    history = pd.read_csv(log)
    assert len(history) == det.epochs_run_ >= 1
    loss = "forecast_loss" if name == "cnn_forecaster" else "rec_loss"
    assert {loss, f"val_{loss}"} <= set(history.columns)
    if name == "transformer_ae_gan":
        assert {"con_loss", "adv_loss", "disc_loss", "loss"} <= set(history.columns)
        assert (history["con_loss"] > 0).all() and (history["disc_loss"] > 0).all()
    det.save(tmp_path / "model")
    again = type(det).load(tmp_path / "model").decision_function(data.test)
    np.testing.assert_allclose(again, scores, rtol=1e-5, atol=1e-7)


def test_cnn_forecaster_scores_the_point_it_failed_to_forecast():
    """A sine with one spike: the forecast error, hence the score, peaks at the spike itself
    (the score of a point comes from the window that ends there), and the learning rate
    steps down by lr_decay every lr_step epochs."""
    t = np.arange(3000)
    x = np.column_stack([np.sin(2 * np.pi * t / 25), np.cos(2 * np.pi * t / 40)])
    test = x[:800].copy()
    test[500, 0] += 3
    det = detectors.make("cnn_forecaster", window=26, epochs=4, patience=4, filters=[8, 8],
                         batch_size=64, lr_step=1, lr_decay=0.5).fit(x)
    scores = det.decision_function(test)
    assert np.argmax(scores) == 500
    assert (scores[:25] == scores[25]).all()  # no full context yet: the first window's score
    lr = det.model_.optimizer.learning_rate
    assert float(lr) == pytest.approx(8e-4 * 0.5 ** 4)
    with pytest.raises(ValueError, match="too little context"):
        detectors.make("cnn_forecaster", window=3).fit(x)


def test_seeded_fit_is_repeatable(data):
    params = {**SMOKE["transformer_ae_gan"], "random_state": 3, "masking": True,
              "contrastive": True, "adversarial": True}  # every random part in play
    a = detectors.make("transformer_ae_gan", **params).fit(data.train).decision_function(data.test)
    b = detectors.make("transformer_ae_gan", **params).fit(data.train).decision_function(data.test)
    np.testing.assert_allclose(a, b, rtol=1e-6)


def test_a_seeded_fit_ignores_other_draws_from_the_random_module(data, monkeypatch):
    """In a Dask worker the event loop draws from Python's ``random`` module while a task
    builds its models; Keras seeds unseeded initializers from that module, so the draws used
    to change the initial weights. The seeded state gives Keras a private stream."""
    import random

    from tsad_helpers.detectors import deep

    params = {**SMOKE["lstm_ae"], "random_state": 3, "epochs": 1}
    a = detectors.make("lstm_ae", **params).fit(data.train).decision_function(data.test)
    real_seed = deep.fresh_seeded_state

    def interfered(seed, deterministic=True):
        out = real_seed(seed, deterministic)
        random.random()  # another thread's draw, between seeding and building
        return out

    monkeypatch.setattr(deep, "fresh_seeded_state", interfered)
    b = detectors.make("lstm_ae", **params).fit(data.train).decision_function(data.test)
    np.testing.assert_array_equal(a, b)


def test_ablation_switches(data):
    det = detectors.make("transformer_ae_gan", **{**SMOKE["transformer_ae_gan"],
                                                  "contrastive": False, "adversarial": False,
                                                  "masking": False}).fit(data.train)
    h = det.history_
    assert max(h["con_loss"]) == 0 and max(h["adv_loss"]) == 0 and max(h["disc_loss"]) == 0
    assert np.isfinite(det.decision_function(data.test)).all()


def test_deep_input_errors(data):
    det = detectors.make("transformer_ae_gan", **SMOKE["transformer_ae_gan"])
    with pytest.raises(ValueError, match="too few for window=16"):
        det.fit(data.train[:20])
    with pytest.raises(ValueError, match="divisible by heads"):
        detectors.make("transformer_ae_gan", d_model=10, heads=4).fit(data.train)
    with pytest.raises(RuntimeError, match="not fitted"):
        det.save("unused")


XLA_CHILD = """
import json
import numpy as np
from tsad_helpers import datasets, detectors, profiles
ds = datasets.load("synthetic", "syn-1", train_length=400, test_length=820,
                   events_per_type=1, n_channels=3)
out = {}
for name in ("transformer_ae_gan", "lstm_ae"):
    det = detectors.make(name, **{**profiles.get("smoke")["detectors"][name],
                                  "jit_compile": True}).fit(ds.train)
    out[name] = [det.jit_compiled_, bool(np.isfinite(det.decision_function(ds.test)).all())]
# op determinism is on after a plain fit and cannot be turned off: a later XLA fit falls back
det = detectors.make("lstm_ae", **profiles.get("smoke")["detectors"]["lstm_ae"]).fit(ds.train)
det = detectors.make("lstm_ae", **{**profiles.get("smoke")["detectors"]["lstm_ae"],
                                   "jit_compile": True}).fit(ds.train)
out["after_deterministic"] = det.jit_compiled_
print(json.dumps(out))
"""


def test_jit_compile_runs_xla_and_reports_fallback():
    """In a fresh process (op determinism is process-wide): jit_compile=True trains and
    scores with XLA, and a fit after a deterministic one reports that XLA was refused."""
    import json
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", XLA_CHILD], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["transformer_ae_gan"] == [True, True]
    assert out["lstm_ae"] == [True, True]
    assert out["after_deterministic"] is False


def test_scoring_memory_is_bounded_by_the_batch(data, monkeypatch):
    """Scoring a long series never builds more than ``score_batch`` windows at once, and the
    batched result equals scoring with one big batch."""
    det = detectors.make("lstm_ae", **SMOKE["lstm_ae"]).fit(data.train)
    long = np.tile(data.test, (5, 1))  # 5,000 points -> 4,985 windows
    full = det.decision_function(long)
    sizes = []
    original = type(det)._window_scores

    def spy(self, batch):
        sizes.append(len(batch))
        return original(self, batch)

    monkeypatch.setattr(type(det), "_window_scores", spy)
    monkeypatch.setattr(det, "score_batch", 256)
    batched = det.decision_function(long)
    assert max(sizes) == 256 and sum(sizes) == len(long) - det.window + 1
    np.testing.assert_allclose(batched, full, rtol=1e-5, atol=1e-7)


def test_channel_score_rules(data):
    det = detectors.make("transformer_ae_gan", **SMOKE["transformer_ae_gan"]).fit(data.train)
    err = np.random.default_rng(0).random((3, det.window, det.n_channels_))
    det._channel_errors = lambda batch: err
    batch = np.zeros_like(err)
    np.testing.assert_allclose(det._window_scores(batch), (err / det.error_scale_).mean(axis=2))
    det.set_params(channel_score="max")
    np.testing.assert_allclose(det._window_scores(batch), (err / det.error_scale_).max(axis=2))
    det.set_params(channel_score="median")
    with pytest.raises(ValueError, match="channel_score must be"):
        det._window_scores(batch)


SCRIPTED = {  # monitored value per epoch: creeping, plateau with ties, early best, rising
    "creep": [1.0, 0.9, 0.8995, 0.8994, 0.89935, 0.8993, 0.899, 0.85, 0.8499, 0.8499],
    "ties": [0.5, 0.4, 0.4, 0.4, 0.39, 0.39, 0.39, 0.39, 0.39, 0.39],
    "early": [0.2, 0.3, 0.25, 0.21, 0.2, 0.2, 0.19, 0.18, 0.17, 0.16],
}


@pytest.mark.parametrize("curve", sorted(SCRIPTED))
@pytest.mark.parametrize("rel", [0.0, 1e-3, 0.05])
@pytest.mark.parametrize("mode", ["min", "max"])
def test_early_stopping_replay_matches_keras(curve, rel, mode):
    """The replay of a logged curve stops where the callback stops in a real Keras fit, keeps
    the same epoch, and with min_rel_delta=0 agrees with Keras' own EarlyStopping."""
    from tsad_helpers.keras_tools import (RelativeEarlyStopping, keras, replay_early_stopping,
                                          fresh_seeded_state)

    values = [v if mode == "min" else -v for v in SCRIPTED[curve]]

    class Script(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs["val_x"] = values[epoch]

    def fit(stopper):
        fresh_seeded_state(0)
        model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        model.compile("sgd", "mse")
        x = np.zeros((8, 2), "float32")
        history = model.fit(x, x[:, :1], epochs=len(values), verbose=0,
                            callbacks=[Script(), stopper])
        return len(history.history["loss"]), stopper.best_epoch

    ours = RelativeEarlyStopping(min_rel_delta=rel, monitor="val_x", mode=mode, patience=2)
    replay = replay_early_stopping(values, mode, patience=2, min_rel_delta=rel)
    assert fit(ours) == (replay["epochs_run"], replay["best_epoch"])
    if rel == 0:
        keras_own = keras.callbacks.EarlyStopping(monitor="val_x", mode=mode, patience=2)
        assert fit(keras_own) == (replay["epochs_run"], replay["best_epoch"])


def test_replay_margins_and_undecided_curves():
    from tsad_helpers.keras_tools import replay_early_stopping

    rep = replay_early_stopping([1.0, 0.5, 0.5, 0.6], "min", patience=2)
    assert (rep["epochs_run"], rep["best_epoch"]) == (4, 1)
    np.testing.assert_allclose(rep["margins"], [0.5, 0.0, -0.2])
    # a larger threshold makes the 0.5 step of 1.0 no improvement: stops at the third epoch
    assert replay_early_stopping([1.0, 0.5, 0.5, 0.6], "min", 2, 0.6)["epochs_run"] == 3
    # the log ends before the rule decides, with budget left: undecided, not guessed
    assert replay_early_stopping([1.0, 0.9], "min", 2, epochs=5)["epochs_run"] is None
    with pytest.raises(ValueError, match="min_rel_delta"):
        from tsad_helpers.keras_tools import RelativeEarlyStopping
        RelativeEarlyStopping(min_rel_delta=1.5, monitor="val_x", mode="min")


@pytest.mark.parametrize("rel", [0.0, 0.2])
def test_a_detector_stops_as_its_logged_curve_replays(data, rel):
    from tsad_helpers.keras_tools import replay_early_stopping

    params = {**SMOKE["lstm_ae"], "epochs": 8, "patience": 1, "min_rel_delta": rel}
    det = detectors.make("lstm_ae", **params).fit(data.train)
    rep = replay_early_stopping(det.history_["val_rec_loss"], "min", 1, rel, epochs=8)
    assert det.epochs_run_ == rep["epochs_run"]
    assert det.get_params()["min_rel_delta"] == rel


NATIVE_NOISE = (b"WARNING: All log messages before absl::InitializeLog() is called are written "
                b"to STDERR\nI0000 00:00:1796582679.045702   22231 port.cc:153] oneDNN custom "
                b"operations are on.\nE0000 00:00:1796582242.991748   19300 cuda_platform.cc:52]"
                b" failed call to cuInit: INTERNAL: CUDA error\n")


def test_native_tensorflow_log_lines_are_dropped_and_everything_else_kept(capfd):
    import os

    from tsad_helpers.runner import native_log_stripped

    with native_log_stripped():
        os.write(2, NATIVE_NOISE + b"UserWarning: keep me\n")
    assert capfd.readouterr().err == "UserWarning: keep me\n"


def test_loading_tensorflow_prints_no_native_log_lines():
    import subprocess
    import sys

    child = "import tsad_helpers.keras_tools as k; print(float(k.tf.reduce_sum(k.tf.ones(3))))"
    done = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True,
                          timeout=300, check=True)
    assert done.stdout.strip() == "3.0"
    assert "absl" not in done.stderr and "cuInit" not in done.stderr, done.stderr


def test_a_keras_fit_prints_no_native_error_lines_by_default():
    """At TensorFlow's log level 2 every fit on shuffled arrays printed an ERROR-level
    ``NodeDef mentions attribute use_unbounded_threadpool`` line; the library's default (3)
    keeps the console to what matters. Fresh process, no level set by the caller."""
    import os
    import subprocess
    import sys

    child = ("import numpy as np; from tsad_helpers import fidelity\n"
             "rng = np.random.default_rng(0)\n"
             "real, synth = rng.random((64, 12, 2)), rng.random((64, 12, 2))\n"
             "print(fidelity.discriminative_score(real, synth, repeats=1, steps=4, seed=0)"
             "['mean'])")
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    done = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True,
                          timeout=300, check=True, env=env)
    assert 0 <= float(done.stdout.strip()) <= 0.5
    assert "NodeDef" not in done.stderr, done.stderr
