"""Generators of synthetic windows with one interface: ``make(name, **params)``,
``.fit(windows[N, L, C], labels[N] | None)`` returning the generator, ``.sample(n, label=None)``
returning float32[n, L, C]. They follow scikit-learn's estimator contract (parameters stored in
``__init__``, learned state ending in ``_``, ``random_state``).

Registered: ``timegan`` (Yoon et al. 2019, optionally behind a PCA projection), ``wgan_gp``
(conditional Wasserstein GAN with gradient penalty), ``doppelganger`` (Lin et al. 2020: an
LSTM emitting several steps at a time, auto-normalised windows, an auxiliary critic),
``vae`` (TimeVAE-style, conditional),
``injection`` (typed anomalies injected into real normal windows), ``smote`` and
``oversample`` (imbalanced-learn over flattened windows). The Keras ones import TensorFlow
only when made. A refit starts from scratch: every fitted attribute is dropped first.
"""

from __future__ import annotations

from ..registry import Registry
from .base import Synthesizer

REGISTRY = Registry(__name__, "generator", {
    "timegan": "timegan:TimeGAN",
    "wgan_gp": "wgan:WGANGP",
    "doppelganger": "doppelganger:DoppelGANger",
    "vae": "vae:TimeVAE",
    "injection": "injection:AnomalyInjector",
    "smote": "resampling:SMOTESynthesizer",
    "oversample": "resampling:RandomOversampler",
})


synthesizer_class = REGISTRY.get  # name -> class
make = REGISTRY.make  # make(name, **params): a new, unfitted generator; no params: the defaults

__all__ = ["Synthesizer", "REGISTRY", "synthesizer_class", "make"]
