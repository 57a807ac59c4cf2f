"""``lstm_ae``: the classic deep baseline, an LSTM encoder-decoder that reconstructs windows
(Malhotra et al., "LSTM-based encoder-decoder for multi-sensor anomaly detection", 2016).
The score is the reconstruction error, as for ``transformer_ae_gan``."""

from __future__ import annotations

from .deep import KerasWindowDetector, keras_modules


def _model_class():
    tf, keras = keras_modules()

    class LSTMAE(keras.Model):
        def __init__(self, window, channels, units, latent):
            super().__init__()
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
            self.rec_tracker = keras.metrics.Mean(name="rec_loss")

        @property
        def metrics(self):
            return [self.rec_tracker]

        def call(self, x, training=False):
            return self.net(x, training=training)

        def train_step(self, x):
            with tf.GradientTape() as tape:
                rec = tf.reduce_mean(tf.square(self(x, training=True) - x))
            grads = tape.gradient(rec, self.trainable_variables)
            self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
            self.rec_tracker.update_state(rec)
            return {"rec_loss": self.rec_tracker.result()}

        def test_step(self, x):
            self.rec_tracker.update_state(tf.reduce_mean(tf.square(self(x) - x)))
            return {"rec_loss": self.rec_tracker.result()}

    return LSTMAE


class LSTMAutoencoder(KerasWindowDetector):
    """LSTM autoencoder over windows; see :mod:`tsad_helpers.detectors.deep` for the shared
    parameters (windowing, early stopping on a validation tail, loss logging, seeding)."""

    def __init__(self, window: int = 32, fit_stride: int = 2, scaling: str = "minmax",
                 normalize_errors: bool = True, units: int = 64, latent: int = 32,
                 batch_size: int = 64, epochs: int = 20, patience: int = 3,
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
        self.learning_rate = learning_rate
        self.validation_fraction = validation_fraction
        self.random_state = random_state
        self.loss_log = loss_log
        self.verbose = verbose
        self.jit_compile = jit_compile

    def _build(self):
        _, keras = keras_modules()
        model = _model_class()(self.window, self.n_channels_, self.units, self.latent)
        model.compile(optimizer=keras.optimizers.Adam(self.learning_rate),
                      jit_compile=self.jit_compile)
        return model
