"""Anomaly detectors with one interface, scikit-learn / PyOD style: ``make(name, **params)``;
``.fit(X[T, C], y=None)`` and ``.fit_windows(windows[N, L, C], labels=None)`` return the
detector; ``.decision_function(X[T, C])`` returns float64[T], higher = more anomalous (PyOD's
convention); ``.score_windows(windows)`` one score per window; ``uses_labels`` says whether
labels are learned from. Parameters are stored in ``__init__``, learned state ends in ``_``
(``get_params``/``set_params``, ``sklearn.base.clone``, ``random_state``); a refit starts from
scratch. See :mod:`tsad_helpers.detectors.base` for the contract.

Registered: ``transformer_ae_gan`` (masked, contrastive, adversarial Transformer
autoencoder), ``lstm_ae``, ``cnn_forecaster`` (next-step forecast error),
``window_classifier`` (supervised), ``iforest``, ``pca``, ``arima``, ``garch`` and
``prophet`` (per-channel statistical models: statsmodels, arch, Prophet; Prophet scores
series in time, not windows), ``random``. The Keras ones import TensorFlow only when made.
"""

from __future__ import annotations

from ..registry import Registry
from .base import Detector

REGISTRY = Registry(__name__, "detector", {
    "transformer_ae_gan": "transformer:TransformerAEGAN",
    "lstm_ae": "lstm:LSTMAutoencoder",
    "cnn_forecaster": "forecaster:CNNForecaster",
    "window_classifier": "classifier:WindowClassifier",
    "iforest": "classic:IsolationForestDetector",
    "pca": "classic:PCADetector",
    "arima": "statistical:ARIMADetector",
    "garch": "statistical:GARCHDetector",
    "prophet": "statistical:ProphetDetector",
    "random": "classic:RandomDetector",
})


detector_class = REGISTRY.get  # name -> class
make = REGISTRY.make  # make(name, **params): a new, unfitted detector; no params: the defaults

__all__ = ["Detector", "REGISTRY", "detector_class", "make"]
