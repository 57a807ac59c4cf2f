"""``transformer_ae_gan``: a masked, contrastive, adversarial Transformer autoencoder.

After Miao et al., "Reconstruction-based anomaly detection for multivariate time series using
contrastive generative adversarial networks", Information Processing & Management 61(1), 2024
(no official code; this is our reading of the paper):

- augmentation: geometric-distribution masks (Zerveas et al., KDD 2021): per channel,
  alternating masked / unmasked runs with mean masked length ``mask_length`` and masking
  ratio ``mask_ratio``; masked values are set to 0 (the training mean after scaling);
- a Transformer encoder (input projection, sinusoidal positional encoding, multi-head
  self-attention and feed-forward blocks), a bottleneck (``"global"``: ``latent_dim`` numbers
  per window; ``"step"``: per time step; None: none, and the attention stack then learns to
  copy its input, anomalies included) and a Transformer decoder stack reconstruct the clean
  window from the masked one (mean squared error, ``rec_loss``);
- a contrastive loss: NT-Xent between the pooled encodings of two masked views of the same
  window, the other windows of the batch being negatives (``con_loss``, weight
  ``contrastive_weight``, temperature ``temperature``);
- a discriminator tells real windows from reconstructions (``disc_loss``); the autoencoder is
  trained to fool it (``adv_loss``, weight ``adversarial_weight``).

The whole model is a ``keras.Model`` with a custom ``train_step`` (two optimizers), so
``fit``, callbacks (early stopping on ``val_rec_loss``, CSV logging of every loss) and
progress bars work unchanged. ``masking``, ``contrastive`` and ``adversarial`` switch the
three parts on or off; all three are off by default (chosen on the development set, see
:class:`TransformerAEGAN`), so the default model is a plain Transformer autoencoder. The anomaly score is the reconstruction error; with masking
on and ``score_masks = K > 0`` each window is reconstructed under K complementary masks and
every entry is scored while it is hidden (predicted from its context), else the plain
reconstruction of the unmasked window is used. ``discriminator_weight`` > 0 blends in the
discriminator's "reconstruction-like" probability of the input window.
"""

from __future__ import annotations

import numpy as np

from ..keras_tools import TrackedModel, keras, tf
from .deep import ReconstructionDetector


def geometric_masks(n: int, length: int, channels: int, ratio: float, mean_length: float,
                    rng: np.random.Generator) -> np.ndarray:
    """Boolean masks [n, length, channels] (True = masked) from the two-state Markov chain of
    Zerveas et al.: masked runs have geometric lengths with mean ``mean_length``, unmasked
    runs mean ``mean_length * (1 - ratio) / ratio``; the start state is drawn so that each
    point is masked with probability ``ratio``. Channels are independent."""
    if not 0 < ratio < 1 or mean_length <= 0:
        raise ValueError(f"mask ratio must be in (0, 1) and mean length > 0, got {ratio}, "
                         f"{mean_length}")
    p_leave_masked = 1 / mean_length
    p_leave_unmasked = p_leave_masked * ratio / (1 - ratio)
    state = rng.random((n, channels)) < ratio
    out = np.empty((n, length, channels), dtype=bool)
    flips = rng.random((n, length, channels))
    for t in range(length):
        out[:, t] = state
        change = np.where(state, flips[:, t] < p_leave_masked, flips[:, t] < p_leave_unmasked)
        state = state ^ change
    return out


def _positional_encoding(length: int, d: int):
    pos = np.arange(length)[:, None]
    i = np.arange(d)[None, :]
    angle = pos / np.power(10000, (2 * (i // 2)) / d)
    pe = np.where(i % 2 == 0, np.sin(angle), np.cos(angle))
    return tf.constant(pe[None], dtype=tf.float32)


def _transformer_block(x, name, heads, d, ff_dim, dropout):
    layers = keras.layers
    attn = layers.MultiHeadAttention(heads, d // heads, dropout=dropout, name=f"{name}_attn")(x, x)
    x = layers.LayerNormalization(epsilon=1e-6, name=f"{name}_ln1")(x + attn)
    ff = layers.Dense(ff_dim, activation="gelu", name=f"{name}_ff1")(x)
    ff = layers.Dropout(dropout)(layers.Dense(d, name=f"{name}_ff2")(ff))
    return layers.LayerNormalization(epsilon=1e-6, name=f"{name}_ln2")(x + ff)


def build_networks(window, channels, d_model, heads, ff_dim, dropout, encoder_layers,
                   decoder_layers, bottleneck, latent_dim, projection_dim):
    """The four sub-networks: (encoder, decoder, projector, discriminator)."""
    layers = keras.layers
    L, C, d = window, channels, d_model
    block = dict(heads=heads, d=d, ff_dim=ff_dim, dropout=dropout)
    pe = _positional_encoding(L, d)
    inp = keras.Input((L, C))
    h = layers.Dense(d, name="enc_in")(inp) + pe
    for k in range(encoder_layers):
        h = _transformer_block(h, f"enc{k}", **block)
    if bottleneck == "step":  # the decoder sees latent_dim numbers per step
        h = layers.Dense(latent_dim, name="bottleneck")(h)
        code_shape = (L, latent_dim)
    elif bottleneck == "global":  # the decoder sees latent_dim numbers per window
        h = layers.Dense(latent_dim, name="bottleneck")(layers.Flatten()(h))
        code_shape = (latent_dim,)
    else:
        code_shape = (L, d)
    encoder = keras.Model(inp, h, name="encoder")

    code = keras.Input(code_shape)
    if bottleneck == "global":
        g = layers.Reshape((L, d))(layers.Dense(L * d, name="dec_in")(code)) + pe
    else:
        g = layers.Dense(d, name="dec_in")(code) + pe
    for k in range(decoder_layers):
        g = _transformer_block(g, f"dec{k}", **block)
    decoder = keras.Model(code, layers.Dense(C, name="dec_out")(g), name="decoder")

    pooled = keras.Input(code_shape)
    z = layers.GlobalAveragePooling1D()(pooled) if len(code_shape) == 2 else pooled
    z = layers.Dense(d, activation="relu")(z)
    projector = keras.Model(pooled, layers.Dense(projection_dim)(z), name="projector")

    win = keras.Input((L, C))
    q = layers.Conv1D(d, 5, padding="same", activation="leaky_relu")(win)
    q = layers.Conv1D(d, 5, strides=2, padding="same", activation="leaky_relu")(q)
    q = layers.GlobalAveragePooling1D()(q)
    discriminator = keras.Model(win, layers.Dense(1)(q), name="discriminator")
    return encoder, decoder, projector, discriminator


def nt_xent(z1, z2, temperature):
    """NT-Xent (SimCLR) between two batches of projections: each row's positive is the same
    row of the other view, every other row of both views is a negative."""
    z1 = tf.math.l2_normalize(z1, axis=1)
    z2 = tf.math.l2_normalize(z2, axis=1)
    z = tf.concat([z1, z2], axis=0)
    n = tf.shape(z1)[0]
    sim = tf.matmul(z, z, transpose_b=True) / temperature
    sim = sim - 1e9 * tf.eye(2 * n)  # a view is not its own negative
    targets = tf.concat([tf.range(n, 2 * n), tf.range(0, n)], axis=0)
    return tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(
        targets, sim, from_logits=True))


class AEGAN(TrackedModel):
    """Encoder, decoder, projection head and discriminator with a custom ``train_step``: masked
    reconstruction, the contrastive loss between two masked views, the adversarial loss
    against the discriminator, and one discriminator step per batch (two optimizers)."""

    def __init__(self, encoder, decoder, projector, discriminator, mask_bank, masking=True,
                 contrastive=True, adversarial=True, contrastive_weight=0.1,
                 adversarial_weight=0.01, temperature=0.5, mask_share=1.0,
                 rec_target="window", seed=None, **kwargs):
        super().__init__(("loss", "rec_loss", "con_loss", "adv_loss", "disc_loss"), **kwargs)
        self.encoder, self.decoder = encoder, decoder
        self.projector, self.discriminator = projector, discriminator
        self.mask_bank = tf.constant(mask_bank.astype(np.float32))
        self.masking, self.contrastive, self.adversarial = masking, contrastive, adversarial
        self.contrastive_weight = contrastive_weight
        self.adversarial_weight = adversarial_weight
        self.temperature = temperature
        self.mask_share, self.rec_target = mask_share, rec_target
        self.seed_gen = keras.random.SeedGenerator(seed)

    def call(self, x, training=False):
        return self.decoder(self.encoder(x, training=training), training=training)

    def build_all(self, x):
        h = self.encoder(x)
        self.decoder(h)
        self.projector(h)
        self.discriminator(x)

    def _mask(self, x):
        """A training mask per window [B, L, C] (1 = hidden): one of the bank, or none for a
        window left unmasked (probability 1 - ``mask_share``)."""
        n = tf.shape(x)[0]
        idx = keras.random.randint((n,), 0, self.mask_bank.shape[0], seed=self.seed_gen)
        mask = tf.gather(self.mask_bank, idx)
        if self.mask_share < 1:
            keep = keras.random.uniform((n, 1, 1), seed=self.seed_gen) < self.mask_share
            mask = mask * tf.cast(keep, mask.dtype)
        return mask

    def _masked(self, x):
        if not self.masking:
            return x
        return x * (1.0 - self._mask(x))

    def train_step(self, x):
        bce = keras.losses.BinaryCrossentropy(from_logits=True)
        gen_vars = self.encoder.trainable_variables + self.decoder.trainable_variables
        if self.contrastive:
            gen_vars = gen_vars + self.projector.trainable_variables
        with tf.GradientTape() as tape:
            if self.masking:
                mask = self._mask(x)
                h1 = self.encoder(x * (1.0 - mask), training=True)
            else:
                h1 = self.encoder(x, training=True)
            recon = self.decoder(h1, training=True)
            if self.masking and self.rec_target == "masked":
                # only the hidden entries are targets (Zerveas et al.'s objective)
                rec = tf.reduce_sum(tf.square(recon - x) * mask) / tf.maximum(
                    tf.reduce_sum(mask), 1.0)
            else:
                rec = tf.reduce_mean(tf.square(recon - x))
            loss = rec
            con = tf.constant(0.0)
            adv = tf.constant(0.0)
            if self.contrastive:
                h2 = self.encoder(self._masked(x), training=True)
                con = nt_xent(self.projector(h1, training=True),
                              self.projector(h2, training=True), self.temperature)
                loss = loss + self.contrastive_weight * con
            if self.adversarial:
                fake = self.discriminator(recon, training=False)
                adv = bce(tf.ones_like(fake), fake)
                loss = loss + self.adversarial_weight * adv
        grads = tape.gradient(loss, gen_vars)
        self.optimizers["generator"].apply_gradients(zip(grads, gen_vars))
        disc = tf.constant(0.0)
        if self.adversarial:
            with tf.GradientTape() as dtape:
                real = self.discriminator(x, training=True)
                fake = self.discriminator(tf.stop_gradient(recon), training=True)
                disc = bce(tf.ones_like(real), real) + bce(tf.zeros_like(fake), fake)
            dvars = self.discriminator.trainable_variables
            grads = dtape.gradient(disc, dvars)
            self.optimizers["discriminator"].apply_gradients(zip(grads, dvars))
        return self.report({"loss": loss, "rec_loss": rec, "con_loss": con, "adv_loss": adv,
                            "disc_loss": disc})

    def test_step(self, x):
        rec = tf.reduce_mean(tf.square(self(x, training=False) - x))
        return self.report({"rec_loss": rec})


class TransformerAEGAN(ReconstructionDetector):
    """The flagship detector (see the module docstring). Defaults are the detector benchmark's
    (paper profile) settings; ``tsad_helpers.profiles`` holds each profile's.

    Masking, the contrastive and the adversarial parts are off by default: chosen on the
    development set (ASD, benchmarks/results/flagship_sweep_asd.md), the plain Transformer
    autoencoder beat the published combination by .072 VUS-PR (11 of 12 entities, Wilcoxon
    p < 0.01), and each part added back alone lowered it (masking by .089, p < 0.01; the
    contrastive term by .033, p = 0.06; the adversarial term by .004, p = 0.20). Switch them on
    (``masking=True, contrastive=True, adversarial=True``) for the published method."""

    def __init__(self, window: int = 32, fit_stride: int = 2, scaling: str = "minmax",
                 normalize_errors: bool = True, d_model: int = 32,
                 heads: int = 4, encoder_layers: int = 2, decoder_layers: int = 1,
                 ff_dim: int = 64, dropout: float = 0.1, bottleneck: str | None = "global",
                 latent_dim: int = 32,
                 projection_dim: int = 32,
                 masking: bool = False, mask_ratio: float = 0.15, mask_length: float = 3.0,
                 mask_bank: int = 4096, mask_share: float = 1.0, rec_target: str = "window",
                 contrastive: bool = False,
                 contrastive_weight: float = 0.1, temperature: float = 0.5,
                 adversarial: bool = False, adversarial_weight: float = 0.01,
                 discriminator_weight: float = 0.0, score_masks: int = 6,
                 point_score: str = "mean", channel_score: str = "mean",
                 batch_size: int = 64, epochs: int = 30, patience: int = 4,
                 min_rel_delta: float = 1e-4,
                 learning_rate: float = 1e-3,
                 validation_fraction: float = 0.1, random_state: int | None = 0,
                 loss_log: str | None = None, verbose: int = 0, jit_compile: bool = False):
        self.window = window
        self.fit_stride = fit_stride
        self.scaling = scaling
        self.normalize_errors = normalize_errors
        self.d_model = d_model
        self.heads = heads
        self.encoder_layers = encoder_layers
        self.decoder_layers = decoder_layers
        self.ff_dim = ff_dim
        self.dropout = dropout
        self.bottleneck = bottleneck
        self.latent_dim = latent_dim
        self.projection_dim = projection_dim
        self.masking = masking
        self.mask_ratio = mask_ratio
        self.mask_length = mask_length
        self.mask_bank = mask_bank
        self.mask_share = mask_share
        self.rec_target = rec_target
        self.contrastive = contrastive
        self.contrastive_weight = contrastive_weight
        self.temperature = temperature
        self.adversarial = adversarial
        self.adversarial_weight = adversarial_weight
        self.discriminator_weight = discriminator_weight
        self.score_masks = score_masks
        self.point_score = point_score
        self.channel_score = channel_score
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
        if self.bottleneck not in (None, "step", "global"):
            raise ValueError(f"bottleneck must be None, 'step' or 'global', got {self.bottleneck!r}")
        if not 0 < self.mask_share <= 1:
            raise ValueError(f"mask_share must be in (0, 1], got {self.mask_share}")
        if self.rec_target not in ("window", "masked"):
            raise ValueError(f"rec_target must be 'window' or 'masked', got {self.rec_target!r}")
        if self.d_model % self.heads:
            raise ValueError(f"d_model={self.d_model} must be divisible by heads={self.heads}")
        networks = build_networks(
            self.window, self.n_channels_, self.d_model, self.heads, self.ff_dim, self.dropout,
            self.encoder_layers, self.decoder_layers, self.bottleneck, self.latent_dim,
            self.projection_dim)
        bank = geometric_masks(self.mask_bank, self.window, self.n_channels_, self.mask_ratio,
                               self.mask_length, np.random.default_rng(self.random_state))
        model = AEGAN(*networks, bank, masking=self.masking, contrastive=self.contrastive,
                      adversarial=self.adversarial, contrastive_weight=self.contrastive_weight,
                      adversarial_weight=self.adversarial_weight, temperature=self.temperature,
                      mask_share=self.mask_share, rec_target=self.rec_target,
                      seed=self.random_state)
        model.compile({"generator": keras.optimizers.Adam(self.learning_rate),
                       "discriminator": keras.optimizers.Adam(self.learning_rate)},
                      jit_compile=self.jit_compile)
        model.build_all(np.zeros((1, self.window, self.n_channels_), dtype=np.float32))
        return model

    def _scoring_masks(self) -> np.ndarray:
        """``score_masks`` complementary masks [K, L, C]: entry (t, c) is masked in exactly one
        of them, in runs of ``mask_length`` steps shifted per channel, so each covers about
        1/K of the window, like the training masks."""
        k, L, C = self.score_masks, self.window, self.n_channels_
        run = max(int(round(self.mask_length)), 1)
        phase = (np.arange(L)[:, None] + run * np.arange(C)[None, :]) // run % k
        return np.stack([phase == i for i in range(k)]).astype(np.float32)

    def _channel_errors(self, batch):
        if not (self.masking and self.score_masks):
            return super()._channel_errors(batch)
        # masked scoring: every entry is predicted from its context while hidden, so an
        # anomaly cannot simply be copied through
        err = np.zeros(batch.shape)
        for mask in self._scoring_masks():
            err += ((batch - self._predict(batch * (1 - mask))) ** 2) * mask
        return err

    def _window_scores(self, batch):
        err = super()._window_scores(batch)
        if not self.discriminator_weight:
            return err
        logits = self.model_.discriminator(batch, training=False)
        fake = 1.0 - np.asarray(tf.sigmoid(logits))[:, 0]  # low "real" probability = anomalous
        return (1 - self.discriminator_weight) * err + self.discriminator_weight * fake[:, None]
