"""The embedded synthetic benchmark: multivariate series with typed, labelled anomalies.

Each entity is one continuous recording of ``train_length + test_length`` points; the training
part is anomaly-free and the test part carries ``events_per_type`` events of each kind in
:data:`ANOMALY_TYPES`. All channels share latent structure: a seasonal basis (a fundamental and
its second harmonic, period ``period``), a slow trend and an AR(1) noise factor, mixed into the
channels with channel-specific loadings, plus independent channel noise. The entity's seed
fixes everything, so the same call always returns the same arrays.

Anomaly kinds (magnitudes in units of the channel's training standard deviation ``s``):

- ``point``: one point moved by 4-7 s;
- ``contextual``: one point at a seasonal peak mirrored to the opposite phase: a value that is
  normal for the channel overall but wrong at that time;
- ``level_shift``: a segment shifted by 2-4 s;
- ``trend``: a segment with a linear drift growing to 3-5 s;
- ``frequency``: the seasonal part runs 2.5-4 times faster over a segment;
- ``variance``: the noise is 3-5 times larger over a segment;
- ``flatline``: the signal is stuck at the value just before the segment;
- ``pattern``: the seasonal shape becomes a square wave of the same amplitude.
"""

from __future__ import annotations

import numpy as np

ANOMALY_TYPES = ("point", "contextual", "level_shift", "trend", "frequency", "variance",
                 "flatline", "pattern")
ENTITIES = ("syn-1", "syn-2", "syn-3", "syn-4")

# (min, max) segment length for each kind, in points
SEGMENT_LENGTHS = {
    "point": (1, 1), "contextual": (1, 1), "level_shift": (20, 50), "trend": (30, 60),
    "frequency": (40, 80), "variance": (20, 50), "flatline": (20, 50), "pattern": (40, 80),
}
WARMUP = 100  # first test points kept normal


def entities() -> list[str]:
    return list(ENTITIES)


class _Latent:
    """The shared latent structure of one entity and its channel loadings."""

    def __init__(self, rng: np.random.Generator, n_channels: int, length: int):
        self.period = int(rng.integers(40, 80))
        self.omega = 2 * np.pi / self.period
        self.season_w = rng.normal(0, 1, (4, n_channels)) * np.array([[1.0], [1.0], [0.4], [0.4]])
        self.season_w *= rng.uniform(0.8, 2.0, n_channels) / np.linalg.norm(self.season_w, axis=0)
        t = np.arange(length, dtype=np.float64)
        trend_latent = np.stack([t / length, np.sin(2 * np.pi * t / (length / 1.5))], axis=1)
        self.trend = trend_latent @ rng.normal(0, 0.6, (2, n_channels))
        ar = np.zeros(length)
        shocks = rng.normal(0, 1, length)
        for i in range(1, length):
            ar[i] = 0.9 * ar[i - 1] + shocks[i] * np.sqrt(1 - 0.81)
        self.noise = (ar[:, None] * rng.uniform(0.1, 0.3, n_channels)
                      + rng.normal(0, 1, (length, n_channels)) * rng.uniform(0.05, 0.2, n_channels))
        self.level = rng.normal(0, 2, n_channels)
        self.seasonal = self.season_at(t)

    def season_at(self, t: np.ndarray) -> np.ndarray:
        """Seasonal component [len(t), C] evaluated at (possibly warped) times ``t``."""
        w = self.omega * t[:, None]
        basis = np.concatenate([np.sin(w), np.cos(w), np.sin(2 * w), np.cos(2 * w)], axis=1)
        return basis @ self.season_w

    def series(self) -> np.ndarray:
        return self.level + self.trend + self.seasonal + self.noise


def _place_events(rng, n_events_per_type, test_length):
    kinds = [k for k in ANOMALY_TYPES for _ in range(n_events_per_type)]
    rng.shuffle(kinds)
    slot = (test_length - WARMUP) // max(len(kinds), 1)
    longest = max(hi for _, hi in SEGMENT_LENGTHS.values())
    if slot < longest + 10:
        raise ValueError(
            f"test_length={test_length} is too short for {len(kinds)} events: each needs a "
            f"slot of at least {longest + 10} points (use test_length >= "
            f"{WARMUP + len(kinds) * (longest + 10)} or fewer events_per_type)")
    events = []
    for i, kind in enumerate(kinds):
        lo, hi = SEGMENT_LENGTHS[kind]
        length = int(rng.integers(lo, hi + 1))
        first = WARMUP + i * slot + 5
        start = int(rng.integers(first, first + slot - length - 9))
        events.append((kind, start, length, first + slot - 10))
    return events


def _inject(kind, x, latent, offset, start, length, chans, scale, rng):
    """Modify ``x`` (full series) in place over test positions [start, start+length)."""
    a, b = offset + start, offset + start + length
    sign = rng.choice([-1.0, 1.0], len(chans))
    if kind == "point":
        x[a, chans] += sign * rng.uniform(4, 7, len(chans)) * scale[chans]
    elif kind == "contextual":
        x[a, chans] -= 2 * latent.seasonal[a, chans]
    elif kind == "level_shift":
        x[a:b, chans] += sign * rng.uniform(2, 4, len(chans)) * scale[chans]
    elif kind == "trend":
        ramp = np.arange(1, length + 1)[:, None] / length
        x[a:b, chans] += ramp * sign * rng.uniform(3, 5, len(chans)) * scale[chans]
    elif kind == "frequency":
        speed = rng.uniform(2.5, 4)
        warped = latent.season_at(a + np.arange(1, length + 1) * speed)
        x[a:b, chans] += warped[:, chans] - latent.seasonal[a:b, chans]
    elif kind == "variance":
        x[a:b, chans] += latent.noise[a:b, chans] * (rng.uniform(3, 5, len(chans)) - 1)
    elif kind == "flatline":
        x[a:b, chans] = x[a - 1, chans]
    elif kind == "pattern":
        seas = latent.seasonal[a:b, chans]
        amp = np.abs(latent.seasonal[:offset, chans]).max(axis=0)
        x[a:b, chans] += amp * np.sign(seas) * 0.8 - seas
    else:  # pragma: no cover - kinds come from ANOMALY_TYPES
        raise ValueError(kind)


def _contextual_position(latent, offset, start, stop, chan):
    """Move a contextual event to the strongest seasonal peak in test positions [start, stop)."""
    stop = min(stop, start + latent.period)
    window = np.abs(latent.seasonal[offset + start: offset + stop, chan])
    return start + int(np.argmax(window))


def generate(entity: str = "syn-1", seed: int = 0, n_channels: int = 10,
             train_length: int = 4000, test_length: int = 4000,
             events_per_type: int = 2) -> dict:
    """Generate one entity. Returns the fields of :class:`~tsad_helpers.datasets.Dataset`.

    train: float32[train_length, n_channels] (no anomalies); test: float32[test_length,
    n_channels]; test_labels: int8[test_length]; anomaly_types: object[test_length] with one
    of :data:`ANOMALY_TYPES` or ''; meta["events"]: one dict per event (type, start, end
    exclusive, channels), positions in the test part.
    """
    if entity not in ENTITIES:
        raise ValueError(f"unknown synthetic entity {entity!r}; known: {', '.join(ENTITIES)}")
    if n_channels < 1 or train_length < 1:
        raise ValueError(f"n_channels and train_length must be positive, got {n_channels}, "
                         f"{train_length}")
    if events_per_type < 0:
        raise ValueError(f"events_per_type must be >= 0, got {events_per_type}")
    rng = np.random.default_rng([seed, ENTITIES.index(entity)])
    latent = _Latent(rng, n_channels, train_length + test_length)
    x = latent.series()
    scale = x[:train_length].std(axis=0)
    labels = np.zeros(test_length, dtype=np.int8)
    types = np.full(test_length, "", dtype=object)
    events = []
    max_chans = max(1, min(3, n_channels // 3))
    for kind, start, length, slot_end in _place_events(rng, events_per_type, test_length):
        chans = np.sort(rng.choice(n_channels, int(rng.integers(1, max_chans + 1)),
                                   replace=False))
        if kind == "contextual":
            start = _contextual_position(latent, train_length, start, slot_end, chans[0])
        _inject(kind, x, latent, train_length, start, length, chans, scale, rng)
        labels[start:start + length] = 1
        types[start:start + length] = kind
        events.append({"type": kind, "start": start, "end": start + length,
                       "channels": chans.tolist()})
    return {
        "entity": entity,
        "train": x[:train_length],
        "test": x[train_length:],
        "test_labels": labels,
        "channels": [f"ch{i:02d}" for i in range(n_channels)],
        "anomaly_types": types,
        "meta": {"seed": seed, "period": latent.period, "events": events,
                 "generator": "tsad_helpers.datasets.synthetic"},
    }
