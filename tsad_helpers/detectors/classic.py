"""Baselines: isolation forest and PCA over flattened, standardised windows, and seeded random
scores. Windows [L, C] are flattened to L*C features."""

from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest

from .base import Detector


def _flat(z: np.ndarray) -> np.ndarray:
    return z.reshape(len(z), -1)


def _window_zscore(flat: np.ndarray) -> np.ndarray:
    """Each flattened window z-scored over all its entries (ddof 1; a constant window -> 0),
    float64: TSB-AD's per-window normalisation."""
    flat = flat.astype(np.float64)
    mean = flat.mean(axis=1, keepdims=True)
    std = flat.std(axis=1, ddof=1, keepdims=True)
    return np.divide(flat - mean, std, out=np.zeros_like(flat), where=std > 0)


class IsolationForestDetector(Detector):
    """Isolation forest (Liu et al. 2008) on flattened windows (channels standardised).

    window: points per window; fit_stride: step between training windows; n_estimators,
    max_samples, max_features: as in scikit-learn; window_normalize: z-score each window over
    all its entries first (TSB-AD's rule); channel_major: flatten a window channel by channel
    (TSB-AD's order, which decides the features each tree draws) instead of step by step;
    score of a window = the negated ``score_samples``,
    spread to points by ``point_score`` (see :class:`~tsad_helpers.detectors.base.Detector`).
    Defaults: the detector benchmark's (paper profile) settings; ``reference_iforest_params``
    gives TSB-AD's tuned multivariate configuration."""

    def __init__(self, window: int = 16, fit_stride: int = 1, n_estimators: int = 200,
                 max_samples: int | str = 256, max_features: float = 1.0,
                 window_normalize: bool = False, channel_major: bool = False,
                 scaling: str | None = "standard", point_score: str = "mean",
                 random_state: int | None = 0):
        self.window = window
        self.fit_stride = fit_stride
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.max_features = max_features
        self.window_normalize = window_normalize
        self.channel_major = channel_major
        self.scaling = scaling
        self.point_score = point_score
        self.random_state = random_state

    def _features(self, z):
        flat = _flat(z.transpose(0, 2, 1)) if self.channel_major else _flat(z)
        return _window_zscore(flat) if self.window_normalize else flat

    def _fit_windows(self, z, labels, validation):
        flat = self._features(z)
        max_samples = self.max_samples
        if isinstance(max_samples, int):
            max_samples = min(max_samples, len(flat))
        self.forest_ = IsolationForest(n_estimators=self.n_estimators, max_samples=max_samples,
                                       max_features=self.max_features,
                                       random_state=self.random_state, n_jobs=1).fit(flat)

    def _window_scores(self, batch):
        return -self.forest_.score_samples(self._features(batch))


def reference_iforest_params(window: int = 100) -> dict:
    """Parameters that make ``iforest`` TSB-AD's multivariate isolation forest (its tuned
    configuration: window 100, 25 trees on 80 % of the features, 256 samples per tree,
    window z-score, no channel scaling, centre-point scores)."""
    return {"window": window, "fit_stride": 1, "n_estimators": 25, "max_samples": "auto",
            "max_features": 0.8, "window_normalize": True, "channel_major": True,
            "scaling": None, "point_score": "center"}


class PCADetector(Detector):
    """PCA over flattened windows, with two scoring rules.

    ``score="reconstruction"``: the squared reconstruction error of each window step (mean over
    channels) from the leading components (``n_components``: int, or a float in (0, 1) for the
    share of variance kept); a point's score is the mean over the windows that cover it.

    ``score="weighted_distance"``: the rule of PyOD's PCA (after Shyu et al. 2003) that TSB-AD
    ranks first on multivariate series: the sum over the kept components of the Euclidean
    distance from the window vector to the component's unit vector, each divided by the
    component's explained-variance ratio. With ``window_normalize`` (each window z-scored over
    all its entries), ``standardize_features`` (each flattened entry standardised over the
    training windows, constant ones dropped), ``scaling=None`` and ``point_score="center"``
    (a window's score goes to its centre point, the edges padded) this is TSB-AD's
    multivariate PCA (``reference_pca_params``; window 100, n_components 0.25 in its tuned
    configuration). The leading components come from a seeded randomized SVD (Halko et al.
    2011) of the training windows, enough of them to reach ``n_components`` of the total
    variance (known exactly as the sum of the feature variances), so no full SVD is needed.
    """

    def __init__(self, window: int = 16, fit_stride: int = 1, n_components: float | int = 0.9,
                 score: str = "reconstruction", window_normalize: bool = False,
                 standardize_features: bool = False, scaling: str | None = "standard",
                 point_score: str = "mean", random_state: int | None = 0):
        self.window = window
        self.fit_stride = fit_stride
        self.n_components = n_components
        self.score = score
        self.window_normalize = window_normalize
        self.standardize_features = standardize_features
        self.scaling = scaling
        self.point_score = point_score
        self.random_state = random_state

    def _features(self, z: np.ndarray, standardize: bool = True) -> np.ndarray:
        """Flattened windows [N, D'] after the optional window z-score and (``standardize``
        and ``standardize_features``) feature standardisation; float64 when either applies,
        else the windows' own dtype."""
        flat = _window_zscore(_flat(z)) if self.window_normalize else _flat(z)
        if standardize and self.standardize_features:
            if len(self.kept_) < flat.shape[1]:
                flat = flat[:, self.kept_]
            flat = np.subtract(flat, self.feature_mean_, dtype=np.float64)
            flat /= self.feature_std_
        return flat

    def _fit_windows(self, z, labels, validation):
        if self.score not in ("reconstruction", "weighted_distance"):
            raise ValueError(f"PCADetector: score must be 'reconstruction' or "
                             f"'weighted_distance', got {self.score!r}")
        if self.standardize_features:
            raw = self._features(z, standardize=False)
            mean = raw.mean(axis=0, dtype=np.float64)
            std = np.sqrt(np.maximum(
                np.einsum("ij,ij->j", raw, raw, dtype=np.float64) / len(raw) - mean ** 2, 0))
            self.kept_ = np.flatnonzero(std > 1e-12 * np.maximum(np.abs(mean), 1))
            if not len(self.kept_):
                raise ValueError("PCADetector: every feature of the training windows is "
                                 "constant; nothing to fit")
            self.feature_mean_, self.feature_std_ = mean[self.kept_], std[self.kept_]
        flat = self._features(z)
        n_components = self.n_components
        if isinstance(n_components, int):
            n_components = min(n_components, *flat.shape)
        if self.score == "reconstruction":
            self.pca_ = PCA(n_components=n_components,
                            random_state=self.random_state).fit(flat)
        else:
            self._fit_leading_components(flat, n_components)

    def _fit_leading_components(self, flat: np.ndarray, target) -> None:
        """``components_`` [k, D] and ``ratios_`` [k] (explained-variance ratios) of the
        leading components: k = ``target`` (an int), or the fewest whose ratios sum past
        ``target`` (a float; scikit-learn's rule)."""
        from sklearn.utils.extmath import randomized_svd, svd_flip

        self.mean_ = flat.mean(axis=0, dtype=np.float64)
        centred = np.subtract(flat, self.mean_, out=flat if flat.dtype == np.float64 else None)
        total = np.einsum("ij,ij->", centred, centred) / (len(centred) - 1)
        if total <= 0:
            raise ValueError("PCADetector: the training windows have no variance")
        limit = min(centred.shape)
        k = target if isinstance(target, int) else min(4, limit)
        while True:
            u, sv, vt = randomized_svd(centred, k, n_oversamples=10, n_iter=7,
                                       flip_sign=False, random_state=self.random_state)
            u, vt = svd_flip(u, vt, u_based_decision=False)
            ratios = sv ** 2 / (len(centred) - 1) / total
            if isinstance(target, int):
                break
            reached = np.searchsorted(np.cumsum(ratios), target, side="right") + 1
            if reached <= k or k == limit:
                k = min(reached, k)
                break
            k = min(4 * k, limit)
        self.components_, self.ratios_ = vt[:k], ratios[:k]

    def _window_scores(self, batch):
        flat = self._features(batch)
        if self.score == "reconstruction":
            err = (flat - self.pca_.inverse_transform(self.pca_.transform(flat))) ** 2
            return err.reshape(batch.shape).mean(axis=2)
        # PyOD's distances are taken from the uncentred vectors, as there
        sq = (flat ** 2).sum(axis=1, keepdims=True)
        dist = np.sqrt(np.maximum(sq - 2 * flat @ self.components_.T + 1.0, 0.0))
        return (dist / self.ratios_).sum(axis=1)


def reference_pca_params(window: int = 100, n_components: float = 0.25) -> dict:
    """Parameters that make ``pca`` TSB-AD's multivariate PCA (its tuned configuration:
    window 100, components explaining 25 % of the variance, weighted-distance score, window
    z-score, standardised features, no channel scaling, centre-point scores)."""
    return {"window": window, "fit_stride": 1, "n_components": n_components,
            "score": "weighted_distance", "window_normalize": False,
            "standardize_features": True, "scaling": None, "point_score": "center"}


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
