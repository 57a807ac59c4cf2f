"""The matrix of a series' sliding windows (stride 1, each window flattened step by step),
without building it.

A series of T points and C channels has n = T - L + 1 windows of L steps; their matrix is
n x (L*C), about L times the series (SMD: 23.7k x 3,800, 720 MB in float64). Two facts make
it unnecessary:

- its feature covariance has lag structure: the product of features (t1, c1) and (t2, c2)
  summed over all windows is the lag-(t2 - t1) cross-product of channels c1 and c2 summed
  over the points i + t1, i < n, i.e. one lag product over the whole series minus a few
  terms at each end (:func:`window_moments`: the lag products of every channel pair by FFT,
  O(C^2 T log T), instead of a product of D x n by n x D, D = L*C);
- its product with a vector of feature weights is a correlation of the series with the
  weights, one FFT per channel (:class:`LaggedWindows`).
"""

from __future__ import annotations

import numpy as np


def window_moments(z: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Feature means [L, C] and the feature covariance (ddof 0) [L*C, L*C] of the windows of
    ``z`` [T, C] (float64), features ordered step by step (index t * C + c)."""
    T, C = z.shape
    L, n = window, len(z) - window + 1
    if n < 2:
        raise ValueError(f"a series of {T} points has fewer than 2 windows of {L}")
    csum = np.concatenate([np.zeros((1, C)), np.cumsum(z, axis=0)])
    mean = (csum[np.arange(L) + n] - csum[np.arange(L)]) / n  # [L, C]
    # every lag-d cross-product over the whole series at once, by FFT, a channel at a time:
    # lag[d, c1, c2] = sum over j of z[j, c1] z[j + d, c2]
    from scipy.fft import irfft, next_fast_len, rfft

    nfft = next_fast_len(T + L, real=True)
    zf = rfft(z, nfft, axis=0)
    lag = np.empty((L, C, C))
    for c in range(C):
        lag[:, c, :] = irfft(np.conj(zf[:, c:c + 1]) * zf, nfft, axis=0)[:L]
    second = np.empty((L, C, L, C))
    for d in range(L):
        full = lag[d]
        starts = np.arange(L - d)  # t1; t2 = t1 + d
        # terms before the first window's step t1: j < t1
        head = np.zeros((L - d, C, C))
        if L - d > 1:
            head[1:] = np.cumsum(np.einsum("jc,jk->jck", z[:L - d - 1], z[d:L - 1]), axis=0)
        # terms after the last window's step t1: n + t1 <= j <= T - 1 - d
        tail = np.zeros((L - d, C, C))
        if L - d > 1:
            outer = np.einsum("jc,jk->jck", z[n:T - d], z[n + d:T])  # j = n .. T-1-d
            tail[:-1] = np.cumsum(outer[::-1], axis=0)[::-1]
        block = (full - head - tail) / n  # [L - d, C, C]
        second[starts, :, starts + d, :] = block
        if d:
            second[starts + d, :, starts, :] = block.transpose(0, 2, 1)
    m = mean.reshape(-1)
    cov = second.reshape(L * C, L * C) - np.outer(m, m)
    return mean, cov


class LaggedWindows:
    """The windows of ``z`` [T, C] (stride 1, flattened step by step), standardised per
    feature as (value - mean[t, c]) * scale[t, c], behind the two products the PCA scores
    need: :meth:`dot` (window matrix times feature weights, by FFT correlation) and
    :meth:`sq_norms` (each window's squared norm). Channels are centred on the series'
    means first, which changes neither and keeps the expanded squares accurate."""

    def __init__(self, z: np.ndarray, window: int, mean: np.ndarray, scale: np.ndarray):
        from scipy.fft import next_fast_len, rfft

        centre = z.mean(axis=0)
        self.z = z - centre
        self.mean, self.scale, self.window = mean - centre, scale, window
        self.n = len(z) - window + 1
        self.nfft = next_fast_len(len(z) + window - 1, real=True)
        self.zf = rfft(self.z, self.nfft, axis=0)  # [F, C]

    def _correlate(self, yf, w):
        """sum over t of y[i + t] @ w[t] for every window i: [n, K], from y's FFT [F, C] and
        w [L, C, K] (a correlation, computed as a convolution with the reversed weights)."""
        from scipy.fft import irfft, rfft

        wf = rfft(w[::-1], self.nfft, axis=0)
        out = irfft(np.einsum("fc,fck->fk", yf, wf), self.nfft, axis=0)
        return out[self.window - 1:self.window - 1 + self.n]

    def dot(self, w: np.ndarray) -> np.ndarray:
        """Standardised windows [n, L*C] times ``w`` [L*C, K]: [n, K]."""
        w = w.reshape(self.window, -1, w.shape[1]) * self.scale[:, :, None]
        return self._correlate(self.zf, w) - np.einsum("tc,tck->k", self.mean, w)

    def sq_norms(self) -> np.ndarray:
        """Squared norm of each standardised window: [n]."""
        from scipy.fft import rfft

        s2 = self.scale ** 2
        squares = self._correlate(rfft(self.z ** 2, self.nfft, axis=0), s2[:, :, None])
        cross = self._correlate(self.zf, (self.mean * s2)[:, :, None])
        return (squares - 2 * cross)[:, 0] + (self.mean ** 2 * s2).sum()
