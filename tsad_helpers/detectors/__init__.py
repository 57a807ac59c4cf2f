"""Anomaly detectors with one interface: ``make(name, **params)``, ``.fit(train[T, C])``
returning the detector, ``.score(series[T, C])`` returning float64[T] (higher = more
anomalous). They follow scikit-learn's estimator contract (parameters stored in ``__init__``,
learned state ending in ``_``, ``get_params``/``set_params``, ``random_state``).

Registered: ``iforest``, ``pca``, ``random`` (the deep detectors ``transformer_ae_gan`` and
``lstm_ae`` join this registry in their own issue).
"""

from __future__ import annotations

from .base import Detector
from .classic import IsolationForestDetector, PCADetector, RandomDetector

REGISTRY: dict[str, type[Detector]] = {
    "iforest": IsolationForestDetector,
    "pca": PCADetector,
    "random": RandomDetector,
}


def make(name: str, **params) -> Detector:
    """A new, unfitted detector ``name`` with ``params``."""
    if name not in REGISTRY:
        raise ValueError(f"unknown detector {name!r}; known: {', '.join(sorted(REGISTRY))}")
    try:
        return REGISTRY[name](**params)
    except TypeError as exc:
        raise ValueError(f"bad parameters for detector {name!r}: {exc}") from None


__all__ = ["Detector", "REGISTRY", "make"]
