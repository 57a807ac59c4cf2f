"""Preprocessing: scalers fitted on training data only, sliding windows, and the mapping
from window scores back to one score per time point.

Shapes: a series is ``float[T, C]``; windows are ``float[N, L, C]``; a score per window is
``float[N]`` and a score per window step ``float[N, L]``.
"""

from __future__ import annotations

import numpy as np
from sklearn.preprocessing import MinMaxScaler, RobustScaler, StandardScaler

SCALERS = {"standard": StandardScaler, "minmax": MinMaxScaler, "robust": RobustScaler}


def _as_series(x, what: str = "series") -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"{what} must be 2-D [T, C], got shape {x.shape}")
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"{what} is empty: shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError(f"{what} contains NaN or inf ({int((~np.isfinite(x)).sum())} values)")
    return x


class ChannelScaler:
    """Per-channel scaling fitted on training data only.

    kind: ``"standard"`` (zero mean, unit variance), ``"minmax"`` (train range to [0, 1]) or
    ``"robust"`` (median and interquartile range), each the scikit-learn scaler.
    constant: what to do with channels that are constant in the training data, where a scale
    cannot be estimated: ``"center"`` (default) subtracts the training value and leaves the
    scale at 1, so any deviation in test data stays visible in original units; ``"drop"``
    removes those channels from the output (``kept_channels_`` lists the others);
    ``"error"`` raises naming them.
    Fitted attributes: ``constant_channels_`` (indices), ``kept_channels_``, ``scaler_``.
    """

    def __init__(self, kind: str = "standard", constant: str = "center"):
        self.kind = kind
        self.constant = constant

    def fit(self, train) -> "ChannelScaler":
        if self.kind not in SCALERS:
            raise ValueError(f"kind must be one of {sorted(SCALERS)}, got {self.kind!r}")
        if self.constant not in ("center", "drop", "error"):
            raise ValueError(f"constant must be 'center', 'drop' or 'error', got {self.constant!r}")
        train = _as_series(train, "train")
        self.n_channels_ = train.shape[1]
        span = train.max(axis=0) - train.min(axis=0)
        self.constant_channels_ = np.flatnonzero(span == 0)
        if self.constant == "error" and len(self.constant_channels_):
            raise ValueError(f"train has constant channels {self.constant_channels_.tolist()}")
        keep = np.ones(self.n_channels_, dtype=bool)
        if self.constant == "drop":
            keep[self.constant_channels_] = False
        self.kept_channels_ = np.flatnonzero(keep)
        if len(self.kept_channels_) == 0:
            raise ValueError("every channel of train is constant; nothing left to scale")
        self.scaler_ = SCALERS[self.kind]().fit(train[:, self.kept_channels_])
        self._center_constants(train)
        return self

    def _center_constants(self, train) -> None:
        """Make constant channels map to 0 at their training value with scale 1."""
        kept_constant = np.flatnonzero(np.isin(self.kept_channels_, self.constant_channels_))
        if not len(kept_constant):
            return
        value = train[0, self.kept_channels_[kept_constant]]
        s = self.scaler_
        if self.kind == "standard":
            s.mean_[kept_constant], s.scale_[kept_constant] = value, 1.0
        elif self.kind == "robust":
            s.center_[kept_constant], s.scale_[kept_constant] = value, 1.0
        else:
            s.scale_[kept_constant], s.min_[kept_constant] = 1.0, -value

    def transform(self, x) -> np.ndarray:
        if not hasattr(self, "scaler_"):
            raise RuntimeError("ChannelScaler is not fitted; call fit(train) first")
        x = _as_series(x)
        if x.shape[1] != self.n_channels_:
            raise ValueError(f"series has {x.shape[1]} channels, the scaler was fitted on "
                             f"{self.n_channels_}")
        return self.scaler_.transform(x[:, self.kept_channels_]).astype(np.float32)

    def fit_transform(self, train) -> np.ndarray:
        return self.fit(train).transform(train)


def window_starts(n_points: int, length: int, stride: int = 1) -> np.ndarray:
    """Start indices of windows of ``length`` over ``n_points`` with step ``stride``.

    The last window always ends at the last point, so every point is covered (its start may
    then be closer than ``stride`` to the previous one).
    """
    if length < 1 or stride < 1:
        raise ValueError(f"length and stride must be >= 1, got {length} and {stride}")
    if n_points < length:
        raise ValueError(f"series of {n_points} points is shorter than the window length {length}")
    starts = np.arange(0, n_points - length + 1, stride)
    if starts[-1] != n_points - length:
        starts = np.append(starts, n_points - length)
    return starts


def sliding_windows(x, length: int, stride: int = 1) -> np.ndarray:
    """Windows ``[N, length, C]`` of a series ``[T, C]``.

    Window ``i`` starts at ``window_starts(T, length, stride)[i]``. The result is a read-only
    view (no copy) when ``T - length`` is a multiple of ``stride``; otherwise the extra last
    window makes it a copy.
    """
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"series must be 2-D [T, C], got shape {x.shape}")
    starts = window_starts(x.shape[0], length, stride)
    view = np.lib.stride_tricks.sliding_window_view(x, length, axis=0)  # [T-L+1, C, L]
    regular = view[::stride]
    if len(regular) == len(starts):
        return regular.transpose(0, 2, 1)
    return view[starts].transpose(0, 2, 1)


class PointScores:
    """Accumulates window scores into one score per time point, a batch of windows at a time
    (so scoring a long series never holds every window). ``add(starts, scores)`` takes the
    start index of each window and its score (float[B]: one for all its points, or float[B, L]:
    one per step); ``result()`` is float64[n_points]. reduce: ``"mean"`` averages the scores
    of the windows covering a point, ``"max"`` takes the largest. A point no window covered
    gets NaN."""

    def __init__(self, n_points: int, length: int, reduce: str = "mean"):
        if reduce not in ("mean", "max"):
            raise ValueError(f"reduce must be 'mean' or 'max', got {reduce!r}")
        self.n_points, self.length, self.reduce = n_points, length, reduce
        self.total = np.full(n_points, -np.inf) if reduce == "max" else np.zeros(n_points)
        self.count = np.zeros(n_points, dtype=np.int64)

    def add(self, starts, scores) -> None:
        starts = np.asarray(starts)
        scores = np.asarray(scores, dtype=np.float64)
        if scores.shape[0] != len(starts) or scores.ndim not in (1, 2) or (
                scores.ndim == 2 and scores.shape[1] != self.length):
            raise ValueError(f"window scores of shape {scores.shape} for {len(starts)} windows "
                             f"of length {self.length}")
        if scores.ndim == 1:
            scores = np.broadcast_to(scores[:, None], (len(starts), self.length))
        index = (starts[:, None] + np.arange(self.length)).ravel()
        if self.reduce == "max":
            np.maximum.at(self.total, index, scores.ravel())
        else:
            self.total += np.bincount(index, weights=scores.ravel(), minlength=self.n_points)
        self.count += np.bincount(index, minlength=self.n_points)

    def result(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            out = self.total / self.count if self.reduce == "mean" else self.total.copy()
        out[self.count == 0] = np.nan
        return out


def windows_to_points(window_scores, n_points: int, length: int, stride: int = 1,
                      reduce: str = "mean") -> np.ndarray:
    """One score per time point from scores of the windows of :func:`sliding_windows`.

    window_scores: float[N] (one per window, spread over all its points) or float[N, L]
    (one per window step); needs ``stride <= length``. reduce: ``"mean"`` averages the scores
    of all windows covering a point; ``"max"`` takes the largest. Returns float64[n_points]
    (see :class:`PointScores`, which does the same a batch at a time).
    """
    scores = np.asarray(window_scores, dtype=np.float64)
    if stride > length:
        raise ValueError(f"stride {stride} > length {length} leaves points without a window; "
                         "cannot give every point a score")
    starts = window_starts(n_points, length, stride)
    if scores.shape[0] != len(starts) or scores.ndim not in (1, 2) or (
            scores.ndim == 2 and scores.shape[1] != length):
        raise ValueError(f"window_scores shape {scores.shape} does not match {len(starts)} "
                         f"windows of length {length} over {n_points} points")
    points = PointScores(n_points, length, reduce)
    points.add(starts, scores)
    return points.result()
