"""Shared machinery of the Keras generators (``timegan``, ``wgan_gp``, ``vae``):

- windows are min-max scaled per channel to [0, 1] on the training windows (the TimeGAN
  protocol) and samples are mapped back;
- labels become one-hot conditions ([N, K], K = number of training classes; K = 1 and a
  constant condition when fitted without labels), fed to the networks;
- ``random_state`` seeds Python, NumPy and TensorFlow (after clearing Keras' global state) and
  turns on op determinism, so a fit is repeatable on the same machine whatever ran before it
  in the process (``detectors.deep.fresh_seeded_state``);
- every loss is logged per epoch (and per training phase) to ``loss_log`` (CSV) when given.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..detectors.deep import fresh_seeded_state, keras_modules
from ..results import save_table
from .base import MinMaxWindows, Synthesizer


class NeuralSynthesizer(Synthesizer):
    """Base class. Subclasses implement ``_build()`` (a compiled ``keras.Model`` taking
    (x, condition) batches), optionally ``_train()`` (default: one phase of ``epochs``; calls ``fit`` per phase
    through :meth:`_fit_phase`) and ``_generate(n, condition)`` returning scaled windows."""

    def _fit(self, x, y):
        tf, _ = fresh_seeded_state(self.random_state)
        self.scaler_ = MinMaxWindows().fit(x)
        z = self.scaler_.transform(x)
        cond = self._condition(y)
        self.history_ = []
        ds = tf.data.Dataset.from_tensor_slices((z, cond))
        ds = ds.shuffle(len(z), seed=self.random_state, reshuffle_each_iteration=True)
        self.dataset_ = ds.batch(min(self.batch_size, len(z)), drop_remainder=True)
        self.model_ = self._build()
        self._train()
        del self.dataset_

    def _train(self):
        """One training phase of ``epochs`` epochs (TimeGAN overrides this with three)."""
        self._fit_phase("train", self.epochs)

    def _condition(self, y) -> np.ndarray:
        index = np.searchsorted(self.classes_, y)
        return np.eye(len(self.classes_), dtype=np.float32)[index]

    def _fit_phase(self, phase: str, epochs: int):
        """Run ``fit`` for one training phase, logging its losses per epoch."""
        _, keras = keras_modules()
        if hasattr(self.model_, "set_phase"):
            self.model_.set_phase(phase)
        logger = keras.callbacks.LambdaCallback(
            on_epoch_end=lambda epoch, logs: self._log(phase, epoch, logs))
        self.model_.fit(self.dataset_, epochs=epochs, verbose=self.verbose, shuffle=False,
                        callbacks=[logger])

    def _log(self, phase, epoch, logs):
        self.history_.append({"phase": phase, "epoch": epoch,
                              **{k: float(v) for k, v in (logs or {}).items()}})
        if self.loss_log:
            Path(self.loss_log).parent.mkdir(parents=True, exist_ok=True)
            save_table(pd.DataFrame(self.history_), self.loss_log)

    def _sample(self, n, label):
        if n == 0:
            return np.zeros((0, *self.window_shape_), dtype=np.float32)
        cond = self._condition(np.full(n, label))
        out = []
        for i in range(0, n, 1024):
            out.append(np.asarray(self._generate(cond[i:i + 1024])))
        return self.scaler_.inverse(np.concatenate(out))
