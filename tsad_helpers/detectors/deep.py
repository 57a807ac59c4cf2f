"""Shared machinery of the Keras detectors (``transformer_ae_gan``, ``lstm_ae``,
``window_classifier``), on the window contract of :mod:`tsad_helpers.detectors.base`:

- training windows come from ``fit_windows``; validation windows (``fit``: the last
  ``validation_fraction`` of the series, cut every ``window // 4`` points, no training window
  overlapping them) decide early stopping and which weights are kept; never test data;
- every loss component is logged per epoch to ``loss_log`` (CSV, rewritten atomically after
  each epoch) when given, and kept in ``history_``;
- ``random_state`` seeds Python, NumPy and TensorFlow after clearing Keras' global state, and
  turns on TensorFlow's op determinism, so a fit is repeatable on the same machine whatever
  ran before it in the process (:func:`tsad_helpers.keras_tools.fresh_seeded_state`);
- ``save(path)`` / ``load(path)`` keep the weights, the scaler and the parameters.

Subclasses implement ``_build()`` returning a compiled ``keras.Model`` and
``_window_scores``; :class:`ReconstructionDetector` adds the reconstruction-error score.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np

from ..keras_tools import (SEEDING, EpochLog, RelativeEarlyStopping, fresh_seeded_state,
                           history_columns, tf, window_dataset)
from .base import Detector


class KerasWindowDetector(Detector):
    """Base class; see the module docstring. Parameters common to all deep detectors:
    window, fit_stride, scaling ("minmax", "standard" or "robust", fitted on the training
    series), batch_size, epochs, patience, min_rel_delta (an epoch resets the patience and
    becomes the kept one only when it beats the best validation value by more than this
    fraction of it; 0: Keras' rule, any improvement. The default 1e-4 makes rounding-sized
    "improvements" (another CPU's last digits) decide nothing: on the stored validation curves
    it cut the decisions within 1e-6 of the bar about sevenfold and changed 1 % of the runs;
    :class:`tsad_helpers.keras_tools.RelativeEarlyStopping`, ``benchmarks/bench_early_stopping.py``
    and README's "What repeats"), learning_rate, validation_fraction,
    random_state, loss_log, verbose, jit_compile (XLA for training and scoring; see ``_seed``
    for its trade-off with bitwise repeatability)."""

    uses_validation = True

    # -- fit ------------------------------------------------------------------------------------
    def _check_series(self, x, what, fitting):
        x = super()._check_series(x, what, fitting)
        if fitting and x.shape[0] < self.window * 2:
            raise ValueError(f"{type(self).__name__}: {x.shape[0]} training points are too few "
                             f"for window={self.window}")
        return x

    def _seed(self) -> None:
        """Seed Python, NumPy and TensorFlow; without XLA also turn on op determinism (bitwise
        repeatable fits). Keras refuses ``jit_compile`` while op determinism is on (it falls
        back to plain graphs), so ``jit_compile=True`` leaves determinism off: XLA fits are
        seeded but not bitwise repeatable. Op determinism cannot be turned off again inside a
        process, so after a deterministic fit a later XLA fit falls back (``jit_compiled_``
        tells which one ran)."""
        fresh_seeded_state(self.random_state, deterministic=not self.jit_compile)

    def _split_validation(self, z, labels, validation):
        """(training windows, labels, validation windows, validation labels): ``validation``
        when given, else the last ``validation_fraction`` of the windows."""
        if validation is not None:
            return z, labels, validation[0], validation[1]
        n_val = int(round(len(z) * self.validation_fraction))
        if not n_val or n_val == len(z):
            return z, labels, None, None
        cut = len(z) - n_val
        if labels is None:
            return z[:cut], None, z[cut:], None
        return z[:cut], labels[:cut], z[cut:], labels[cut:]

    def _fit_windows(self, z, labels, validation):
        self._seed()
        self.seeding_ = SEEDING
        z, labels, val, val_y = self._split_validation(z, labels, validation)
        train_ds = self._dataset(z, labels, shuffle=True)
        val_ds = None if val is None else self._dataset(val, val_y, shuffle=False)
        self.model_ = self._build()
        self.jit_compiled_ = bool(getattr(self.model_, "jit_compile", False))
        log = EpochLog(self.loss_log)
        callbacks = [log]
        if val_ds is not None:
            monitor, mode = self._monitor(val_y)
            callbacks.insert(0, RelativeEarlyStopping(
                min_rel_delta=self.min_rel_delta, monitor=monitor, mode=mode,
                patience=self.patience, restore_best_weights=True))
        self.model_.fit(train_ds, validation_data=val_ds, epochs=self.epochs, shuffle=False,
                        callbacks=callbacks, verbose=self.verbose)
        self.history_ = history_columns(log.rows)
        self.epochs_run_ = len(log.rows)
        self.epoch_seconds_ = list(log.seconds)  # wall time at the end of each epoch
        self._after_fit(val if val is not None else z)

    def _monitor(self, validation_labels) -> tuple[str, str]:
        """What early stopping watches, and whether lower ("min") or higher is better."""
        return "val_rec_loss", "min"

    def _dataset(self, z, labels, shuffle):
        return window_dataset(z, batch_size=self.batch_size, shuffle=shuffle,
                              seed=self.random_state)

    def _after_fit(self, held_out: np.ndarray) -> None:
        """Hook after training, given the validation windows (else the training windows)."""

    def _predict(self, batch):
        """The model on one batch of windows, traced once per fit (XLA when it trained so)."""
        if not hasattr(self, "predict_fn_"):
            model = self.model_
            self.predict_fn_ = tf.function(lambda b: model(b, training=False),
                                           reduce_retracing=True,
                                           jit_compile=bool(getattr(self, "jit_compiled_", False)))
        return np.asarray(self.predict_fn_(batch))

    # -- persistence ----------------------------------------------------------------------------
    def _fitted_meta(self) -> dict:
        return {}

    def save(self, path) -> Path:
        """Save weights, scaler and parameters into the folder ``path``."""
        import joblib

        if not hasattr(self, "model_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted: nothing to save")
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.model_.save_weights(str(path / "model.weights.h5"))
        joblib.dump(self.scaler_, path / "scaler.joblib")
        meta = {"class": type(self).__name__, "params": self.get_params(),
                "n_channels": self.n_channels_, **self._fitted_meta()}
        (path / "meta.json").write_text(json.dumps(meta, indent=2))
        return path

    @classmethod
    def load(cls, path):
        """A fitted detector from a folder written by :meth:`save` (a trusted folder: the
        scaler is a joblib pickle)."""
        import joblib

        path = Path(path)
        meta = json.loads((path / "meta.json").read_text())
        if meta["class"] != cls.__name__:
            raise ValueError(f"{path}: holds a {meta['class']}, not a {cls.__name__}")
        det = cls(**meta["params"])
        det.n_channels_ = meta["n_channels"]
        det.scaler_ = joblib.load(path / "scaler.joblib")
        det._load_meta(meta)
        det.model_ = det._build()
        det.model_(np.zeros((1, det.window, det.n_channels_), dtype=np.float32))
        with warnings.catch_warnings():  # optimizer state is not needed to score
            warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
            det.model_.load_weights(str(path / "model.weights.h5"))
        return det

    def _load_meta(self, meta: dict) -> None:
        pass


class ReconstructionDetector(KerasWindowDetector):
    """A Keras autoencoder over windows: the score of a window step is the squared
    reconstruction error of its channels, each divided by the channel's mean error on the
    validation windows (``normalize_errors``), averaged over channels."""

    def _after_fit(self, held_out):
        self._fit_error_scale(held_out)

    def _channel_errors(self, batch: np.ndarray) -> np.ndarray:
        """Squared reconstruction error of every entry of the windows: [B, L, C]."""
        return (batch - self._predict(batch)) ** 2

    def _window_scores(self, batch: np.ndarray) -> np.ndarray:
        """Per window step: the channels' squared errors, each divided by that channel's
        typical error on held-out normal data (``error_scale_``), combined over channels by
        ``channel_score`` (a parameter of the detectors that have it, else "mean"): "mean",
        or "max" (an anomaly in a few of many channels is not averaged away): [B, L]."""
        err = self._channel_errors(batch) / self.error_scale_
        rule = getattr(self, "channel_score", "mean")
        if rule == "max":
            return err.max(axis=2)
        if rule != "mean":
            raise ValueError(f"{type(self).__name__}: channel_score must be 'mean' or 'max', "
                             f"got {rule!r}")
        return err.mean(axis=2)

    def _fit_error_scale(self, z: np.ndarray) -> None:
        """``error_scale_``: mean squared error per channel on the windows ``z``, floored at
        1 % of the median channel, or ones when ``normalize_errors`` is off. Without it,
        channels that are hard to reconstruct even when normal (noisy, drifting) dominate
        every score."""
        self.error_scale_ = np.ones(z.shape[2])
        if not self.normalize_errors:
            return
        total, count = np.zeros(z.shape[2]), 0
        for i in range(0, len(z), self.score_batch):
            err = self._channel_errors(z[i:i + self.score_batch])  # [B, steps scored, C]
            total += err.sum(axis=(0, 1))
            count += err.shape[0] * err.shape[1]
        mean = total / count
        self.error_scale_ = np.maximum(mean, 0.01 * np.median(mean) + 1e-12)

    def _fitted_meta(self):
        return {"error_scale": self.error_scale_.tolist()}

    def _load_meta(self, meta):
        self.error_scale_ = np.asarray(meta["error_scale"])
