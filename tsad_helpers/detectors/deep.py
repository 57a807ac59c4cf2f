"""Shared machinery of the Keras detectors (``transformer_ae_gan``, ``lstm_ae``).

- windows are cut from the scaled series batch by batch (``tf.data`` gathers them from the
  series), so neither training nor scoring materialises every overlapping window of a long
  series;
- early stopping (and the choice of the weights kept) uses only a validation tail of the data
  given to ``fit`` (``validation_fraction``), never test data or labels;
- every loss component is logged per epoch to ``loss_log`` (CSV) when given;
- ``random_state`` seeds Python, NumPy and TensorFlow after clearing Keras' global state, and
  turns on TensorFlow's op determinism, so a fit is repeatable on the same machine whatever
  ran before it in the process (:func:`fresh_seeded_state`);
- the anomaly score of a point is the squared reconstruction error of its channels, each
  divided by the channel's mean error on the validation tail (``normalize_errors``), averaged
  over channels and over the windows that cover the point;
- ``save(path)`` / ``load(path)`` keep the weights, the scaler and the parameters.

Subclasses implement ``_build()`` returning a compiled ``keras.Model`` whose ``call`` maps
windows [B, L, C] to reconstructions, and may override ``_window_scores``.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import numpy as np

from ..preprocessing import ChannelScaler, window_starts
from .base import Detector


def keras_modules():
    """Import TensorFlow and Keras quietly (they are slow to import; only deep detectors need
    them)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf
    return tf, keras


def fresh_seeded_state(seed: int | None, deterministic: bool = True):
    """Start a fit from the same state whatever ran before it in the process: clear Keras'
    global state, then seed Python, NumPy, TensorFlow and Keras (and, with ``deterministic``,
    turn on TensorFlow's op determinism). Returns (tf, keras).

    Why the clearing: without it a second identical, seeded fit in one process differed from
    the first in the last float bits (measured: 3e-7 in the weights after 15 VAE epochs), which
    hundreds of epochs amplify into different results; clearing removes the difference (a test
    checks it bitwise). The likely cause is Keras' process-wide layer-name counters (``dense``,
    then ``dense_1``, ...) changing the traced graph and so the order in which gradient
    contributions are summed; that mechanism is inferred, not traced. Models built earlier
    keep working after the clearing."""
    tf, keras = keras_modules()
    keras.backend.clear_session(free_memory=False)
    if seed is not None:
        keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    return tf, keras


class KerasWindowDetector(Detector):
    """Base class; see the module docstring. Parameters common to all deep detectors:
    window, fit_stride, scaling ("minmax", "standard" or "robust", fitted on the training
    series), normalize_errors, batch_size, epochs, patience, learning_rate, validation_fraction, random_state,
    loss_log, verbose, jit_compile (XLA for training and scoring; see ``_seed`` for its
    trade-off with bitwise repeatability)."""

    score_batch = 1024

    # -- data ---------------------------------------------------------------------------------
    def _windows_dataset(self, z: np.ndarray, starts: np.ndarray, shuffle: bool):
        tf, _ = keras_modules()
        series = tf.constant(z, dtype=tf.float32)
        offsets = tf.range(self.window, dtype=tf.int64)
        ds = tf.data.Dataset.from_tensor_slices(starts.astype(np.int64))
        if shuffle:
            ds = ds.shuffle(len(starts), seed=self.random_state, reshuffle_each_iteration=True)
        ds = ds.batch(self.batch_size, drop_remainder=shuffle and len(starts) >= 2 * self.batch_size)
        return ds.map(lambda s: tf.gather(series, s[:, None] + offsets[None, :]),
                      num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)

    def _seed(self) -> None:
        """Seed Python, NumPy and TensorFlow; without XLA also turn on op determinism (bitwise
        repeatable fits). Keras refuses ``jit_compile`` while op determinism is on (it falls
        back to plain graphs), so ``jit_compile=True`` leaves determinism off: XLA fits are
        seeded but not bitwise repeatable. Op determinism cannot be turned off again inside a
        process, so after a deterministic fit a later XLA fit falls back (``jit_compiled_``
        tells which one ran)."""
        fresh_seeded_state(self.random_state, deterministic=not self.jit_compile)

    # -- fit ------------------------------------------------------------------------------------
    def _fit(self, x):
        tf, keras = keras_modules()
        if x.shape[0] < self.window * 2:
            raise ValueError(f"{type(self).__name__}: {x.shape[0]} training points are too few "
                             f"for window={self.window}")
        self._seed()
        self.scaler_ = ChannelScaler(self.scaling).fit(x)
        z = self.scaler_.transform(x)
        n_val = int(round(len(z) * self.validation_fraction))
        if n_val and n_val < self.window:
            n_val = 0  # too short to hold one window: train without early stopping
        head, tail = (z[:-n_val], z[-n_val:]) if n_val else (z, None)
        train_ds = self._windows_dataset(head, window_starts(len(head), self.window,
                                                             self.fit_stride), shuffle=True)
        val_ds = None
        if tail is not None:
            val_ds = self._windows_dataset(tail, window_starts(len(tail), self.window,
                                                               max(1, self.window // 4)), False)
        self.model_ = self._build()
        self.jit_compiled_ = bool(getattr(self.model_, "jit_compile", False))
        callbacks = []
        if val_ds is not None:
            callbacks.append(keras.callbacks.EarlyStopping(
                monitor="val_rec_loss", mode="min", patience=self.patience,
                restore_best_weights=True))
        if self.loss_log:
            Path(self.loss_log).parent.mkdir(parents=True, exist_ok=True)
            callbacks.append(keras.callbacks.CSVLogger(str(self.loss_log)))
        history = self.model_.fit(train_ds, validation_data=val_ds, epochs=self.epochs, shuffle=False,
                                  callbacks=callbacks, verbose=self.verbose)
        self.history_ = {k: [float(v) for v in vals] for k, vals in history.history.items()}
        self.epochs_run_ = len(next(iter(self.history_.values()), []))
        self._fit_error_scale(tail if tail is not None else head)

    # -- score ----------------------------------------------------------------------------------
    def _score(self, x):
        if len(x) < self.window:
            raise ValueError(f"{type(self).__name__}: series of {len(x)} points is shorter than "
                             f"window={self.window}")
        z = self.scaler_.transform(x)
        starts = window_starts(len(z), self.window, 1)
        total = np.zeros(len(z))
        count = np.zeros(len(z))
        offsets = np.arange(self.window)
        view = np.lib.stride_tricks.sliding_window_view(z, self.window, axis=0)
        for i in range(0, len(starts), self.score_batch):
            s = starts[i:i + self.score_batch]
            batch = np.ascontiguousarray(view[s].transpose(0, 2, 1))
            per_step = self._window_scores(batch)  # [B, L]
            idx = (s[:, None] + offsets[None, :]).ravel()
            total += np.bincount(idx, weights=per_step.ravel(), minlength=len(z))
            count += np.bincount(idx, minlength=len(z))
        return total / count

    def _channel_errors(self, batch: np.ndarray) -> np.ndarray:
        """Squared reconstruction error of every entry of the windows: [B, L, C]."""
        recon = np.asarray(self._reconstruct(batch))
        return (batch - recon) ** 2

    def _window_scores(self, batch: np.ndarray) -> np.ndarray:
        """Per window step: the channels' squared errors, each divided by that channel's
        typical error on held-out normal data (``error_scale_``), averaged: [B, L]."""
        return (self._channel_errors(batch) / self.error_scale_).mean(axis=2)

    def _fit_error_scale(self, z: np.ndarray) -> None:
        """``error_scale_``: mean squared error per channel on windows of ``z`` (the
        validation tail), floored at 1 % of the median channel, or ones when
        ``normalize_errors`` is off. Without it, channels that are hard to reconstruct even
        when normal (noisy, drifting) dominate every score."""
        c = z.shape[1]
        if not self.normalize_errors:
            self.error_scale_ = np.ones(c)
            return
        self.error_scale_ = np.ones(c)
        starts = window_starts(len(z), self.window, max(1, self.window // 4))
        view = np.lib.stride_tricks.sliding_window_view(z, self.window, axis=0)
        total = np.zeros(c)
        for i in range(0, len(starts), self.score_batch):
            batch = np.ascontiguousarray(view[starts[i:i + self.score_batch]].transpose(0, 2, 1))
            total += self._channel_errors(batch).sum(axis=(0, 1))
        mean = total / (len(starts) * self.window)
        self.error_scale_ = np.maximum(mean, 0.01 * np.median(mean) + 1e-12)

    def _reconstruct(self, batch):
        if not hasattr(self, "_predict_fn"):
            tf, _ = keras_modules()
            model = self.model_
            self._predict_fn = tf.function(lambda b: model(b, training=False),
                                           reduce_retracing=True,
                                           jit_compile=bool(getattr(self, "jit_compiled_",
                                                                    False)))
        return self._predict_fn(batch)

    # -- persistence ------------------------------------------------------------------------------
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
                "n_channels": self.n_channels_, "error_scale": self.error_scale_.tolist()}
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
        det.error_scale_ = np.asarray(meta["error_scale"])
        det.model_ = det._build()
        det.model_(np.zeros((1, det.window, det.n_channels_), dtype=np.float32))
        with warnings.catch_warnings():  # optimizer state is not needed to score
            warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
            det.model_.load_weights(str(path / "model.weights.h5"))
        return det
