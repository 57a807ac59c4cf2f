"""Anomaly detectors with one interface: ``make(name, **params)``, ``.fit(train[T, C])``
returning the detector, ``.score(series[T, C])`` returning float64[T] (higher = more
anomalous). They follow scikit-learn's estimator contract (parameters stored in ``__init__``,
learned state ending in ``_``, ``get_params``/``set_params``, ``random_state``).

Registered: ``transformer_ae_gan`` (masked, contrastive, adversarial Transformer
autoencoder), ``lstm_ae``, ``iforest``, ``pca``, ``random``. The deep ones import TensorFlow
only when made.
"""

from __future__ import annotations

from ..registry import build, lookup
from .base import Detector

REGISTRY: dict[str, str] = {  # name -> "module:Class", imported on first use
    "transformer_ae_gan": "transformer:TransformerAEGAN",
    "lstm_ae": "lstm:LSTMAutoencoder",
    "iforest": "classic:IsolationForestDetector",
    "pca": "classic:PCADetector",
    "random": "classic:RandomDetector",
}


def detector_class(name: str) -> type[Detector]:
    return lookup(REGISTRY, __name__, "detector", name)


def make(name: str, **params) -> Detector:
    """A new, unfitted detector ``name`` with ``params``."""
    return build(detector_class(name), "detector", name, params)


__all__ = ["Detector", "REGISTRY", "detector_class", "make"]
