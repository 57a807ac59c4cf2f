"""Rolling-window stratified cross-validation over contiguous time blocks.

``RollingWindowStratifiedSplit`` follows scikit-learn's splitter contract (``split(X, y)``
yields index arrays, ``get_n_splits``) like ``TimeSeriesSplit``, with promises that matter for
anomaly detection:

- every validation block is contiguous and comes after its training block, with at least
  ``gap`` points between them (use ``gap >= window - 1`` so no window spans both);
- no anomaly event is cut by a validation block's edges, and every validation block holds at
  least ``min_events`` whole events: block edges start on an equal-length grid and are then
  moved, never into an event, until each block has its events; where that cannot be
  repaired, the blocks are built from the events instead (the last ``n_splits * min_events``
  events, ``min_events`` per block, edges midway between them), so a split is found whenever
  one exists;
- ``mode="rolling"`` trains on a window of fixed length before each block (the length of the
  first fold's training part, or ``max_train_size``); ``"expanding"`` on everything before it;
- labels that cannot satisfy the request raise a ValueError saying why.

Indices are returned as ``np.arange`` ranges; the data is never copied.
"""

from __future__ import annotations

import numpy as np

from . import events


class RollingWindowStratifiedSplit:
    """Contiguous-block CV for 0/1-labelled series. See the module docstring."""

    def __init__(self, n_splits: int = 5, gap: int = 0, min_events: int = 1,
                 mode: str = "rolling", max_train_size: int | None = None):
        self.n_splits = n_splits
        self.gap = gap
        self.min_events = min_events
        self.mode = mode
        self.max_train_size = max_train_size

    def get_n_splits(self, X=None, y=None, groups=None) -> int:
        return self.n_splits

    def _validate(self, n: int) -> None:
        if not isinstance(self.n_splits, (int, np.integer)) or self.n_splits < 1:
            raise ValueError(f"n_splits must be a positive integer, got {self.n_splits!r}")
        if self.gap < 0 or self.min_events < 0:
            raise ValueError(f"gap and min_events must be >= 0, got {self.gap}, {self.min_events}")
        if self.mode not in ("rolling", "expanding"):
            raise ValueError(f"mode must be 'rolling' or 'expanding', got {self.mode!r}")
        if self.max_train_size is not None and self.max_train_size < 1:
            raise ValueError(f"max_train_size must be >= 1, got {self.max_train_size}")
        if n < self.n_splits + 1:
            raise ValueError(f"{n} points cannot make {self.n_splits} validation blocks "
                             "and a training part")

    def boundaries(self, y) -> np.ndarray:
        """Validation block edges, int[n_splits + 1]: block k is [b[k], b[k+1])."""
        y = self._labels(y)
        n = len(y)
        self._validate(n)
        seg = events.segments(y)
        size = n // (self.n_splits + 1)
        b = np.array([n - (self.n_splits - k) * size for k in range(self.n_splits + 1)])
        b[-1] = n
        b[:-1] = [_snap(int(p), seg) for p in b[:-1]]
        b = self._repair(b, seg)
        try:
            self._check(b, seg)
        except ValueError:
            b_events = self._from_events(seg, n)
            if b_events is None:
                raise
            self._check(b_events, seg)
            return b_events
        return b

    def _from_events(self, seg: np.ndarray, n: int) -> np.ndarray | None:
        """Edges built from the events: the last ``n_splits * min_events`` events split into
        consecutive groups of ``min_events``, one per block, interior edges midway between
        groups, the first edge midway between the previous event (or the start) and the
        first group (or at the group itself when the gap needs the room). None when there
        are too few events or no room for training data before the first block."""
        k, m = self.n_splits, max(self.min_events, 1)
        if len(seg) < k * m:
            return None
        used = seg[len(seg) - k * m:]
        b = np.empty(k + 1, dtype=np.int64)
        b[-1] = n
        for j in range(1, k):
            end_prev, start_next = used[j * m - 1, 1], used[j * m, 0]
            b[j] = (end_prev + start_next) // 2
        before = int(seg[len(seg) - k * m - 1, 1]) if len(seg) > k * m else 0
        start = int(used[0, 0])
        b[0] = (before + start) // 2
        if b[0] - self.gap < 1:
            b[0] = start
        return b if b[0] - self.gap >= 1 else None

    def _repair(self, b: np.ndarray, seg: np.ndarray) -> np.ndarray:
        """Move edges so every block holds min_events whole events (never cutting one)."""
        for k in range(self.n_splits):
            while _whole_events(seg, b[k], b[k + 1]) < self.min_events:
                if k + 1 < self.n_splits:  # take the next event from the following block
                    nxt = seg[seg[:, 0] >= b[k + 1]]
                    if not len(nxt) or nxt[0, 1] >= b[k + 2]:
                        break
                    b[k + 1] = nxt[0, 1]
                else:  # last block: reach back for the previous event
                    prev = seg[seg[:, 1] <= b[k]]
                    if not len(prev) or prev[-1, 0] <= (b[k - 1] if k else 0):
                        break
                    b[k] = prev[-1, 0]
        return b

    def _check(self, b: np.ndarray, seg: np.ndarray) -> None:
        counts = [_whole_events(seg, b[k], b[k + 1]) for k in range(self.n_splits)]
        if min(counts) < self.min_events:
            raise ValueError(
                f"the labels cannot give {self.n_splits} validation blocks with at least "
                f"{self.min_events} whole event(s) each: the series has {len(seg)} events and "
                f"the blocks would hold {counts}; use fewer splits or a smaller min_events")
        if b[0] - self.gap < 1:
            raise ValueError(f"no training data before the first validation block (it starts "
                             f"at {b[0]}, gap {self.gap}); use fewer splits or a smaller gap")
        if np.any(np.diff(b) < 1):
            raise ValueError(f"empty validation block after moving edges: {b.tolist()}")

    @staticmethod
    def _labels(y) -> np.ndarray:
        if y is None:
            raise ValueError("y (0/1 labels) is required: folds are placed around its events")
        y = np.asarray(y)
        if y.ndim != 1 or not np.isin(y, (0, 1)).all():
            raise ValueError(f"y must be a 1-D 0/1 label vector, got shape {y.shape}")
        return y

    def split(self, X, y, groups=None):
        """Yield (train_idx, val_idx) for each fold, in time order."""
        y = self._labels(y)
        if X is not None and len(X) != len(y):
            raise ValueError(f"X has {len(X)} rows but y has {len(y)}")
        b = self.boundaries(y)
        first_train = b[0] - self.gap
        for k in range(self.n_splits):
            stop = b[k] - self.gap
            if self.mode == "rolling":
                length = self.max_train_size or first_train
            else:
                length = self.max_train_size or stop
            yield np.arange(max(0, stop - length), stop), np.arange(b[k], b[k + 1])


def _snap(p: int, seg: np.ndarray) -> int:
    """Nearest edge at or around ``p`` that does not fall strictly inside an event."""
    inside = seg[(seg[:, 0] < p) & (seg[:, 1] > p)]
    if not len(inside):
        return p
    start, end = inside[0]
    return int(start) if p - start <= end - p else int(end)


def _whole_events(seg: np.ndarray, a: int, b: int) -> int:
    return int(np.sum((seg[:, 0] >= a) & (seg[:, 1] <= b)))


def plot_folds(splitter: RollingWindowStratifiedSplit, y, path=None, ax=None):
    """Draw the folds over the label track (training blue, validation orange, gap blank).

    Saves to ``path`` (PNG) when given; returns the matplotlib axes."""
    import matplotlib.pyplot as plt

    y = np.asarray(y)
    folds = list(splitter.split(None, y))
    own = ax is None
    if own:
        fig, ax = plt.subplots(figsize=(9, 0.5 * len(folds) + 1.2))
    t = np.arange(len(y))
    ax.fill_between(t, len(folds) + 0.1, len(folds) + 0.1 + 0.7 * y, step="post", color="red",
                    label="anomaly labels")
    for k, (train, val) in enumerate(folds):
        row = len(folds) - 1 - k
        ax.broken_barh([(train[0], len(train))], (row + 0.15, 0.7), color="tab:blue")
        ax.broken_barh([(val[0], len(val))], (row + 0.15, 0.7), color="tab:orange")
    ax.set_yticks([len(folds) - 1 - k + 0.5 for k in range(len(folds))] + [len(folds) + 0.45])
    ax.set_yticklabels([f"fold {k + 1}" for k in range(len(folds))] + ["labels"])
    ax.set_xlim(0, len(y))
    ax.set_xlabel("time index")
    ax.set_title(f"{type(splitter).__name__}(n_splits={splitter.n_splits}, gap={splitter.gap}, "
                 f"min_events={splitter.min_events}, mode={splitter.mode!r}): training blue, "
                 "validation orange", fontsize=8)
    if own and path is not None:
        from .results import save_figure
        save_figure(ax.figure, path)
    return ax
