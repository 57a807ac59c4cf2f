"""The detector contract: windows [N, L, C] are the shared unit.

- ``fit(X[T, C], y=None)`` checks the series, fits the per-channel scaler on it, cuts windows
  of ``window`` points every ``fit_stride`` (and, for detectors with a ``validation_fraction``,
  validation windows from the series' tail, which no training window overlaps) and hands them
  to :meth:`Detector.fit_windows`; ``y`` (one 0/1 label per point) becomes one label per
  window (1 when any of its points is labelled);
- ``fit_windows(windows[N, L, C], labels[N] | None, validation=None, scale_on=None)`` is the
  one place where a detector learns: real, labelled and synthetic windows all come in here;
- ``decision_function(X[T, C])`` gives one anomaly score per point (float64[T], higher = more
  anomalous; PyOD's name and sign). Windows of stride 1 are scored a bounded batch at a time by
  the subclass' ``_window_scores`` (one score per window, or one per window step) and spread
  back to points by :class:`~tsad_helpers.preprocessing.PointScores` (the mean over the windows
  that cover a point). ``score_windows(windows)`` gives one score per window;
- ``uses_labels`` says whether the detector learns from labels. One that does not
  (unsupervised) uses labels in one documented way only: windows labelled 1 are left out of
  training and, with the normal ones, calibrate ``threshold_`` on the window scores
  (:func:`tsad_helpers.thresholds.calibrated`); this is how synthetic anomalous windows set a
  threshold without real test labels;
- every fit starts from scratch: all fitted state (attributes whose names end with '_',
  caches included) is dropped first, so a refitted object equals a fresh one.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator

from .. import thresholds
from ..preprocessing import ChannelScaler, PointScores, sliding_windows, window_starts
from ..registry import drop_fitted_state


POINT_RULES = ("mean", "last", "center")


def place_window_scores(scores: np.ndarray, n_points: int, window: int,
                        rule: str = "mean") -> np.ndarray:
    """Point scores [n_points] from the scores of every window of stride 1 (float[N], N =
    n_points - window + 1) by a ``point_score`` rule (see :meth:`Detector._point_scores`):
    the edges are padded with the nearest assigned score for "last" and "center"."""
    if rule not in POINT_RULES:
        raise ValueError(f"point_score must be one of {', '.join(POINT_RULES)}, got {rule!r}")
    scores = np.asarray(scores, dtype=np.float64)
    if len(scores) != n_points - window + 1:
        raise ValueError(f"{len(scores)} window scores for {n_points} points and "
                         f"window={window}")
    if rule == "mean":
        points = PointScores(n_points, window)
        points.add(np.arange(len(scores)), scores)
        return points.result()
    offset = _rule_offset(rule, window)
    out = np.empty(n_points)
    out[offset:offset + len(scores)] = scores
    out[:offset] = scores[0]
    out[offset + len(scores):] = scores[-1]
    return out


def _rule_offset(rule: str, window: int) -> int:
    """The step of a window whose point gets the window's score: its last ("last") or its
    centre ("center")."""
    return window - 1 if rule == "last" else window // 2


def window_labels(point_labels: np.ndarray, n_points: int, window: int, stride: int) -> np.ndarray:
    """1 for each window (of :func:`~tsad_helpers.preprocessing.sliding_windows`) holding at
    least one labelled point: int64[N]."""
    starts = window_starts(n_points, window, stride)
    covered = np.concatenate([[0], np.cumsum(point_labels != 0)])
    return ((covered[starts + window] - covered[starts]) > 0).astype(np.int64)


class Detector(BaseEstimator):
    """Base class; see the module docstring. Subclasses set ``window`` and ``fit_stride``
    (parameters or class attributes), ``scaling`` (a :class:`ChannelScaler` kind, or None for
    raw values), ``validation_fraction`` (share of the series' tail held out by ``fit``; 0 for
    none) with ``uses_validation``, and implement ``_fit_windows(windows, labels, validation)``
    on scaled float32 windows (labels None unless ``uses_labels``; validation None or a pair
    (windows, labels or None)) and ``_window_scores(batch[B, L, C]) -> [B] | [B, L]``."""

    uses_labels = False
    uses_validation = False
    scaling: str | None = "standard"
    validation_fraction = 0.0
    score_batch = 1024

    # -- input checks ---------------------------------------------------------------------------
    def _check_series(self, x, what: str, fitting: bool) -> np.ndarray:
        name = type(self).__name__
        x = np.asarray(x)
        if x.ndim == 1:
            raise ValueError(f"{name}.{what}: expected a 2-D array [T, C], got 1-D of length "
                             f"{len(x)} (use x[:, None] for one channel)")
        if x.ndim != 2:
            raise ValueError(f"{name}.{what}: expected a 2-D array [T, C], got shape {x.shape}")
        _check_values(x, name, what, ("row", "channel"))
        if not fitting:
            self._check_fitted()
            if x.shape[1] != self.n_channels_:
                raise ValueError(f"{name}.{what}: {x.shape[1]} channels, but fitted on "
                                 f"{self.n_channels_}")
        if x.shape[0] < self.window:
            raise ValueError(f"{name}.{what}: series of {x.shape[0]} points is shorter than "
                             f"window={self.window}")
        return x.astype(np.float64, copy=False)

    def _check_windows(self, w, what: str, fitting: bool) -> np.ndarray:
        name = type(self).__name__
        w = np.asarray(w)
        if w.ndim != 3:
            raise ValueError(f"{name}.{what}: expected windows [N, L, C], got shape {w.shape}")
        _check_values(w, name, what, ("window", "step", "channel"))
        if w.shape[1] != self.window:
            raise ValueError(f"{name}.{what}: windows of {w.shape[1]} steps, but window="
                             f"{self.window}")
        if not fitting:
            self._check_fitted()
            if w.shape[2] != self.n_channels_:
                raise ValueError(f"{name}.{what}: {w.shape[2]} channels, but fitted on "
                                 f"{self.n_channels_}")
        return w.astype(np.float64, copy=False)

    def _check_labels(self, labels, n: int, what: str) -> np.ndarray:
        y = np.asarray(labels)
        if y.shape != (n,):
            raise ValueError(f"{type(self).__name__}.{what}: labels of shape {y.shape} for {n} "
                             f"windows (expected one 0/1 label per window)")
        if not np.isin(y, (0, 1)).all():
            raise ValueError(f"{type(self).__name__}.{what}: labels must be 0 or 1, got "
                             f"{sorted(set(np.unique(y).tolist()) - {0, 1})[:5]}")
        return y.astype(np.int64)

    def _check_point_labels(self, y, n: int) -> np.ndarray:
        """``fit``'s ``y``: one 0/1 label per point of a series of ``n`` points."""
        y = np.asarray(y)
        if y.shape != (n,):
            raise ValueError(f"{type(self).__name__}.fit: y of shape {y.shape} for a series "
                             f"of {n} points (expected one label per point)")
        if not np.isin(y, (0, 1)).all():
            raise ValueError(f"{type(self).__name__}.fit: y must hold 0/1 point labels, got "
                             f"values {sorted(set(np.unique(y).tolist()) - {0, 1})[:5]}")
        return y

    def _check_fitted(self) -> None:
        if not hasattr(self, "n_channels_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit(train) first")

    # -- fitting ---------------------------------------------------------------------------------
    def _reset(self) -> None:
        """Drop every fitted attribute, caches included (by scikit-learn's convention their
        names end with '_'; scikit-learn's own private attributes are left alone)."""
        drop_fitted_state(self)

    def fit(self, X, y=None):
        """Fit on a series ``X`` [T, C] (mostly normal), with optional 0/1 point labels ``y``
        [T]; returns self. See the module docstring for what labels do."""
        x = self._check_series(X, "fit", fitting=True)
        if y is not None:
            y = self._check_point_labels(y, len(x))
        n_val = self._validation_points(len(x))
        head = x[:len(x) - n_val]
        windows = sliding_windows(head, self.window, self.fit_stride)
        labels = None if y is None else window_labels(y[:len(head)], len(head), self.window,
                                                      self.fit_stride)
        validation = None
        if n_val:
            validation = sliding_windows(x[len(head):], self.window, self.validation_stride)
            if y is not None:
                validation = (validation, window_labels(y[len(head):], n_val, self.window,
                                                        self.validation_stride))
        return self.fit_windows(windows, labels, validation=validation, scale_on=x)

    def _validation_points(self, n: int) -> int:
        """Points of the series' tail held out for validation by ``fit`` (0: none)."""
        n_val = int(round(n * self.validation_fraction))
        return n_val if n_val >= self.window else 0

    @property
    def validation_stride(self) -> int:
        return max(1, self.window // 4)

    def fit_windows(self, windows, labels=None, *, validation=None, scale_on=None):
        """Fit on windows [N, L, C] (in any order; real, labelled or synthetic), returns self.

        labels: one 0/1 label per window, or None. validation: windows [M, L, C] (or a pair
        (windows, labels)) for early stopping and error normalisation, never trained on;
        None: detectors that need it take the last ``validation_fraction`` of ``windows``
        (so pass windows in time order, or pass ``validation``). scale_on: the points [T, C]
        the per-channel scaler is fitted on (``fit`` passes the series); default: every
        entry of the windows trained on."""
        w = self._check_windows(windows, "fit_windows", fitting=True)
        y = None if labels is None else self._check_labels(labels, len(w), "fit_windows")
        if validation is not None and not self.uses_validation:
            raise ValueError(f"{type(self).__name__}.fit_windows: got validation windows, but "
                             "this detector has no use for them (no early stopping)")
        self._reset()
        self.n_channels_ = w.shape[2]
        self.scaler_ = self._fit_scaler(w, y, scale_on)
        val, val_y = validation if isinstance(validation, tuple) else (validation, None)
        if val is not None:
            val = self._scale(self._check_windows(val, "fit_windows(validation)", fitting=True))
            val_y = None if val_y is None else self._check_labels(val_y, len(val), "validation")
        z = self._scale(w)
        anomalous = z[:0]
        if not self.uses_labels:
            z, y, val, val_y, anomalous = self._set_aside_anomalies(z, y, val, val_y)
        self._fit_windows(z, y, None if val is None else (val, val_y))
        self.threshold_ = None
        if len(anomalous):
            normal = val if val is not None else z
            self.threshold_ = thresholds.calibrated(self._scores_of(normal),
                                                    self._scores_of(anomalous))
        return self

    def _fit_scaler(self, w, y, scale_on):
        """The per-channel scaler, fitted on ``scale_on`` or on the windows trained on."""
        if not self.scaling:
            return None
        if scale_on is None:
            trained = w if y is None or self.uses_labels else w[y == 0]
            points = trained.reshape(-1, w.shape[2])
        else:
            points = np.asarray(scale_on, np.float64)
        if points.ndim != 2 or points.shape[1] != w.shape[2]:
            raise ValueError(f"{type(self).__name__}.fit_windows: scale_on of shape "
                             f"{points.shape} does not match windows with {w.shape[2]} channels")
        return ChannelScaler(self.scaling).fit(points)

    def _set_aside_anomalies(self, z, y, val, val_y):
        """Unsupervised detectors: windows labelled 1 (training or validation) are not learned
        from; they are returned apart to calibrate the threshold."""
        parts = [z[:0]]
        if y is not None:
            parts.append(z[y == 1])
            z, y = z[y == 0], None
        if val_y is not None:
            parts.append(val[val_y == 1])
            val, val_y = val[val_y == 0], None
        if not len(z) or (val is not None and not len(val)):
            raise ValueError(f"{type(self).__name__}.fit_windows: every training (or "
                             "validation) window is labelled anomalous; an unsupervised "
                             "detector needs normal windows")
        return z, y, val, val_y, np.concatenate(parts)

    def _scale(self, w: np.ndarray) -> np.ndarray:
        if self.scaler_ is None:
            return w.astype(np.float32)
        return self.scaler_.transform(w.reshape(-1, w.shape[2])).reshape(w.shape)

    # -- scoring ---------------------------------------------------------------------------------
    def _scores_of(self, z: np.ndarray) -> np.ndarray:
        """One score per scaled window (the mean over its steps when scored per step)."""
        out = [np.asarray(self._window_scores(z[i:i + self.score_batch]), dtype=np.float64)
               for i in range(0, len(z), self.score_batch)]
        s = np.concatenate(out)
        return s.mean(axis=1) if s.ndim == 2 else s

    def score_windows(self, windows) -> np.ndarray:
        """One anomaly score per window [N, L, C]: float64[N] (higher = more anomalous)."""
        w = self._check_windows(windows, "score_windows", fitting=False)
        return self._scores_of(self._scale(w))

    def decision_function(self, X) -> np.ndarray:
        """Anomaly score per time point of ``X`` [T, C]: float64[T], higher = more anomalous
        (the mean score of the windows of stride 1 that cover the point)."""
        x = self._check_series(X, "decision_function", fitting=False)
        return self._point_scores(x, window_starts(len(x), self.window, 1))

    def score_points(self, X, starts) -> np.ndarray:
        """Scores of the points of ``X`` [T, C] covered by the windows that start at
        ``starts`` (any subset of positions, e.g. the validation windows of a shuffled fold):
        float64[T], the mean over those windows (per step where the detector scores steps),
        NaN for points no window covers. With every start of stride 1 this is
        :meth:`decision_function`."""
        x = self._check_series(X, "score_points", fitting=False)
        starts = np.unique(np.asarray(starts, dtype=np.int64))
        if len(starts) == 0 or starts[0] < 0 or starts[-1] > len(x) - self.window:
            raise ValueError(f"{type(self).__name__}.score_points: window starts must lie in "
                             f"[0, {len(x) - self.window}] and not be empty")
        return self._point_scores(x, starts)

    def _point_scores(self, x: np.ndarray, starts: np.ndarray) -> np.ndarray:
        """Point scores from the windows at ``starts`` by the ``point_score`` rule of the
        detector (a parameter of those that have it, else "mean"): "mean", the mean over the
        windows covering a point; "last", the score of the window ending at the point (its
        last step where steps are scored: what an online detector knows at that time);
        "center", the score of the window centred on it (TSB-AD's rule). With "last" and
        "center", scoring a whole series gives the points before the first (after the last)
        assigned one the first (last) assigned score, as TSB-AD pads."""
        rule = getattr(self, "point_score", "mean")
        if rule not in POINT_RULES:
            raise ValueError(f"{type(self).__name__}: point_score must be one of "
                             f"{', '.join(POINT_RULES)}, got {rule!r}")
        z = self.scaler_.transform(x) if self.scaler_ is not None else x.astype(np.float32)
        view = np.lib.stride_tricks.sliding_window_view(z, self.window, axis=0)
        points = PointScores(len(z), self.window)
        placed = np.empty(len(starts))  # "last"/"center": the score given to one point
        offset = _rule_offset(rule, self.window)
        self._start_scoring()
        for i in range(0, len(starts), self.score_batch):
            s = starts[i:i + self.score_batch]
            batch = np.ascontiguousarray(view[s].transpose(0, 2, 1))
            scores = self._window_scores(batch)
            if rule == "mean":
                points.add(s, scores)
            else:
                scores = np.asarray(scores, dtype=np.float64)
                placed[i:i + len(s)] = scores[:, offset] if scores.ndim == 2 else scores
        if rule == "mean":
            return points.result()
        if len(starts) == len(z) - self.window + 1:  # the whole series: padded edges
            return place_window_scores(placed, len(z), self.window, rule)
        out = np.full(len(z), np.nan)
        out[starts + offset] = placed
        return out

    def _start_scoring(self) -> None:
        """Hook run before a series is scored (seeded detectors reset their generator)."""

    def _fit_windows(self, z, labels, validation):  # pragma: no cover - abstract
        raise NotImplementedError

    def _window_scores(self, batch):  # pragma: no cover - abstract
        raise NotImplementedError


def _check_values(a: np.ndarray, name: str, what: str, axes: tuple[str, ...]) -> None:
    if not np.issubdtype(a.dtype, np.number) or np.issubdtype(a.dtype, np.complexfloating):
        raise ValueError(f"{name}.{what}: expected real numbers, got dtype {a.dtype}")
    if 0 in a.shape:
        raise ValueError(f"{name}.{what}: empty input of shape {a.shape}")
    bad = ~np.isfinite(a)
    if bad.any():
        where = ", ".join(f"{axis} {i}" for axis, i in zip(axes, np.argwhere(bad)[0]))
        raise ValueError(f"{name}.{what}: {int(bad.sum())} NaN/inf values (first at {where})")
