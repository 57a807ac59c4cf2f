"""``window_classifier``: a supervised detector, a small Keras network that tells anomalous
windows (label 1: any labelled point) from normal ones. It is the "model accuracy" path of the
CV study: labelled real windows of a training fold, plus synthetic windows of either class,
go in through ``fit_windows``; the score of a window is its predicted probability of being
anomalous, spread to points as the mean over the windows that cover them.

- ``architecture="conv"``: two 1-D convolutions (the second strided), global max pooling, a
  dense layer with dropout; ``"gru"``: one GRU layer. Both end in one logit.
- ``class_weight="balanced"`` weighs each class inversely to its share of the training windows
  (as scikit-learn's ``"balanced"``), a dict {0: w0, 1: w1} gives the weights, None none.
- Early stopping on the AUC-PR of validation windows (``val_auc_pr``; the binary cross-entropy
  ``val_loss`` when they hold one class only), with ``fit``: the labelled tail of the series,
  with ``fit_windows``: ``validation`` or the last ``validation_fraction`` of the windows; the
  best weights are kept. Losses and AUC-PR per epoch go to ``loss_log`` and ``history_`` like
  the other deep models.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from ..keras_tools import keras, window_dataset
from .deep import KerasWindowDetector


class WindowClassifierNet(keras.Model):
    """[B, L, C] windows -> one logit per window (anomalous vs normal)."""

    def __init__(self, architecture="conv", filters=32, dropout=0.1, **kwargs):
        super().__init__(**kwargs)
        layers = keras.layers
        if architecture == "conv":
            self.features = keras.Sequential([
                layers.Conv1D(filters, 5, padding="same", activation="relu"),
                layers.Conv1D(filters, 5, strides=2, padding="same", activation="relu"),
                layers.GlobalMaxPooling1D(),
                layers.Dense(filters, activation="relu"),
                layers.Dropout(dropout)])
        elif architecture == "gru":
            self.features = keras.Sequential([layers.GRU(filters), layers.Dropout(dropout)])
        else:
            raise ValueError(f"architecture must be 'conv' or 'gru', got {architecture!r}")
        self.head = layers.Dense(1)

    def call(self, x, training=False):
        return self.head(self.features(x, training=training))


class WindowClassifier(KerasWindowDetector):
    """See the module docstring. window, fit_stride, scaling, architecture, filters, dropout,
    class_weight, batch_size, epochs, patience, learning_rate, validation_fraction,
    random_state, loss_log, verbose, jit_compile."""

    uses_labels = True

    def __init__(self, window: int = 32, fit_stride: int = 1, scaling: str = "standard",
                 architecture: str = "conv", filters: int = 32, dropout: float = 0.1,
                 class_weight: str | dict | None = "balanced", batch_size: int = 64,
                 epochs: int = 50, patience: int = 10, min_rel_delta: float = 1e-4,
                 learning_rate: float = 1e-3,
                 validation_fraction: float = 0.2, random_state: int | None = 0,
                 loss_log: str | None = None, verbose: int = 0, jit_compile: bool = False):
        self.window = window
        self.fit_stride = fit_stride
        self.scaling = scaling
        self.architecture = architecture
        self.filters = filters
        self.dropout = dropout
        self.class_weight = class_weight
        self.batch_size = batch_size
        self.epochs = epochs
        self.patience = patience
        self.min_rel_delta = min_rel_delta
        self.learning_rate = learning_rate
        self.validation_fraction = validation_fraction
        self.random_state = random_state
        self.loss_log = loss_log
        self.verbose = verbose
        self.jit_compile = jit_compile

    def _fit_windows(self, z, labels, validation):
        name = type(self).__name__
        if labels is None:
            raise ValueError(f"{name} learns from labels: pass y to fit (one 0/1 label per "
                             "point) or labels to fit_windows (one per window)")
        if validation is not None and validation[1] is None:
            raise ValueError(f"{name}.fit_windows: validation windows need labels: pass "
                             "validation=(windows, labels)")
        self.class_weights_ = self._class_weights(labels)
        super()._fit_windows(z, labels, validation)

    def _monitor(self, validation_labels):
        """The validation AUC-PR when the validation windows hold both classes (measured: on
        a labelled synthetic series the validation loss rose from the first epoch, as events of
        kinds the training part lacked were scored with growing confidence, and stopping on it
        kept a barely trained model, held-out AUC-ROC .53; on AUC-PR .86); else the loss."""
        if validation_labels is not None and 0 < validation_labels.sum() < len(validation_labels):
            return "val_auc_pr", "max"
        return "val_loss", "min"

    def _class_weights(self, y: np.ndarray) -> dict:
        counts = np.bincount(y, minlength=2)
        if counts.min() == 0:
            raise ValueError(f"{type(self).__name__}: the training windows hold only class "
                             f"{int(np.argmax(counts))} ({counts.max()} windows); both normal "
                             "and anomalous windows are needed")
        if self.class_weight is None:
            return {0: 1.0, 1: 1.0}
        if self.class_weight == "balanced":
            return {c: float(len(y) / (2 * counts[c])) for c in (0, 1)}
        if isinstance(self.class_weight, dict) and set(self.class_weight) == {0, 1}:
            return {c: float(self.class_weight[c]) for c in (0, 1)}
        raise ValueError(f"class_weight must be None, 'balanced' or {{0: w0, 1: w1}}, got "
                         f"{self.class_weight!r}")

    def _dataset(self, z, labels, shuffle):
        y = labels.astype(np.float32)[:, None]
        weights = np.where(labels == 1, self.class_weights_[1], self.class_weights_[0])
        return window_dataset(z, y, weights.astype(np.float32), batch_size=self.batch_size,
                              shuffle=shuffle, seed=self.random_state)

    def _build(self):
        model = WindowClassifierNet(self.architecture, self.filters, self.dropout)
        model.compile(optimizer=keras.optimizers.Adam(self.learning_rate),
                      loss=keras.losses.BinaryCrossentropy(from_logits=True),
                      weighted_metrics=[],
                      metrics=[keras.metrics.AUC(curve="PR", from_logits=True, name="auc_pr")],
                      jit_compile=self.jit_compile)
        model(np.zeros((1, self.window, self.n_channels_), dtype=np.float32))
        return model

    def _window_scores(self, batch):
        return expit(self._predict(batch)[:, 0].astype(np.float64))
