"""Shared machinery of the Keras generators (``timegan``, ``wgan_gp``, ``vae``):

- windows are min-max scaled per channel to [0, 1] on the training windows (the TimeGAN
  protocol) and samples are mapped back;
- labels become one-hot conditions ([N, K], K = number of training classes; K = 1 and a
  constant condition when fitted without labels), fed to the networks;
- ``random_state`` seeds Python, NumPy and TensorFlow (after clearing Keras' global state) and
  turns on op determinism, so a fit is repeatable on the same machine whatever ran before it
  in the process (:func:`tsad_helpers.keras_tools.fresh_seeded_state`);
- every loss is logged per epoch (and per training phase) to ``loss_log`` (CSV) when given,
  and kept in ``history_``.
"""

from __future__ import annotations

import numpy as np

from ..keras_tools import EpochLog, fresh_seeded_state, window_dataset
from .base import MinMaxWindows, Synthesizer


class NeuralSynthesizer(Synthesizer):
    """Base class. Subclasses implement ``_build()`` (a compiled ``keras.Model`` taking
    (x, condition) batches), optionally ``_train()`` (default: one phase of ``epochs``; calls
    ``fit`` per phase through :meth:`_fit_phase`) and ``_generate(n, condition)`` returning
    scaled windows."""

    def _fit(self, x, y):
        fresh_seeded_state(self.random_state)
        self.scaler_ = MinMaxWindows().fit(x)
        z = self.scaler_.transform(x)
        self.history_ = []
        self.dataset_ = window_dataset(z, self._condition(y), batch_size=self.batch_size,
                                       shuffle=True, seed=self.random_state,
                                       drop_remainder=True)
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
        if hasattr(self.model_, "set_phase"):
            self.model_.set_phase(phase)
        self.model_.fit(self.dataset_, epochs=epochs, verbose=self.verbose, shuffle=False,
                        callbacks=[EpochLog(self.loss_log, phase, self.history_)])

    def _sample(self, n, label):
        if n == 0:
            return np.zeros((0, *self.window_shape_), dtype=np.float32)
        cond = self._condition(np.full(n, label))
        out = [np.asarray(self._generate(cond[i:i + 1024])) for i in range(0, n, 1024)]
        return self.scaler_.inverse(np.concatenate(out))
