"""``timegan``: TimeGAN (Yoon, Jarrett & van der Schaar, "Time-series generative adversarial
networks", NeurIPS 2019), conditional on the label, optionally behind a PCA projection.

Five recurrent networks (``layers`` stacked GRUs of width ``hidden``, sigmoid outputs): the
embedder E maps windows to a latent sequence H, the recovery R maps H back, the generator G
maps noise sequences to latent sequences, the supervisor S predicts H one step ahead, and the
discriminator D (per-step logits) tells real latent sequences from generated ones. The
one-hot condition is appended at every step to the inputs of G, S and D. Three phases, as in
the paper and its reference code:

1. ``embedding`` (``embedding_epochs``): E and R minimise 10 sqrt(MSE(X, R(E(X))));
2. ``supervised`` (``supervised_epochs``): S minimises the one-step-ahead error on E(X);
3. ``joint`` (``epochs``): per batch, two generator steps (adversarial losses on S(G(Z)) and
   on G(Z) weighted ``gamma``, 100 sqrt(supervised loss), 100 x the moment losses on the
   recovered windows), one embedder step (reconstruction + 0.1 x supervised loss), and a
   discriminator step only while its loss exceeds 0.15.

``pca_components`` (an int, or a share of variance in (0, 1)) trains TimeGAN on the leading
principal components of the channels (PCA fitted on the training windows' time steps) and
maps samples back: our reading of the "pTimeGAN" of the study this repository reproduces, for
datasets with many channels.
"""

from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA

from ..keras_tools import TrackedModel, keras, tf
from .neural import NeuralSynthesizer

PHASES = ("embedding", "supervised", "joint")
_bce = keras.losses.BinaryCrossentropy(from_logits=True)


def _rnn(n_layers, width, out, activation, name):
    net = keras.Sequential(name=name)
    for _ in range(n_layers):
        net.add(keras.layers.GRU(width, return_sequences=True))
    net.add(keras.layers.Dense(out, activation=activation))
    return net


class TimeGANModel(TrackedModel):
    """The five TimeGAN networks with a ``train_step`` per phase (``set_phase``)."""

    def __init__(self, window, channels, n_classes, hidden=24, layers=3, noise_dim=None,
                 gamma=1.0, seed=None, **kwargs):
        super().__init__(("e_loss", "s_loss", "g_loss", "g_loss_u", "g_loss_v", "d_loss"),
                         **kwargs)
        h, n, C = hidden, layers, channels
        self.embedder = _rnn(n, h, h, "sigmoid", "embedder")
        self.recovery = _rnn(n, h, C, "sigmoid", "recovery")
        self.generator = _rnn(n, h, h, "sigmoid", "generator")
        self.supervisor = _rnn(max(n - 1, 1), h, h, "sigmoid", "supervisor")
        self.discriminator = _rnn(n, h, 1, None, "discriminator")
        self.L, self.C, self.K = window, channels, n_classes
        self.noise_dim = channels if noise_dim is None else noise_dim
        self.gamma = gamma
        self.seed_gen = keras.random.SeedGenerator(seed)
        self.phase = "embedding"

    def set_phase(self, phase):
        self.phase = phase
        self.make_train_function(force=True)  # train_step branches on the phase
        for t in self.trackers.values():
            t.reset_state()

    def build_all(self):
        x = tf.zeros((1, self.L, self.C))
        c = tf.zeros((1, self.L, self.K))
        h = self.embedder(x)
        self.recovery(h)
        self.generator(tf.concat([tf.zeros((1, self.L, self.noise_dim)), c], -1))
        self.supervisor(tf.concat([h, c], -1))
        self.discriminator(tf.concat([h, c], -1))
        for name, nets in self._groups().items():
            self.optimizers[name].build([v for net in nets for v in net.trainable_variables])

    def _groups(self):
        return {"embedding": [self.embedder, self.recovery],
                "supervised": [self.supervisor],
                "generator": [self.generator, self.supervisor],
                "discriminator": [self.discriminator]}


    def _sup(self, h, c):
        return self.supervisor(tf.concat([h, c], -1), training=True)

    def _generated(self, n, c):
        """Latent sequences from fresh noise: the generator's (e_hat) and the supervisor's
        next-step version of them (h_hat), in training mode."""
        z = keras.random.uniform((n, self.L, self.noise_dim), seed=self.seed_gen)
        e_hat = self.generator(tf.concat([z, c], -1), training=True)
        return e_hat, self._sup(e_hat, c)

    def _disc(self, h, c):
        return self.discriminator(tf.concat([h, c], -1), training=True)

    def generate(self, z, c):
        e_hat = self.generator(tf.concat([z, c], -1), training=False)
        h_hat = self.supervisor(tf.concat([e_hat, c], -1), training=False)
        return self.recovery(h_hat, training=False)

    def _rec_losses(self, x, c):
        h = self.embedder(x, training=True)
        x_tilde = self.recovery(h, training=True)
        e_loss0 = 10 * tf.sqrt(tf.reduce_mean(tf.square(x - x_tilde)))
        s_loss = tf.reduce_mean(tf.square(h[:, 1:] - self._sup(h, c)[:, :-1]))
        return e_loss0, s_loss

    def train_step(self, data):
        x, c1 = data
        c = tf.repeat(c1[:, None, :], self.L, axis=1)
        out = {}
        if self.phase == "embedding":
            with tf.GradientTape() as tape:
                e_loss0, _ = self._rec_losses(x, c)
            self._apply("embedding", tape, e_loss0)
            out["e_loss"] = e_loss0
        elif self.phase == "supervised":
            with tf.GradientTape() as tape:
                h = self.embedder(x, training=True)
                s_loss = tf.reduce_mean(tf.square(h[:, 1:] - self._sup(h, c)[:, :-1]))
            self._apply("supervised", tape, s_loss)
            out["s_loss"] = s_loss
        else:
            gamma = self.gamma
            n = tf.shape(x)[0]
            for _ in range(2):
                with tf.GradientTape() as tape:
                    e_hat, h_hat = self._generated(n, c)
                    x_hat = self.recovery(h_hat, training=True)
                    y_fake = self._disc(h_hat, c)
                    y_fake_e = self._disc(e_hat, c)
                    g_loss_u = _bce(tf.ones_like(y_fake), y_fake)
                    g_loss_u_e = _bce(tf.ones_like(y_fake_e), y_fake_e)
                    h = self.embedder(x, training=True)
                    s_loss = tf.reduce_mean(tf.square(h[:, 1:] - self._sup(h, c)[:, :-1]))
                    m_x, v_x = tf.nn.moments(x, axes=[0])
                    m_hat, v_hat = tf.nn.moments(x_hat, axes=[0])
                    g_loss_v = (tf.reduce_mean(tf.abs(tf.sqrt(v_hat + 1e-6)
                                                      - tf.sqrt(v_x + 1e-6)))
                                + tf.reduce_mean(tf.abs(m_hat - m_x)))
                    g_loss = (g_loss_u + gamma * g_loss_u_e + 100 * tf.sqrt(s_loss)
                              + 100 * g_loss_v)
                self._apply("generator", tape, g_loss)
                with tf.GradientTape() as tape:
                    e_loss0, s_loss_e = self._rec_losses(x, c)
                    e_loss = e_loss0 + 0.1 * s_loss_e
                self._apply("embedding", tape, e_loss)
            with tf.GradientTape() as tape:
                e_hat, h_hat = self._generated(n, c)
                h = self.embedder(x, training=True)
                y_real = self._disc(h, c)
                y_fake = self._disc(h_hat, c)
                y_fake_e = self._disc(e_hat, c)
                d_loss = (_bce(tf.ones_like(y_real), y_real) + _bce(tf.zeros_like(y_fake), y_fake)
                          + gamma * _bce(tf.zeros_like(y_fake_e), y_fake_e))
            variables = self.discriminator.trainable_variables
            grads = tape.gradient(d_loss, variables)
            tf.cond(d_loss > 0.15,
                    lambda: self.optimizers["discriminator"].apply_gradients(zip(grads, variables)),
                    lambda: tf.constant(0, tf.int64))
            out = {"e_loss": e_loss0, "s_loss": s_loss, "g_loss": g_loss,
                   "g_loss_u": g_loss_u, "g_loss_v": g_loss_v, "d_loss": d_loss}
        return self.report(out)


class TimeGAN(NeuralSynthesizer):
    """See the module docstring. hidden, layers (GRU stack depth), noise_dim (default: the
    number of modelled channels, as in the reference code), gamma, embedding_epochs,
    supervised_epochs, epochs (joint phase), batch_size, learning_rate (Adam),
    pca_components, random_state, loss_log, verbose. Defaults: the TimeGAN-protocol
    benchmark's budget (100 + 100 + 150 epochs, TimeGAN's hidden 24 and 3 layers)."""

    def __init__(self, hidden: int = 24, layers: int = 3, noise_dim: int | None = None,
                 gamma: float = 1.0, embedding_epochs: int = 100, supervised_epochs: int = 100,
                 epochs: int = 150, batch_size: int = 128, learning_rate: float = 1e-3,
                 pca_components: int | float | None = None, random_state: int | None = 0,
                 loss_log: str | None = None, verbose: int = 0):
        self.hidden = hidden
        self.layers = layers
        self.noise_dim = noise_dim
        self.gamma = gamma
        self.embedding_epochs = embedding_epochs
        self.supervised_epochs = supervised_epochs
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.pca_components = pca_components
        self.random_state = random_state
        self.loss_log = loss_log
        self.verbose = verbose

    def _fit(self, x, y):
        self.pca_ = None
        if self.pca_components is not None:
            steps = x.reshape(-1, x.shape[2])
            self.pca_ = PCA(self.pca_components, random_state=self.random_state).fit(steps)
            x = self.pca_.transform(steps).reshape(len(x), x.shape[1], -1).astype(np.float32)
        self.model_shape_ = x.shape[1:]
        super()._fit(x, y)

    def _build(self):
        L, C = self.model_shape_
        model = TimeGANModel(L, C, len(self.classes_), hidden=self.hidden, layers=self.layers,
                             noise_dim=self.noise_dim, gamma=self.gamma, seed=self.random_state)
        self.noise_dim_ = model.noise_dim
        model.compile({k: keras.optimizers.Adam(self.learning_rate)
                       for k in ("embedding", "supervised", "generator", "discriminator")})
        model.build_all()
        return model

    def _train(self):
        for phase, epochs in zip(PHASES, (self.embedding_epochs, self.supervised_epochs,
                                          self.epochs)):
            if epochs:
                self._fit_phase(phase, epochs)

    def _generate(self, cond):
        L = self.model_shape_[0]
        z = self._rng().uniform(size=(len(cond), L, self.noise_dim_)).astype(np.float32)
        c = np.repeat(cond[:, None, :], L, axis=1)
        return self.model_.generate(z, c)

    def _sample(self, n, label):
        out = super()._sample(n, label)  # in model space (PCA components when projecting)
        if self.pca_ is None or n == 0:
            return out
        steps = self.pca_.inverse_transform(out.reshape(-1, out.shape[2]))
        return steps.reshape(n, *self.window_shape_).astype(np.float32)
