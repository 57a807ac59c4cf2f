"""``wgan_gp``: a conditional Wasserstein GAN with gradient penalty over windows (Gulrajani et
al., "Improved training of Wasserstein GANs", 2017; conditioning as in Mirza & Osindero 2014).

Generator: noise (``noise_dim``) and the one-hot condition -> dense -> two 1-D convolutions ->
a sigmoid per channel (windows live in [0, 1] after min-max scaling). Critic: the window with
the condition broadcast as extra channels -> two strided 1-D convolutions -> one score. Each
batch: ``n_critic`` critic updates (Wasserstein loss + ``gp_weight`` x the gradient penalty on
random interpolates), then one generator update. Logged per epoch: ``critic_loss``, ``gp``,
``gen_loss`` and ``w_distance`` (the critic's estimate of the Wasserstein distance).
"""

from __future__ import annotations

import numpy as np

from ..detectors.deep import keras_modules
from .neural import NeuralSynthesizer


def _model_class():
    tf, keras = keras_modules()
    layers = keras.layers

    class WGAN(keras.Model):
        def __init__(self, L, C, K, cfg):
            super().__init__()
            h = cfg.hidden
            z_in, c_in = keras.Input((cfg.noise_dim,)), keras.Input((K,))
            g = layers.Dense(L * h, activation="relu")(layers.Concatenate()([z_in, c_in]))
            g = layers.Reshape((L, h))(g)
            g = layers.Conv1D(h, 5, padding="same", activation="leaky_relu")(g)
            g = layers.Conv1D(h, 5, padding="same", activation="leaky_relu")(g)
            self.generator = keras.Model([z_in, c_in],
                                         layers.Conv1D(C, 1, activation="sigmoid")(g))
            x_in, c2 = keras.Input((L, C)), keras.Input((K,))
            q = layers.Concatenate()([x_in, layers.RepeatVector(L)(c2)])
            q = layers.Conv1D(h, 5, strides=2, padding="same", activation="leaky_relu")(q)
            q = layers.Conv1D(2 * h, 5, strides=2, padding="same", activation="leaky_relu")(q)
            self.critic = keras.Model([x_in, c2], layers.Dense(1)(layers.Flatten()(q)))
            self.cfg = cfg
            self.seed_gen = keras.random.SeedGenerator(cfg.random_state)
            self.trackers = {n: keras.metrics.Mean(name=n) for n in (
                "critic_loss", "gp", "gen_loss", "w_distance")}

        @property
        def metrics(self):
            return list(self.trackers.values())

        def compile(self, g_optimizer, c_optimizer, **kwargs):
            super().compile(**kwargs)
            self.g_optimizer, self.c_optimizer = g_optimizer, c_optimizer

        def _noise(self, n):
            return keras.random.normal((n, self.cfg.noise_dim), seed=self.seed_gen)

        def train_step(self, data):
            x, c = data
            n = tf.shape(x)[0]
            for _ in range(self.cfg.n_critic):
                fake = self.generator([self._noise(n), c], training=True)
                alpha = keras.random.uniform((n, 1, 1), seed=self.seed_gen)
                mixed = alpha * x + (1 - alpha) * fake
                with tf.GradientTape() as tape:
                    with tf.GradientTape() as gp_tape:
                        gp_tape.watch(mixed)
                        mixed_score = self.critic([mixed, c], training=True)
                    grad = gp_tape.gradient(mixed_score, mixed)
                    norm = tf.sqrt(tf.reduce_sum(tf.square(grad), axis=[1, 2]) + 1e-12)
                    gp = tf.reduce_mean(tf.square(norm - 1.0))
                    w_distance = (tf.reduce_mean(self.critic([x, c], training=True))
                                  - tf.reduce_mean(self.critic([fake, c], training=True)))
                    critic_loss = -w_distance + self.cfg.gp_weight * gp
                variables = self.critic.trainable_variables
                self.c_optimizer.apply_gradients(zip(tape.gradient(critic_loss, variables),
                                                     variables))
            with tf.GradientTape() as tape:
                fake = self.generator([self._noise(n), c], training=True)
                gen_loss = -tf.reduce_mean(self.critic([fake, c], training=True))
            variables = self.generator.trainable_variables
            self.g_optimizer.apply_gradients(zip(tape.gradient(gen_loss, variables), variables))
            for name, value in (("critic_loss", critic_loss), ("gp", gp),
                                ("gen_loss", gen_loss), ("w_distance", w_distance)):
                self.trackers[name].update_state(value)
            return {k: m.result() for k, m in self.trackers.items()}

    return WGAN


class WGANGP(NeuralSynthesizer):
    """See the module docstring. noise_dim, hidden (width), n_critic, gp_weight, epochs,
    batch_size, learning_rate (Adam, beta_1 = 0.5, beta_2 = 0.9 as in the paper),
    random_state, loss_log, verbose."""

    def __init__(self, noise_dim: int = 32, hidden: int = 64, n_critic: int = 5,
                 gp_weight: float = 10.0, epochs: int = 200, batch_size: int = 64,
                 learning_rate: float = 1e-4, random_state: int | None = 0,
                 loss_log: str | None = None, verbose: int = 0):
        self.noise_dim = noise_dim
        self.hidden = hidden
        self.n_critic = n_critic
        self.gp_weight = gp_weight
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.random_state = random_state
        self.loss_log = loss_log
        self.verbose = verbose

    def _build(self):
        _, keras = keras_modules()
        L, C = self.window_shape_
        model = _model_class()(L, C, len(self.classes_), self)

        def adam():
            return keras.optimizers.Adam(self.learning_rate, beta_1=0.5, beta_2=0.9)

        model.compile(g_optimizer=adam(), c_optimizer=adam())
        return model

    def _generate(self, cond):
        z = self._rng().normal(size=(len(cond), self.noise_dim)).astype(np.float32)
        return self.model_.generator([z, cond], training=False)
