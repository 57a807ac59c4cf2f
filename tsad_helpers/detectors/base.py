"""The detector base class: input validation and the windowed scoring loop shared by the
detectors that score windows."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator

from ..preprocessing import ChannelScaler, sliding_windows, window_starts, windows_to_points


class Detector(BaseEstimator):
    """Base class. Subclasses implement ``_fit(x)`` and ``_score(x)`` on validated,
    float64 [T, C] arrays; ``fit`` and ``score`` check the input first."""

    def _check(self, x, what: str, fitting: bool) -> np.ndarray:
        name = type(self).__name__
        x = np.asarray(x)
        if x.ndim == 1:
            raise ValueError(f"{name}.{what}: expected a 2-D array [T, C], got 1-D of length "
                             f"{len(x)} (use x[:, None] for one channel)")
        if x.ndim != 2:
            raise ValueError(f"{name}.{what}: expected a 2-D array [T, C], got shape {x.shape}")
        if not np.issubdtype(x.dtype, np.number):
            raise ValueError(f"{name}.{what}: expected numbers, got dtype {x.dtype}")
        if x.shape[0] == 0 or x.shape[1] == 0:
            raise ValueError(f"{name}.{what}: empty input of shape {x.shape}")
        bad = ~np.isfinite(x)
        if bad.any():
            row, col = np.argwhere(bad)[0]
            raise ValueError(f"{name}.{what}: {int(bad.sum())} NaN/inf values (first at row "
                             f"{row}, channel {col})")
        if not fitting:
            if not hasattr(self, "n_channels_"):
                raise RuntimeError(f"{name} is not fitted: call fit(train) first")
            if x.shape[1] != self.n_channels_:
                raise ValueError(f"{name}.{what}: {x.shape[1]} channels, but fitted on "
                                 f"{self.n_channels_}")
        return x.astype(np.float64, copy=False)

    def fit(self, train, y=None):
        """Fit on an anomaly-free (or mostly normal) series ``train`` [T, C]; returns self."""
        x = self._check(train, "fit", fitting=True)
        self.n_channels_ = x.shape[1]
        self._fit(x)
        return self

    def score(self, series) -> np.ndarray:
        """Anomaly score per time point of ``series`` [T, C]: float64[T]."""
        x = self._check(series, "score", fitting=False)
        out = np.asarray(self._score(x), dtype=np.float64)
        assert out.shape == (x.shape[0],)
        return out

    def _fit(self, x):  # pragma: no cover - abstract
        raise NotImplementedError

    def _score(self, x):  # pragma: no cover - abstract
        raise NotImplementedError


class WindowDetector(Detector):
    """A detector over sliding windows of ``window`` points: subclasses score a batch of
    flattened windows [N, window*C]; scores are spread back to points by averaging
    (:func:`~tsad_helpers.preprocessing.windows_to_points`). Series are scaled per channel
    with a standard scaler fitted on the training series. Windows are built ``batch`` at a
    time, so memory stays bounded on long series."""

    batch = 4096

    def _prepare(self, x: np.ndarray) -> np.ndarray:
        if x.shape[0] < self.window:
            raise ValueError(f"{type(self).__name__}: series of {x.shape[0]} points is shorter "
                             f"than window={self.window}")
        return self.scaler_.transform(x)

    def _fit_windows(self, x: np.ndarray) -> np.ndarray:
        """Scaled, flattened training windows with step ``fit_stride``."""
        self.scaler_ = ChannelScaler("standard").fit(x)
        z = self._prepare(x)
        return sliding_windows(z, self.window, self.fit_stride).reshape(-1, self.window * z.shape[1])

    def _score_windows_batched(self, z: np.ndarray, per_step: bool) -> np.ndarray:
        starts = window_starts(len(z), self.window, 1)
        view = np.lib.stride_tricks.sliding_window_view(z, self.window, axis=0)
        parts = []
        for i in range(0, len(starts), self.batch):
            idx = starts[i:i + self.batch]
            flat = view[idx].transpose(0, 2, 1).reshape(len(idx), -1)
            parts.append(self._window_scores(flat, per_step))
        return np.concatenate(parts)

    def _score(self, x):
        z = self._prepare(x)
        per_step = getattr(self, "per_step", False)
        scores = self._score_windows_batched(z, per_step)
        return windows_to_points(scores, len(z), self.window, 1, reduce="mean")

    def _window_scores(self, flat: np.ndarray, per_step: bool) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError
