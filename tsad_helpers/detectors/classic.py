"""Baselines: isolation forest and PCA over flattened, standardised windows, and seeded random
scores. Windows [L, C] are flattened to L*C features."""

from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest

from ..preprocessing import ChannelScaler
from .base import Detector, place_window_scores
from .lagged import LaggedWindows, window_moments


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
    configuration). The leading components are the leading eigenvectors of the features'
    covariance (Lanczos iterations, ARPACK, from a seeded start; as many as reach
    ``n_components`` of its trace, scikit-learn's rule), with scikit-learn's sign convention
    (each component's largest entry positive), so no full SVD is needed. Fitted on a series
    (``fit``) the windows are never built (:mod:`tsad_helpers.detectors.lagged`).
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
        """Flattened windows [N, L*C] after the optional window z-score and (``standardize``
        and ``standardize_features``) feature standardisation, constant features set to 0;
        float64 when either applies, else the windows' own dtype."""
        flat = _window_zscore(_flat(z)) if self.window_normalize else _flat(z)
        if standardize and self.standardize_features:
            flat = np.subtract(flat, self.feature_mean_.ravel(), dtype=np.float64)
            flat *= self.feature_scale_.ravel()
        return flat

    def _check_score(self) -> None:
        if self.score not in ("reconstruction", "weighted_distance"):
            raise ValueError(f"PCADetector: score must be 'reconstruction' or "
                             f"'weighted_distance', got {self.score!r}")

    def _set_feature_scale(self, mean: np.ndarray, std: np.ndarray) -> None:
        """``feature_mean_`` and ``feature_scale_`` ([L, C]; the scale is 1 / std, and 0
        drops a constant feature, as TSB-AD drops its all-zero standardised columns)."""
        keep = std > 1e-12 * np.maximum(np.abs(mean), 1)
        if not keep.any():
            raise ValueError("PCADetector: every feature of the training windows is "
                             "constant; nothing to fit")
        self.feature_mean_ = mean
        self.feature_scale_ = np.where(keep, 1 / np.where(keep, std, 1), 0.0)

    def _fit_windows(self, z, labels, validation):
        self._check_score()
        if self.standardize_features:
            raw = self._features(z, standardize=False)
            mean = raw.mean(axis=0, dtype=np.float64)
            std = np.sqrt(np.maximum(
                np.einsum("ij,ij->j", raw, raw, dtype=np.float64) / len(raw) - mean ** 2, 0))
            self._set_feature_scale(mean.reshape(z.shape[1:]), std.reshape(z.shape[1:]))
        flat = self._features(z)
        n_components = self.n_components
        if isinstance(n_components, int):
            n_components = min(n_components, *flat.shape)
        if self.score == "reconstruction":
            self.pca_ = PCA(n_components=n_components,
                            random_state=self.random_state).fit(flat)
        else:
            centred = flat - flat.mean(axis=0, dtype=np.float64)
            self._fit_eigen(centred.T @ centred / len(centred), n_components)

    # -- the fast path: a series' windows are never materialised (detectors/lagged.py) -------
    def _lagged(self) -> bool:
        return (self.score == "weighted_distance" and self.standardize_features
                and not self.window_normalize and self.fit_stride == 1)

    def fit(self, X, y=None):
        """As :meth:`Detector.fit`. With the weighted-distance score on standardised
        features (the reference configuration) and no labels, the windows of stride 1 are
        never built: their feature covariance comes from the series' lag products, its
        leading eigenvectors from Lanczos iterations (ARPACK), and the scores from FFT
        correlations; the same components and scores as the windowed path (tests), in a
        fraction of the time and memory."""
        if y is not None or not self._lagged():
            return super().fit(X, y)
        self._check_score()
        x = self._check_series(X, "fit", fitting=True)
        self._reset()
        self.n_channels_ = x.shape[1]
        self.scaler_ = ChannelScaler(self.scaling).fit(x) if self.scaling else None
        self.threshold_ = None
        z = self._scaled_series(x)
        centre = z.mean(axis=0)
        mean, cov = window_moments(z - centre, self.window)
        std = np.sqrt(np.maximum(np.diag(cov), 0)).reshape(mean.shape)
        self._set_feature_scale(mean + centre, std)
        scale = self.feature_scale_.ravel()
        self._fit_eigen(cov * np.outer(scale, scale), self.n_components)
        return self

    def _fit_eigen(self, cov: np.ndarray, target) -> None:
        """``components_`` and ``ratios_`` from the standardised covariance: the leading
        eigenvectors (ARPACK, seeded start) until their share of the trace reaches
        ``target`` (scikit-learn's rule for a float; an int is a count)."""
        from scipy.sparse.linalg import eigsh

        total = np.trace(cov)
        if total <= 0:
            raise ValueError("PCADetector: the training windows have no variance")
        d = len(cov)
        v0 = np.random.default_rng(self.random_state).standard_normal(d)
        k = target if isinstance(target, int) else min(4, d - 1)
        while True:
            values, vectors = eigsh(cov, k=min(k, d - 1), which="LA", v0=v0, tol=0)
            order = np.argsort(values)[::-1]
            values, vectors = values[order], vectors[:, order].T
            ratios = values / total
            if isinstance(target, int):
                break
            reached = int(np.searchsorted(np.cumsum(ratios), target, side="right")) + 1
            if reached <= len(values) or len(values) >= d - 1:
                break
            k = min(4 * k, d - 1)
        k = target if isinstance(target, int) else min(reached, len(values))
        signs = np.sign(vectors[np.arange(len(vectors)), np.argmax(np.abs(vectors), axis=1)])
        self.components_ = vectors[:k] * signs[:k, None]
        self.ratios_ = ratios[:k]

    def _scaled_series(self, x: np.ndarray) -> np.ndarray:
        return (self.scaler_.transform(x) if self.scaler_ is not None else x).astype(np.float64)

    def decision_function(self, X):
        if not (self._lagged() and hasattr(self, "ratios_")):
            return super().decision_function(X)
        x = self._check_series(X, "decision_function", fitting=False)
        op = LaggedWindows(self._scaled_series(x), self.window, self.feature_mean_,
                           self.feature_scale_)
        scores = self._distance_scores(op.sq_norms(), op.dot(self.components_.T))
        return place_window_scores(scores, len(x), self.window, self.point_score)

    def _distance_scores(self, sq_norms: np.ndarray, projections: np.ndarray) -> np.ndarray:
        """PyOD's score from each window's squared norm and its projections on the unit
        components: the sum of the distances to them, weighted by 1 / explained ratio."""
        dist = np.sqrt(np.maximum(sq_norms[:, None] - 2 * projections + 1.0, 0.0))
        return (dist / self.ratios_).sum(axis=1)

    def _window_scores(self, batch):
        flat = self._features(batch)
        if self.score == "reconstruction":
            err = (flat - self.pca_.inverse_transform(self.pca_.transform(flat))) ** 2
            return err.reshape(batch.shape).mean(axis=2)
        # PyOD's distances are taken from the (standardised, not re-centred) vectors
        return self._distance_scores(np.einsum("ij,ij->i", flat, flat),
                                     flat @ self.components_.T)


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
