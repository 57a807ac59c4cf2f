"""``doppelganger``: DoppelGANger (Lin, Jain, Wang, Fanti & Sekar, "Using GANs for sharing
networked time series data", IMC 2020), with the window's label as its only metadata.

What we keep of the paper:

- **auto-normalisation**: each window is min-max normalised per channel to [0, 1] (after the
  global min-max scaling every generator works in), and its per-channel midpoint and
  half-range become generated "min/max attributes" (2C numbers), so that windows of very
  different levels do not collapse onto one;
- **decoupled generation**: an MLP draws the min/max attributes from noise and the
  condition (the one-hot label, given, not generated: the paper's conditional use); an LSTM
  then draws the normalised window from the condition, those attributes and fresh noise at
  every step;
- **batched generation**: each LSTM step emits ``sample_len`` consecutive time steps, so the
  recurrent network runs ceil(L / sample_len) steps;
- **two critics**, Wasserstein losses with gradient penalty (weight ``gp_weight``): one on
  the whole sample (normalised window, attributes, condition), an auxiliary one on the
  attributes and condition alone; the generator minimises both critics' losses, the
  auxiliary one weighted ``aux_weight``.

``auto_normalise=False`` is the paper's switch without auto-normalisation: no attributes, no
auxiliary critic; the LSTM draws the window in [0, 1] directly from the condition and its noise
(the main critic sees the window and the condition). It is meant for channels that move
together at one level (a stock's open, high, low and close), whose per-channel attributes must
otherwise agree to a precision that the auxiliary critic may not teach.

A sample is its normalised window mapped back through its attributes (clipped to the training
range). Logged per epoch: ``d_loss``, ``aux_loss``, ``gp`` (of the main critic), ``g_loss``
and ``w_distance`` (the main critic's estimate).
"""

from __future__ import annotations

import math

import numpy as np

from ..keras_tools import TrackedModel, keras, tf
from .neural import NeuralSynthesizer


def _mlp(width, depth, out, activation, name):
    net = keras.Sequential(name=name)
    for _ in range(depth):
        net.add(keras.layers.Dense(width, activation="relu"))
    net.add(keras.layers.Dense(out, activation=activation))
    return net


def auto_normalise(x):
    """Windows [N, L, C] in [0, 1] -> (normalised windows, attributes [N, 2C]): per window
    and channel (x - min) / (max - min) (0.5 for a flat channel) and [midpoints,
    half-ranges]."""
    lo, hi = tf.reduce_min(x, axis=1, keepdims=True), tf.reduce_max(x, axis=1, keepdims=True)
    span = hi - lo
    flat = span <= 1e-6
    norm = tf.where(flat, 0.5 * tf.ones_like(x), (x - lo) / tf.where(flat, 1.0, span))
    return norm, tf.concat([(hi + lo)[:, 0] / 2, span[:, 0] / 2], axis=-1)


class DoppelGANgerModel(TrackedModel):
    """The attribute and feature generators and the two critics; see the module docstring."""

    def __init__(self, window, channels, n_classes, noise_dim=5, hidden=100, attr_hidden=100,
                 critic_hidden=200, sample_len=4, gp_weight=10.0, aux_weight=1.0,
                 auto_normalise=True, seed=None, **kwargs):
        super().__init__(("d_loss", "aux_loss", "gp", "g_loss", "w_distance"), **kwargs)
        L, C, K = window, channels, n_classes
        self.L, self.C, self.K, self.S = L, C, K, sample_len
        self.steps = math.ceil(L / sample_len)
        self.noise_dim, self.gp_weight, self.aux_weight = noise_dim, gp_weight, aux_weight
        self.auto = bool(auto_normalise)
        self.attr_gen = _mlp(attr_hidden, 2, 2 * C, "sigmoid", "attribute_generator") \
            if self.auto else None
        self.feature_gen = keras.Sequential([
            keras.layers.LSTM(hidden, return_sequences=True),
            keras.layers.Dense(sample_len * C, activation="sigmoid")], name="feature_generator")
        self.critic = _mlp(critic_hidden, 3, 1, None, "critic")
        self.aux_critic = _mlp(critic_hidden, 2, 1, None, "aux_critic") if self.auto else None
        self.seed_gen = keras.random.SeedGenerator(seed)

    def build_all(self):
        n = 1
        za = tf.zeros((n, self.noise_dim))
        zf = tf.zeros((n, self.steps, self.noise_dim))
        c = tf.zeros((n, self.K))
        norm, attrs = self.generate(za, zf, c, training=False, normalised=True)
        self.critic(self._whole(norm, attrs, c))
        if self.auto:
            self.aux_critic(tf.concat([attrs, c], -1))
        for name, nets in self._groups().items():
            self.optimizers[name].build([v for net in nets for v in net.trainable_variables])

    def _groups(self):
        if not self.auto:
            return {"generator": [self.feature_gen], "critic": [self.critic]}
        return {"generator": [self.attr_gen, self.feature_gen],
                "critic": [self.critic, self.aux_critic]}

    def generate(self, za, zf, c, training=False, normalised=False):
        """From attribute noise [N, noise], step noise [N, steps, noise] and conditions
        [N, K]: (normalised windows, attributes) with ``normalised``, else windows in [0, 1].
        Without auto-normalisation the attributes are empty and the windows are not mapped."""
        if self.auto:
            attrs = self.attr_gen(tf.concat([za, c], -1), training=training)
        else:
            attrs = tf.zeros((tf.shape(c)[0], 0), c.dtype)
        context = tf.concat([c, attrs], -1)[:, None, :]
        inputs = tf.concat([tf.repeat(context, self.steps, axis=1), zf], -1)
        out = self.feature_gen(inputs, training=training)  # [N, steps, S * C]
        norm = tf.reshape(out, (-1, self.steps * self.S, self.C))[:, :self.L]
        if normalised:
            return norm, attrs
        if not self.auto:
            return norm
        mid, half = attrs[:, None, :self.C], attrs[:, None, self.C:]
        return tf.clip_by_value(mid - half + 2 * half * norm, 0.0, 1.0)

    def _whole(self, norm, attrs, c):
        return tf.concat([tf.reshape(norm, (-1, self.L * self.C)), attrs, c], -1)

    def _wgan_gp(self, critic, real, fake):
        """Critic loss with gradient penalty on random interpolates, and the distance."""
        alpha = keras.random.uniform((tf.shape(real)[0], 1), seed=self.seed_gen)
        mixed = alpha * real + (1 - alpha) * fake
        with tf.GradientTape() as tape:
            tape.watch(mixed)
            score = critic(mixed, training=True)
        grad = tape.gradient(score, mixed)
        gp = tf.reduce_mean(tf.square(tf.sqrt(tf.reduce_sum(tf.square(grad), -1) + 1e-12) - 1))
        w = tf.reduce_mean(critic(real, training=True)) - tf.reduce_mean(
            critic(fake, training=True))
        return -w + self.gp_weight * gp, gp, w

    def _noise(self, n):
        return (keras.random.normal((n, self.noise_dim), seed=self.seed_gen),
                keras.random.normal((n, self.steps, self.noise_dim), seed=self.seed_gen))

    def train_step(self, data):
        x, c = data
        n = tf.shape(x)[0]
        norm, attrs = auto_normalise(x) if self.auto else (x, tf.zeros((n, 0), x.dtype))
        real, real_aux = self._whole(norm, attrs, c), tf.concat([attrs, c], -1)
        fake_norm, fake_attrs = self.generate(*self._noise(n), c, training=True,
                                              normalised=True)
        fake = self._whole(fake_norm, fake_attrs, c)
        fake_aux = tf.concat([fake_attrs, c], -1)
        with tf.GradientTape() as tape:
            d_loss, gp, w = self._wgan_gp(self.critic, real, fake)
            aux_loss = tf.constant(0.0)
            if self.auto:
                aux_loss, _, _ = self._wgan_gp(self.aux_critic, real_aux, fake_aux)
            loss = d_loss + self.aux_weight * aux_loss
        self._apply("critic", tape, loss)
        with tf.GradientTape() as tape:
            fake_norm, fake_attrs = self.generate(*self._noise(n), c, training=True,
                                                  normalised=True)
            g_loss = -tf.reduce_mean(self.critic(self._whole(fake_norm, fake_attrs, c),
                                                 training=True))
            if self.auto:
                g_loss -= self.aux_weight * tf.reduce_mean(
                    self.aux_critic(tf.concat([fake_attrs, c], -1), training=True))
        self._apply("generator", tape, g_loss)
        return self.report({"d_loss": d_loss, "aux_loss": aux_loss, "gp": gp,
                            "g_loss": g_loss, "w_distance": w})


class DoppelGANger(NeuralSynthesizer):
    """See the module docstring. noise_dim (per LSTM step and for the attributes), hidden
    (LSTM width), attr_hidden, critic_hidden, sample_len (time steps per LSTM step),
    gp_weight, aux_weight, auto_normalise, epochs, batch_size, learning_rate (Adam, beta_1 =
    0.5 as in the paper's code), random_state, loss_log, verbose. Defaults: the paper's network
    sizes (LSTM 100 units, attribute MLP 100, critics 200 wide; noise of 5; batch 100; learning
    rate 1e-3; gradient-penalty weight 10; auxiliary weight 1; auto-normalised)."""

    def __init__(self, noise_dim: int = 5, hidden: int = 100, attr_hidden: int = 100,
                 critic_hidden: int = 200, sample_len: int = 4, gp_weight: float = 10.0,
                 aux_weight: float = 1.0, auto_normalise: bool = True, epochs: int = 300,
                 batch_size: int = 100, learning_rate: float = 1e-3, random_state: int | None = 0,
                 loss_log: str | None = None, verbose: int = 0):
        self.noise_dim = noise_dim
        self.hidden = hidden
        self.attr_hidden = attr_hidden
        self.critic_hidden = critic_hidden
        self.sample_len = sample_len
        self.gp_weight = gp_weight
        self.aux_weight = aux_weight
        self.auto_normalise = auto_normalise
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.random_state = random_state
        self.loss_log = loss_log
        self.verbose = verbose

    def _build(self):
        L, C = self.window_shape_
        if int(self.sample_len) != self.sample_len or not 1 <= self.sample_len <= L:
            raise ValueError(f"DoppelGANger: sample_len must be an integer in [1, {L}] (the "
                             f"window length), got {self.sample_len!r}")
        model = DoppelGANgerModel(
            L, C, len(self.classes_), noise_dim=self.noise_dim, hidden=self.hidden,
            attr_hidden=self.attr_hidden, critic_hidden=self.critic_hidden,
            sample_len=int(self.sample_len), gp_weight=self.gp_weight,
            aux_weight=self.aux_weight, auto_normalise=self.auto_normalise,
            seed=self.random_state)
        model.compile({k: keras.optimizers.Adam(self.learning_rate, beta_1=0.5)
                       for k in ("generator", "critic")})
        model.build_all()
        return model

    def _generate(self, cond):
        n, rng = len(cond), self._rng()
        za = rng.normal(size=(n, self.noise_dim)).astype(np.float32)
        zf = rng.normal(size=(n, self.model_.steps, self.noise_dim)).astype(np.float32)
        return self.model_.generate(za, zf, cond)
