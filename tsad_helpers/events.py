"""Anomaly events: contiguous runs of 1s in a 0/1 label vector."""

from __future__ import annotations

import numpy as np


def segments(labels) -> np.ndarray:
    """Events of ``labels`` (int[T], 0/1) as int64[n_events, 2]: start, end (exclusive)."""
    y = np.asarray(labels).astype(np.int8).ravel()
    if y.size == 0:
        return np.zeros((0, 2), dtype=np.int64)
    edges = np.diff(np.concatenate([[0], y, [0]]))
    return np.stack([np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)], axis=1)


def lengths(labels) -> np.ndarray:
    """Length of each event of ``labels``, int64[n_events]."""
    seg = segments(labels)
    return seg[:, 1] - seg[:, 0]
