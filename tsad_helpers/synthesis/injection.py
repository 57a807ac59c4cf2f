"""Rule-based anomaly injection into real normal windows: the kinds of the embedded synthetic
benchmark (:data:`tsad_helpers.datasets.synthetic.ANOMALY_TYPES`), with magnitudes in units of
each window's local scale, so an injected anomaly is as visible on a quiet channel as on a
noisy one.

Per window, ``1..max_channels`` channels and one segment covering ``segment`` (a fraction
range) of the window are chosen; ``s`` is the channel's robust standard deviation in that
window (1.4826 x MAD, floored at 10 % of the channel's standard deviation over all training
windows; 1.0 for a channel constant in every window):

- ``point``: one step moved by 4-7 s;
- ``contextual``: the step farthest from the window mean mirrored to the other side of it
  (at least 2 s away): a value of normal size at the wrong phase;
- ``level_shift``: the segment shifted by 2-4 s;
- ``trend``: a linear drift over the segment growing to 3-5 s;
- ``frequency``: the segment replays the window 2.5-4 times faster;
- ``variance``: Gaussian noise of 3-5 s added over the segment;
- ``flatline``: the segment stuck at the value just before it;
- ``pattern``: the segment becomes a square wave following its own shape (the sign of its
  deviation from its mean) with its own amplitude (at least 2 s).
"""

from __future__ import annotations

import numpy as np

from ..datasets.synthetic import ANOMALY_TYPES
from .base import Synthesizer


class AnomalyInjector(Synthesizer):
    """Typed anomalies injected into the normal training windows (label 0, or all windows
    when fitted without labels). ``sample(n)`` (or ``label=1``) returns n anomalous windows;
    ``inject(windows)`` returns the modified windows with the kind and the altered steps of
    each. kinds: the kinds to draw from (uniformly); max_channels: most channels changed per
    window (default C // 3, at least 1); segment: (min, max) share of the window a segment
    covers."""

    def __init__(self, kinds: tuple[str, ...] = ANOMALY_TYPES, max_channels: int | None = None,
                 segment: tuple[float, float] = (0.2, 0.5), random_state: int | None = 0):
        self.kinds = kinds
        self.max_channels = max_channels
        self.segment = segment
        self.random_state = random_state

    def _fit(self, x, y):
        unknown = sorted(set(self.kinds) - set(ANOMALY_TYPES))
        if unknown or not self.kinds:
            raise ValueError(f"injection: unknown kinds {unknown} (known: "
                             f"{', '.join(ANOMALY_TYPES)})")
        lo, hi = self.segment
        if not 0 < lo <= hi <= 1:
            raise ValueError(f"injection: segment must satisfy 0 < min <= max <= 1, got "
                             f"{self.segment}")
        normal = x[y == 0]
        if not len(normal):
            raise ValueError("injection: no normal (label 0) windows to inject into")
        self.normal_ = normal
        std = normal.reshape(-1, normal.shape[2]).std(axis=0)
        self.floor_ = np.where(std > 0, 0.1 * std, 1.0)

    def sample(self, n: int, label=None) -> np.ndarray:
        if label not in (None, 1):
            raise ValueError(f"injection makes anomalous windows: label must be None or 1, "
                             f"got {label!r}")
        if not hasattr(self, "normal_"):
            raise RuntimeError("AnomalyInjector is not fitted: call fit(windows) first")
        if int(n) != n or n < 0:
            raise ValueError(f"AnomalyInjector.sample: n must be a non-negative integer, got {n!r}")
        rng = self._rng()
        picked = self.normal_[rng.integers(len(self.normal_), size=int(n))]
        return self._checked(self.inject(picked)[0], int(n))

    def inject(self, windows: np.ndarray):
        """Anomalies injected into copies of ``windows`` [n, L, C]. Returns (windows
        float32[n, L, C], kinds str[n], altered bool[n, L])."""
        if not hasattr(self, "normal_"):
            raise RuntimeError("AnomalyInjector is not fitted: call fit(windows) first")
        w = np.array(windows, dtype=np.float64)
        if w.ndim != 3 or w.shape[1:] != tuple(self.window_shape_):
            raise ValueError(f"inject: windows of shape {w.shape}, expected [n, "
                             f"{', '.join(map(str, self.window_shape_))}]")
        rng = self._rng()
        n, L, C = w.shape
        most = self.max_channels or max(1, C // 3)
        kinds = rng.choice(list(self.kinds), size=n)
        altered = np.zeros((n, L), dtype=bool)
        for i in range(n):
            chans = rng.choice(C, size=int(rng.integers(1, min(most, C) + 1)), replace=False)
            a, b = self._segment(L, rng)
            steps = _inject_one(kinds[i], w[i], chans, a, b, self._scale(w[i]), rng)
            altered[i, steps] = True
        return w.astype(np.float32), kinds, altered

    def _segment(self, L, rng):
        lo, hi = self.segment
        length = int(np.clip(round(rng.uniform(lo, hi) * L), 2 if L > 2 else 1, L))
        a = int(rng.integers(0, L - length + 1))
        return a, a + length

    def _scale(self, w):
        mad = np.median(np.abs(w - np.median(w, axis=0)), axis=0) * 1.4826
        return np.maximum(mad, self.floor_)


def _inject_one(kind, w, chans, a, b, s, rng) -> slice | int:
    """Modify window ``w`` [L, C] in place on channels ``chans``; returns the altered steps."""
    L = len(w)
    k = len(chans)
    sign = rng.choice([-1.0, 1.0], k)
    sc = s[chans]
    if kind == "point":
        t = int(rng.integers(L))
        w[t, chans] += sign * rng.uniform(4, 7, k) * sc
        return t
    if kind == "contextual":
        mean = w[:, chans].mean(axis=0)
        t = int(np.argmax(np.abs(w[:, chans] - mean).max(axis=1)))
        d = w[t, chans] - mean
        w[t, chans] = mean - np.where(d >= 0, 1.0, -1.0) * np.maximum(np.abs(d), 2 * sc)
        return t
    seg = slice(a, b)
    n = b - a
    if kind == "level_shift":
        w[seg, chans] += sign * rng.uniform(2, 4, k) * sc
    elif kind == "trend":
        ramp = np.arange(1, n + 1)[:, None] / n
        w[seg, chans] += ramp * sign * rng.uniform(3, 5, k) * sc
    elif kind == "frequency":
        pos = a + np.arange(n) * rng.uniform(2.5, 4)
        for j, c in enumerate(chans):
            w[seg, c] = np.interp(pos, np.arange(L), w[:, c], period=L)
    elif kind == "variance":
        w[seg, chans] += rng.normal(0, 1, (n, k)) * rng.uniform(3, 5, k) * sc
    elif kind == "flatline":
        w[seg, chans] = w[a - 1, chans] if a > 0 else w[b % L, chans]
    elif kind == "pattern":
        mid = w[seg, chans].mean(axis=0)
        amp = np.maximum(np.abs(w[seg, chans] - mid).max(axis=0), 2 * sc)
        w[seg, chans] = mid + amp * np.where(w[seg, chans] >= mid, 1.0, -1.0)
    else:  # pragma: no cover - kinds are checked in fit
        raise ValueError(kind)
    return seg
