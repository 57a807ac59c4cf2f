"""Classical resampling baselines over flattened windows, from imbalanced-learn:
``smote`` (Chawla et al. 2002: a new window interpolates between a training window and one
of its ``k_neighbors`` nearest windows of the same class) and ``oversample`` (random
copies of training windows)."""

from __future__ import annotations

import numpy as np

from .base import Synthesizer


class _ImblearnSynthesizer(Synthesizer):
    def _fit(self, x, y):
        self.flat_ = x.reshape(len(x), -1)
        self.labels_ = y

    def _resampler(self, strategy: dict, count: int):  # pragma: no cover - abstract
        raise NotImplementedError

    def _sample(self, n, label):
        if n == 0:
            return np.zeros((0, *self.window_shape_), dtype=np.float32)
        flat, y = self.flat_, self.labels_
        if len(self.classes_) == 1:
            # imbalanced-learn needs two classes; a placeholder row of another class is
            # added and dropped: both resamplers draw only from the class they grow
            flat = np.concatenate([flat, flat[:1]])
            y = np.concatenate([y, [label + 1]])
        count = int((y == label).sum())
        seed = int(self._rng().integers(2**31 - 1))
        resampler = self._resampler({label: count + n}, count, seed)
        out, y_out = resampler.fit_resample(flat, y)
        new = out[len(flat):]  # imbalanced-learn appends the new rows
        assert len(new) == n and (y_out[len(flat):] == label).all()
        return new.reshape(n, *self.window_shape_)


class SMOTESynthesizer(_ImblearnSynthesizer):
    """SMOTE over flattened windows. k_neighbors: neighbours to interpolate with (capped at
    the class size minus one); random_state: seed."""

    def __init__(self, k_neighbors: int = 5, random_state: int | None = 0):
        self.k_neighbors = k_neighbors
        self.random_state = random_state

    def _resampler(self, strategy, count, seed):
        from imblearn.over_sampling import SMOTE

        if count < 2:
            raise ValueError(f"smote: class has {count} window(s); SMOTE needs at least 2 to "
                             "interpolate (use oversample)")
        return SMOTE(sampling_strategy=strategy, k_neighbors=min(self.k_neighbors, count - 1),
                     random_state=seed)


class RandomOversampler(_ImblearnSynthesizer):
    """Random oversampling: copies of training windows of the class (imbalanced-learn's
    RandomOverSampler); ``shrinkage`` > 0 adds its smoothed-bootstrap noise."""

    def __init__(self, shrinkage: float | None = None, random_state: int | None = 0):
        self.shrinkage = shrinkage
        self.random_state = random_state

    def _resampler(self, strategy, count, seed):
        from imblearn.over_sampling import RandomOverSampler

        return RandomOverSampler(sampling_strategy=strategy, shrinkage=self.shrinkage,
                                 random_state=seed)
