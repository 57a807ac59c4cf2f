"""Baselines: isolation forest and PCA over flattened, standardised windows, and seeded random
scores. Windows [L, C] are flattened to L*C features."""

from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest

from .base import Detector


def _flat(z: np.ndarray) -> np.ndarray:
    return z.reshape(len(z), -1)


class IsolationForestDetector(Detector):
    """Isolation forest (Liu et al. 2008) on flattened, standardised windows.

    window: points per window; fit_stride: step between training windows; n_estimators,
    max_samples: as in scikit-learn; score of a window = the negated ``score_samples``,
    averaged over the windows that cover a point. Defaults: the detector benchmark's (paper
    profile) settings."""

    def __init__(self, window: int = 16, fit_stride: int = 1, n_estimators: int = 200,
                 max_samples: int | str = 256, random_state: int | None = 0):
        self.window = window
        self.fit_stride = fit_stride
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.random_state = random_state

    def _fit_windows(self, z, labels, validation):
        flat = _flat(z)
        max_samples = self.max_samples
        if isinstance(max_samples, int):
            max_samples = min(max_samples, len(flat))
        self.forest_ = IsolationForest(n_estimators=self.n_estimators, max_samples=max_samples,
                                       random_state=self.random_state, n_jobs=1).fit(flat)

    def _window_scores(self, batch):
        return -self.forest_.score_samples(_flat(batch))


class PCADetector(Detector):
    """PCA reconstruction error over flattened, standardised windows.

    n_components: int, or a float in (0, 1) for the share of variance kept; the score of a
    window step is the squared reconstruction error of its channels (mean over channels); a
    point's score is the mean over the windows that cover it."""

    def __init__(self, window: int = 16, fit_stride: int = 1, n_components: float | int = 0.9,
                 random_state: int | None = 0):
        self.window = window
        self.fit_stride = fit_stride
        self.n_components = n_components
        self.random_state = random_state

    def _fit_windows(self, z, labels, validation):
        flat = _flat(z)
        n_components = self.n_components
        if isinstance(n_components, int):
            n_components = min(n_components, *flat.shape)
        self.pca_ = PCA(n_components=n_components, random_state=self.random_state).fit(flat)

    def _window_scores(self, batch):
        flat = _flat(batch)
        err = (flat - self.pca_.inverse_transform(self.pca_.transform(flat))) ** 2
        return err.reshape(batch.shape).mean(axis=2)


class RandomDetector(Detector):
    """Uniform random scores, seeded: the baseline that exposes point-adjustment inflation.
    Windows of one point, so each point gets its own draw; every scored series restarts the
    generator from ``random_state``."""

    window = 1
    fit_stride = 1
    scaling = None

    def __init__(self, random_state: int | None = 0):
        self.random_state = random_state

    def _fit_windows(self, z, labels, validation):
        self._start_scoring()

    def _start_scoring(self):
        self.rng_ = np.random.default_rng(self.random_state)

    def _window_scores(self, batch):
        return self.rng_.random(len(batch))
