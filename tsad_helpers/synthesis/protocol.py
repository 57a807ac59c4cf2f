"""The data of TimeGAN's evaluation protocol (Yoon et al. 2019, reference code
github.com/jsyoon0823/TimeGAN): sequences of length 24, min-max scaled to [0, 1].

- :func:`sines`: 10,000 x 24 x 5 by default; each feature of each sequence is
  sin(f t + p) with f, p ~ U(0, 0.1), mapped to [0, 1] by (x + 1) / 2, as in the reference
  ``sine_data_generation``;
- :func:`stock_windows`: daily GOOG prices ``TimeGAN/stock_data.csv`` (Open, High, Low,
  Close, Adj_Close, Volume; 3,685 rows) under the data root: rows reversed (as the reference
  loader does), each column min-max scaled over the whole series, windows of 24 rows starting
  at 0 .. rows - 25 (stride 1; the reference loop stops one window early: 3,661 windows),
  shuffled with ``seed``.
"""

from __future__ import annotations

import numpy as np

from .. import datasets

STOCK_COLUMNS = ["Open", "High", "Low", "Close", "Adj_Close", "Volume"]


def sines(n: int = 10_000, seq_len: int = 24, dim: int = 5, seed: int = 0) -> np.ndarray:
    """TimeGAN's Sines: float32[n, seq_len, dim] in [0, 1]."""
    rng = np.random.default_rng(seed)
    freq = rng.uniform(0, 0.1, (n, 1, dim))
    phase = rng.uniform(0, 0.1, (n, 1, dim))
    t = np.arange(seq_len)[None, :, None]
    return ((np.sin(freq * t + phase) + 1) * 0.5).astype(np.float32)


def stock_windows(root=None, seq_len: int = 24, seed: int = 0) -> np.ndarray:
    """TimeGAN's Stocks windows: float32[rows - seq_len, seq_len, 6] in [0, 1]."""
    values = datasets.read_table("TimeGAN/stock_data.csv", STOCK_COLUMNS, root)[::-1]
    if len(values) <= seq_len:
        raise datasets.DataFormatError(f"TimeGAN/stock_data.csv under the data root: "
                                       f"{len(values)} rows, fewer than seq_len={seq_len}")
    scaled = (values - values.min(axis=0)) / (values.max(axis=0) - values.min(axis=0) + 1e-7)
    windows = np.lib.stride_tricks.sliding_window_view(scaled, seq_len, axis=0)
    windows = windows.transpose(0, 2, 1)[:-1]  # as the reference loader
    return np.ascontiguousarray(windows[np.random.default_rng(seed).permutation(len(windows))],
                                dtype=np.float32)
