"""Generators of synthetic windows with one interface: ``make(name, **params)``,
``.fit(windows[N, L, C], labels[N] | None)`` returning the generator, ``.sample(n, label=None)``
returning float32[n, L, C]. They follow scikit-learn's estimator contract (parameters stored in
``__init__``, learned state ending in ``_``, ``random_state``).

Registered: ``timegan`` (Yoon et al. 2019, optionally behind a PCA projection), ``wgan_gp``
(conditional Wasserstein GAN with gradient penalty), ``vae`` (TimeVAE-style, conditional),
``injection`` (typed anomalies injected into real normal windows), ``smote`` and
``oversample`` (imbalanced-learn over flattened windows). The Keras ones import TensorFlow
only when made.
"""

from __future__ import annotations

from ..registry import build, lookup
from .base import Synthesizer

REGISTRY: dict[str, str] = {  # name -> "module:Class", imported on first use
    "timegan": "timegan:TimeGAN",
    "wgan_gp": "wgan:WGANGP",
    "vae": "vae:TimeVAE",
    "injection": "injection:AnomalyInjector",
    "smote": "resampling:SMOTESynthesizer",
    "oversample": "resampling:RandomOversampler",
}


def synthesizer_class(name: str) -> type[Synthesizer]:
    return lookup(REGISTRY, __name__, "generator", name)


def make(name: str, **params) -> Synthesizer:
    """A new, unfitted generator ``name`` with ``params``."""
    return build(synthesizer_class(name), "generator", name, params)


__all__ = ["Synthesizer", "REGISTRY", "synthesizer_class", "make"]
