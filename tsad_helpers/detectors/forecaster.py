"""``cnn_forecaster``: a 1-D convolutional next-step forecaster; the anomaly score of a point
is how badly it was forecast from the ``window - 1`` points before it.

The architecture of the CNN that leads TSB-AD's multivariate leaderboard (Liu and Paparrizos,
NeurIPS 2024 Datasets and Benchmarks; mean VUS-PR .31 over its 180 series; after Munir et
al.'s DeepAnT, IEEE Access 2019): convolution blocks (kernel 3, ReLU, max-pooling by 2) with
``filters`` channels, average and max pooling over time concatenated, a dense layer, dropout
and a linear output of one value per channel; mean squared error, Adam with the learning rate
multiplied by 0.75 every 5 epochs, early stopping on the validation tail. Its tuned settings
(50 points of context, filters 32-32-40, batch 128, learning rate 8e-4, up to 50 epochs,
patience 3) are the defaults. Written for Keras from that description, on this package's
window contract: a window is the context plus the point forecast (``window`` = context + 1);
the score of a window is the squared forecast error of its last step, per channel divided by
the channel's mean error on the validation windows (``normalize_errors``) and averaged; it is
the score of that last point (``point_score="last"``), and the first ``window - 1`` points of
a series, which have no full context, take the first window's score.
"""

from __future__ import annotations

import numpy as np

from ..keras_tools import TrackedModel, keras, tf
from .deep import ReconstructionDetector


class CNNForecast(TrackedModel):
    """Context [B, L-1, C] -> forecast [B, C]; trained on the squared error of the window's
    last step (``forecast_loss``)."""

    def __init__(self, window, channels, filters, dense, dropout, **kwargs):
        super().__init__(("forecast_loss",), **kwargs)
        layers = keras.layers
        inp = keras.Input((window - 1, channels))
        h = inp
        for f in filters:
            h = layers.Conv1D(f, 3, activation="relu")(h)
            if h.shape[1] >= 2:
                h = layers.MaxPooling1D(2)(h)
        pooled = layers.Concatenate()([layers.GlobalAveragePooling1D()(h),
                                       layers.GlobalMaxPooling1D()(h)])
        h = layers.Dropout(dropout)(layers.Dense(dense, activation="relu")(pooled))
        self.net = keras.Model(inp, layers.Dense(channels)(h))

    def call(self, windows, training=False):
        return self.net(windows[:, :-1], training=training)

    def train_step(self, windows):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(self(windows, training=True) - windows[:, -1]))
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        return self.report({"forecast_loss": loss})

    def test_step(self, windows):
        loss = tf.reduce_mean(tf.square(self(windows, training=False) - windows[:, -1]))
        return self.report({"forecast_loss": loss})


class CNNForecaster(ReconstructionDetector):
    """See the module docstring; the other parameters are those of every deep detector
    (:mod:`tsad_helpers.detectors.deep`)."""

    point_score = "last"

    def __init__(self, window: int = 51, fit_stride: int = 1, scaling: str = "standard",
                 normalize_errors: bool = True, filters: tuple = (32, 32, 40),
                 dropout: float = 0.2, batch_size: int = 128, epochs: int = 50,
                 patience: int = 3, min_rel_delta: float = 1e-4, learning_rate: float = 8e-4,
                 lr_decay: float = 0.75,
                 lr_step: int = 5, validation_fraction: float = 0.2,
                 random_state: int | None = 0, loss_log: str | None = None, verbose: int = 0,
                 jit_compile: bool = False):
        self.window = window
        self.fit_stride = fit_stride
        self.scaling = scaling
        self.normalize_errors = normalize_errors
        self.filters = filters
        self.dropout = dropout
        self.batch_size = batch_size
        self.epochs = epochs
        self.patience = patience
        self.min_rel_delta = min_rel_delta
        self.learning_rate = learning_rate
        self.lr_decay = lr_decay
        self.lr_step = lr_step
        self.validation_fraction = validation_fraction
        self.random_state = random_state
        self.loss_log = loss_log
        self.verbose = verbose
        self.jit_compile = jit_compile

    def _build(self):
        if self.window < 4:
            raise ValueError(f"cnn_forecaster: window={self.window} leaves too little context "
                             "(at least 3 points before the forecast one)")
        filters = tuple(int(f) for f in self.filters)
        model = CNNForecast(self.window, self.n_channels_, filters, filters[-1], self.dropout)
        model.compile(optimizer=keras.optimizers.Adam(self._schedule()),
                      jit_compile=self.jit_compile)
        model(np.zeros((1, self.window, self.n_channels_), dtype=np.float32))
        return model

    def _schedule(self):
        """The learning rate times ``lr_decay`` every ``lr_step`` epochs (in batches)."""
        if not self.lr_decay or self.lr_decay == 1:
            return self.learning_rate
        steps = max(1, getattr(self, "batches_per_epoch_", 1)) * self.lr_step
        return keras.optimizers.schedules.ExponentialDecay(
            self.learning_rate, steps, self.lr_decay, staircase=True)

    def _dataset(self, z, labels, shuffle):
        if shuffle:
            self.batches_per_epoch_ = len(z) // self.batch_size if len(z) >= 2 * \
                self.batch_size else int(np.ceil(len(z) / self.batch_size))
        return super()._dataset(z, labels, shuffle)

    def _monitor(self, validation_labels):
        return "val_forecast_loss", "min"

    def _channel_errors(self, batch):
        """Squared forecast error of each window's last step per channel: [B, 1, C] (the
        one step scored; normalised per channel as the autoencoders' errors are)."""
        return ((batch[:, -1] - self._predict(batch)) ** 2)[:, None, :]

    def _window_scores(self, batch):
        return super()._window_scores(batch)[:, 0]
