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

from ..keras_tools import TrackedModel, keras, tf
from .neural import NeuralSynthesizer


class WGAN(TrackedModel):
    """Conditional generator and critic; ``train_step`` makes ``n_critic`` critic updates
    (Wasserstein loss + ``gp_weight`` x gradient penalty), then one generator update."""

    def __init__(self, window, channels, n_classes, noise_dim=32, hidden=64, n_critic=5,
                 gp_weight=10.0, seed=None, **kwargs):
        super().__init__(("critic_loss", "gp", "gen_loss", "w_distance"), **kwargs)
        layers = keras.layers
        L, C, K, h = window, channels, n_classes, hidden
        z_in, c_in = keras.Input((noise_dim,)), keras.Input((K,))
        g = layers.Dense(L * h, activation="relu")(layers.Concatenate()([z_in, c_in]))
        g = layers.Reshape((L, h))(g)
        g = layers.Conv1D(h, 5, padding="same", activation="leaky_relu")(g)
        g = layers.Conv1D(h, 5, padding="same", activation="leaky_relu")(g)
        self.generator = keras.Model([z_in, c_in], layers.Conv1D(C, 1, activation="sigmoid")(g))
        x_in, c2 = keras.Input((L, C)), keras.Input((K,))
        q = layers.Concatenate()([x_in, layers.RepeatVector(L)(c2)])
        q = layers.Conv1D(h, 5, strides=2, padding="same", activation="leaky_relu")(q)
        q = layers.Conv1D(2 * h, 5, strides=2, padding="same", activation="leaky_relu")(q)
        self.critic = keras.Model([x_in, c2], layers.Dense(1)(layers.Flatten()(q)))
        self.noise_dim, self.n_critic, self.gp_weight = noise_dim, n_critic, gp_weight
        self.seed_gen = keras.random.SeedGenerator(seed)

    def _noise(self, n):
        return keras.random.normal((n, self.noise_dim), seed=self.seed_gen)

    def train_step(self, data):
        x, c = data
        n = tf.shape(x)[0]
        for _ in range(self.n_critic):
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
                critic_loss = -w_distance + self.gp_weight * gp
            variables = self.critic.trainable_variables
            self.optimizers["critic"].apply_gradients(zip(tape.gradient(critic_loss, variables),
                                                 variables))
        with tf.GradientTape() as tape:
            fake = self.generator([self._noise(n), c], training=True)
            gen_loss = -tf.reduce_mean(self.critic([fake, c], training=True))
        variables = self.generator.trainable_variables
        grads = tape.gradient(gen_loss, variables)
        self.optimizers["generator"].apply_gradients(zip(grads, variables))
        return self.report({"critic_loss": critic_loss, "gp": gp, "gen_loss": gen_loss,
                            "w_distance": w_distance})


class WGANGP(NeuralSynthesizer):
    """See the module docstring. noise_dim, hidden (width), n_critic, gp_weight, epochs,
    batch_size, learning_rate (Adam, beta_1 = 0.5, beta_2 = 0.9 as in the paper),
    random_state, loss_log, verbose. Defaults: the TimeGAN-protocol benchmark's settings."""

    def __init__(self, noise_dim: int = 32, hidden: int = 64, n_critic: int = 5,
                 gp_weight: float = 10.0, epochs: int = 300, batch_size: int = 64,
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
        L, C = self.window_shape_
        model = WGAN(L, C, len(self.classes_), noise_dim=self.noise_dim, hidden=self.hidden,
                     n_critic=self.n_critic, gp_weight=self.gp_weight, seed=self.random_state)

        def adam():
            return keras.optimizers.Adam(self.learning_rate, beta_1=0.5, beta_2=0.9)

        model.compile({"generator": adam(), "critic": adam()})
        return model

    def _generate(self, cond):
        z = self._rng().normal(size=(len(cond), self.noise_dim)).astype(np.float32)
        return self.model_.generator([z, cond], training=False)
