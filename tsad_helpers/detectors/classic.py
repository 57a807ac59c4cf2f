"""Baselines: isolation forest and PCA over sliding windows, and seeded random scores."""

from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest

from .base import Detector, WindowDetector


class IsolationForestDetector(WindowDetector):
    """Isolation forest (Liu et al. 2008) on flattened, standardised windows.

    window: points per window; fit_stride: step between training windows; n_estimators,
    max_samples: as in scikit-learn; score = the negated ``score_samples`` of each window,
    averaged over the windows that cover a point."""

    def __init__(self, window: int = 16, fit_stride: int = 1, n_estimators: int = 100,
                 max_samples: int | str = 256, random_state: int | None = 0):
        self.window = window
        self.fit_stride = fit_stride
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.random_state = random_state

    def _fit(self, x):
        flat = self._fit_windows(x)
        self.forest_ = IsolationForest(n_estimators=self.n_estimators,
                                       max_samples=min(self.max_samples, len(flat))
                                       if isinstance(self.max_samples, int) else self.max_samples,
                                       random_state=self.random_state, n_jobs=1).fit(flat)

    def _window_scores(self, flat, per_step):
        return -self.forest_.score_samples(flat)


class PCADetector(WindowDetector):
    """PCA reconstruction error over flattened, standardised windows.

    n_components: int, or a float in (0, 1) for the share of variance kept; the score of a
    point is the squared reconstruction error of its channels, averaged over the windows that
    cover it."""

    per_step = True

    def __init__(self, window: int = 16, fit_stride: int = 1, n_components: float | int = 0.9,
                 random_state: int | None = 0):
        self.window = window
        self.fit_stride = fit_stride
        self.n_components = n_components
        self.random_state = random_state

    def _fit(self, x):
        flat = self._fit_windows(x)
        n_components = self.n_components
        if isinstance(n_components, int):
            n_components = min(n_components, *flat.shape)
        self.pca_ = PCA(n_components=n_components, random_state=self.random_state).fit(flat)

    def _window_scores(self, flat, per_step):
        recon = self.pca_.inverse_transform(self.pca_.transform(flat))
        err = (flat - recon) ** 2
        return err.reshape(len(flat), self.window, -1).mean(axis=2)


class RandomDetector(Detector):
    """Uniform random scores, seeded: the baseline that exposes point-adjustment inflation."""

    def __init__(self, random_state: int | None = 0):
        self.random_state = random_state

    def _fit(self, x):
        pass

    def _score(self, x):
        return np.random.default_rng(self.random_state).random(len(x))
