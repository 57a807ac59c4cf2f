"""The generator base class: input validation, label bookkeeping and the per-channel
min-max scaling that the neural generators work in."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator

from ..registry import drop_fitted_state


CLASS_NAMES = {0: "normal", 1: "anomalous"}  # window labels


class Synthesizer(BaseEstimator):
    """Base class. Subclasses implement ``_fit(x, y)`` on validated float32 windows
    x [N, L, C] with labels y int64[N] (all 0 when none were given) and ``_sample(n, label)``
    returning [n, L, C] for one class ``label`` (an element of ``classes_``).

    ``conditional_`` is True when ``fit`` got labels; ``sample(n, label=None)`` then draws
    the classes in their training proportions (fixed by ``random_state``), and ``label`` must
    be one of ``classes_``. A generator fitted without labels accepts only ``label=None``."""

    def _rng(self) -> np.random.Generator:
        """The sampling generator: seeded from ``random_state`` by every fit, advanced by every
        draw (so successive ``sample`` calls give new windows, and a refit starts over)."""
        return self.rng_

    def fit(self, windows, labels=None):
        """Fit on windows [N, L, C] (and, optionally, one label per window); returns self."""
        name = type(self).__name__
        x = np.asarray(windows)
        if x.ndim != 3:
            raise ValueError(f"{name}.fit: expected windows of shape [N, L, C], got shape "
                             f"{x.shape}")
        if not np.issubdtype(x.dtype, np.number):
            raise ValueError(f"{name}.fit: expected numbers, got dtype {x.dtype}")
        if min(x.shape) == 0:
            raise ValueError(f"{name}.fit: empty windows of shape {x.shape}")
        bad = ~np.isfinite(x)
        if bad.any():
            i, t, c = np.argwhere(bad)[0]
            raise ValueError(f"{name}.fit: {int(bad.sum())} NaN/inf values (first in window {i}, "
                             f"step {t}, channel {c})")
        drop_fitted_state(self)  # nothing survives a refit
        if labels is None:
            y = np.zeros(len(x), dtype=np.int64)
            self.conditional_ = False
        else:
            y = np.asarray(labels)
            if y.shape != (len(x),):
                raise ValueError(f"{name}.fit: labels of shape {y.shape} for {len(x)} windows "
                                 f"(expected one label per window)")
            if not np.issubdtype(y.dtype, np.integer) and not np.all(np.mod(y, 1) == 0):
                raise ValueError(f"{name}.fit: labels must be integers, got {y.dtype}")
            y = y.astype(np.int64)
            self.conditional_ = True
        self.classes_, counts = np.unique(y, return_counts=True)
        self.class_weights_ = counts / counts.sum()
        self.window_shape_ = x.shape[1:]
        self.rng_ = np.random.default_rng(self.random_state)
        self._fit(x.astype(np.float32), y)
        return self

    def sample(self, n: int, label=None) -> np.ndarray:
        """``n`` synthetic windows float32[n, L, C] of class ``label`` (None: classes in
        their training proportions)."""
        name = type(self).__name__
        if not hasattr(self, "window_shape_"):
            raise RuntimeError(f"{name} is not fitted: call fit(windows) first")
        if int(n) != n or n < 0:
            raise ValueError(f"{name}.sample: n must be a non-negative integer, got {n!r}")
        n = int(n)
        if label is not None:
            if not self.conditional_:
                raise ValueError(f"{name}.sample: label={label!r}, but the generator was "
                                 "fitted without labels")
            if label not in self.classes_:
                raise ValueError(f"{name}.sample: label={label!r} not among the training "
                                 f"labels {self.classes_.tolist()}")
            return self._checked(self._sample(n, int(label)), n)
        counts = self._rng().multinomial(n, self.class_weights_)
        parts = [self._sample(int(k), int(c)) for c, k in zip(self.classes_, counts) if k]
        out = np.concatenate(parts) if parts else np.zeros((0, *self.window_shape_))
        return self._checked(out[self._rng().permutation(len(out))], n)

    def _checked(self, out, n) -> np.ndarray:
        out = np.asarray(out, dtype=np.float32)
        assert out.shape == (n, *self.window_shape_), (out.shape, n, self.window_shape_)
        return out

    def _fit(self, x, y):  # pragma: no cover - abstract
        raise NotImplementedError

    def _sample(self, n, label):  # pragma: no cover - abstract
        raise NotImplementedError


class MinMaxWindows:
    """Per-channel min-max scaling of windows [N, L, C] to [0, 1] (the TimeGAN protocol),
    fitted on the training windows; constant channels map to 0.5."""

    def fit(self, x: np.ndarray) -> "MinMaxWindows":
        self.min_ = x.min(axis=(0, 1))
        span = x.max(axis=(0, 1)) - self.min_
        self.span_ = np.where(span > 0, span, 1.0)
        self.constant_ = span == 0
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        z = (x - self.min_) / self.span_
        z[..., self.constant_] = 0.5
        return z.astype(np.float32)

    def inverse(self, z: np.ndarray) -> np.ndarray:
        x = np.asarray(z, dtype=np.float64) * self.span_ + self.min_
        x[..., self.constant_] = self.min_[self.constant_]
        return x.astype(np.float32)
