"""``lstm_ae``: the classic deep baseline, an LSTM encoder-decoder that reconstructs windows
(Malhotra et al., "LSTM-based encoder-decoder for multi-sensor anomaly detection", 2016).
The score is the reconstruction error, as for ``transformer_ae_gan``."""

from __future__ import annotations

from ..keras_tools import TrackedModel, keras, tf
from .deep import ReconstructionDetector


class LSTMAE(TrackedModel):
    """Stacked LSTM encoder to one code vector, repeated and decoded by stacked LSTMs; trained
    on the mean squared reconstruction error (``rec_loss``)."""

    def __init__(self, window, channels, units, latent, **kwargs):
        super().__init__(("rec_loss",), **kwargs)
        layers = keras.layers
        self.net = keras.Sequential([
            keras.Input((window, channels)),
            layers.LSTM(units, return_sequences=True),
            layers.LSTM(latent),
            layers.RepeatVector(window),
            layers.LSTM(latent, return_sequences=True),
            layers.LSTM(units, return_sequences=True),
            layers.TimeDistributed(layers.Dense(channels)),
        ])

    def call(self, x, training=False):
        return self.net(x, training=training)

    def train_step(self, x):
        with tf.GradientTape() as tape:
            rec = tf.reduce_mean(tf.square(self(x, training=True) - x))
        grads = tape.gradient(rec, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        return self.report({"rec_loss": rec})

    def test_step(self, x):
        return self.report({"rec_loss": tf.reduce_mean(tf.square(self(x) - x))})


class LSTMAutoencoder(ReconstructionDetector):
    """LSTM autoencoder over windows; see :mod:`tsad_helpers.detectors.deep` for the shared
    parameters (windowing, early stopping on a validation tail, loss logging, seeding).
    Defaults: the detector benchmark's (paper profile) settings."""

    def __init__(self, window: int = 32, fit_stride: int = 2, scaling: str = "minmax",
                 normalize_errors: bool = True, units: int = 64, latent: int = 32,
                 batch_size: int = 64, epochs: int = 30, patience: int = 4,
                 min_rel_delta: float = 1e-4,
                 learning_rate: float = 1e-3, validation_fraction: float = 0.1,
                 random_state: int | None = 0, loss_log: str | None = None, verbose: int = 0,
                 jit_compile: bool = False):
        self.window = window
        self.fit_stride = fit_stride
        self.scaling = scaling
        self.normalize_errors = normalize_errors
        self.units = units
        self.latent = latent
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

    def _build(self):
        model = LSTMAE(self.window, self.n_channels_, self.units, self.latent)
        model.compile(optimizer=keras.optimizers.Adam(self.learning_rate),
                      jit_compile=self.jit_compile)
        return model
