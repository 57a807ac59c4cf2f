"""Evaluation metrics for anomaly scores against point labels.

Conventions: ``scores`` float[T] (higher = more anomalous), ``labels`` 0/1 int[T], and a point
is predicted anomalous when ``score > threshold``. An *event* is a maximal run of labelled
points. Where a metric is undefined (no anomaly in the labels, say) it is NaN; precision with
no predicted point is 0, as in scikit-learn's ``zero_division=0``.

Threshold-free metrics (AUC-ROC, AUC-PR, VUS, best F1) come from one sort of the scores, so
:func:`evaluate` stays O(T log T); nothing is quadratic in the series length.

References
- PA: Xu et al., WWW 2018 (point adjustment). PA%K: Kim et al., AAAI 2022.
- VUS-ROC / VUS-PR: Paparrizos et al., PVLDB 15(11) 2022; the discretisation (``thresholds``
  points of the score ranking, windows 0..``window``) follows the authors' TSB-AD code.
- Range-based precision and recall: Tatbul et al., NeurIPS 2018.
- Affiliation precision and recall: Huet et al., KDD 2022 (see :mod:`tsad_helpers.affiliation`).
- Published-protocol VUS window: TSB-AD (Liu and Paparrizos, NeurIPS 2024 Datasets and
  Benchmarks) sets the VUS buffer to the series' dominant period, read from the
  autocorrelation of its first channel (:func:`period_window`); ``evaluate(...,
  period_series=x)`` adds ``vus_roc_period``/``vus_pr_period`` with that window beside the
  fixed-window ones, so tables can be read beside its leaderboard.
"""

from __future__ import annotations

import numpy as np

from . import events

KEYS = ("precision", "recall", "f1", "pa_precision", "pa_recall", "pa_f1", "pa_k_auc",
        "event_recall", "mean_detection_delay", "auc_roc", "auc_pr", "vus_roc", "vus_pr",
        "affiliation_precision", "affiliation_recall", "affiliation_f1", "range_precision",
        "range_recall", "range_f1", "best_f1", "best_f1_threshold")


def _check(scores, labels) -> tuple[np.ndarray, np.ndarray]:
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels)
    if scores.ndim != 1 or labels.ndim != 1:
        raise ValueError(f"scores and labels must be 1-D, got shapes {scores.shape} and "
                         f"{labels.shape}")
    if scores.shape != labels.shape:
        raise ValueError(f"scores has {len(scores)} points but labels has {len(labels)}")
    if len(scores) == 0:
        raise ValueError("scores and labels are empty")
    if not np.isfinite(scores).all():
        raise ValueError(f"scores contain {int((~np.isfinite(scores)).sum())} NaN or inf values")
    if not np.isin(labels, (0, 1)).all():
        raise ValueError("labels must be 0 or 1")
    return scores, labels.astype(np.int8)


def f1_from(precision: float, recall: float) -> float:
    if np.isnan(precision) or np.isnan(recall):
        return float("nan")
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def _pr(tp: float, n_pred: float, n_pos: float) -> tuple[float, float, float]:
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_pos if n_pos else float("nan")
    return precision, recall, f1_from(precision, recall)


# ---- threshold-dependent metrics ---------------------------------------------------------------

def point_adjust(pred, labels) -> np.ndarray:
    """Point-adjusted predictions: every point of an event counts as detected when any is."""
    pred = np.asarray(pred, dtype=bool)
    seg = events.segments(labels)
    hit = seg[_event_hits(pred, seg) > 0]
    marks = np.zeros(len(pred) + 1, dtype=np.int64)
    np.add.at(marks, hit[:, 0], 1)
    np.add.at(marks, hit[:, 1], -1)
    return pred | (np.cumsum(marks[:-1]) > 0)


def _event_hits(pred: np.ndarray, seg: np.ndarray) -> np.ndarray:
    """Detected points per event, int[n_events]."""
    if not len(seg):
        return np.zeros(0, dtype=np.int64)
    csum = np.concatenate([[0], np.cumsum(pred, dtype=np.int64)])
    return csum[seg[:, 1]] - csum[seg[:, 0]]


def pa_k_curve(pred, labels, ks=np.arange(101)) -> np.ndarray:
    """F1 after PA%K adjustment for each K in ``ks`` (percent).

    An event counts as wholly detected when the share of its points that are detected is
    greater than K %: K = 0 is point adjustment, K = 100 leaves the predictions unchanged.
    """
    pred = np.asarray(pred, dtype=bool)
    seg = events.segments(labels)
    n_pos = int(np.sum(labels))
    lengths = seg[:, 1] - seg[:, 0]
    hits = _event_hits(pred, seg)
    fp = int(pred.sum()) - int(hits.sum())
    ratio = hits / np.maximum(lengths, 1)
    out = []
    for k in np.asarray(ks, dtype=np.float64):
        adjusted = ratio > k / 100.0
        tp = int(np.where(adjusted, lengths, hits).sum())
        out.append(_pr(tp, tp + fp, n_pos)[2])
    return np.asarray(out)


def detection_delays(pred, labels) -> np.ndarray:
    """Points from each event's start to its first detected point, for detected events."""
    pred = np.asarray(pred, dtype=bool)
    seg = events.segments(labels)
    hits = _event_hits(pred, seg)
    idx = np.flatnonzero(pred)
    first = idx[np.searchsorted(idx, seg[hits > 0, 0])] if len(idx) else np.zeros(0, int)
    return first - seg[hits > 0, 0]


# ---- range-based precision and recall (Tatbul et al. 2018) ----------------------------------

def _delta_cumsum(k: np.ndarray, length: np.ndarray, bias: str) -> np.ndarray:
    """sum_{i=1..k} delta(i, length) for the positional bias functions of Tatbul et al."""
    k = k.astype(np.float64)
    length = length.astype(np.float64)
    if bias == "flat":
        return k
    if bias == "back":
        return k * (k + 1) / 2
    if bias == "front":
        return k * (length + 1) - k * (k + 1) / 2
    if bias == "middle":
        h = np.floor(length / 2)
        low = np.minimum(k, h)
        high = np.maximum(k - h, 0)
        # i <= h contributes i; i > h contributes length - i + 1
        return (low * (low + 1) / 2 + high * (length + 1)
                - ((h + high) * (h + high + 1) / 2 - h * (h + 1) / 2))
    raise ValueError(f"bias must be flat, front, back or middle, got {bias!r}")


def _range_side(a: np.ndarray, b: np.ndarray, alpha: float, cardinality: str,
                bias: str) -> float:
    """Mean over ranges ``a`` of alpha*existence + (1-alpha)*cardinality*sum omega, against
    ranges ``b``; ranges are [start, end) rows. Recall is (real, pred), precision (pred, real)."""
    if not len(a):
        return float("nan")
    if not len(b):
        return 0.0
    # pairs (i, j) of overlapping ranges: b's with start < a_end and end > a_start
    first = np.searchsorted(b[:, 1], a[:, 0], side="right")
    last = np.searchsorted(b[:, 0], a[:, 1], side="left")
    count = np.maximum(last - first, 0)
    i = np.repeat(np.arange(len(a)), count)
    j = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count) \
        + np.repeat(first, count)
    lo = np.maximum(a[i, 0], b[j, 0]) - a[i, 0]  # 0-based offsets inside range a_i
    hi = np.minimum(a[i, 1], b[j, 1]) - a[i, 0]
    length = a[i, 1] - a[i, 0]
    omega = (_delta_cumsum(hi, length, bias) - _delta_cumsum(lo, length, bias)) \
        / _delta_cumsum(length, length, bias)
    overlap = np.bincount(i, weights=omega, minlength=len(a))
    if cardinality == "reciprocal":
        gamma = 1.0 / np.maximum(count, 1)
    elif cardinality == "one":
        gamma = np.ones(len(a))
    else:
        raise ValueError(f"cardinality must be 'reciprocal' or 'one', got {cardinality!r}")
    per_range = alpha * (count > 0) + (1 - alpha) * gamma * overlap
    return float(per_range.mean())


def range_precision_recall(pred, labels, alpha: float = 0.0, cardinality: str = "reciprocal",
                           bias: str = "flat") -> tuple[float, float]:
    """Range-based precision and recall of Tatbul et al. (NeurIPS 2018).

    alpha: weight of the existence reward in recall (precision uses 0); cardinality:
    ``"reciprocal"`` (1/number of overlapping ranges) or ``"one"``; bias: positional bias
    ``"flat"``, ``"front"``, ``"back"`` or ``"middle"``.
    """
    real = events.segments(labels)
    predicted = events.segments(np.asarray(pred, dtype=np.int8))
    recall = _range_side(real, predicted, alpha, cardinality, bias)
    precision = _range_side(predicted, real, 0.0, cardinality, bias)
    if not len(predicted):
        precision = 0.0
    return precision, recall


# ---- threshold-free metrics ------------------------------------------------------------------

class _Ranking:
    """The scores sorted once (descending) with the cumulative label counts."""

    def __init__(self, scores: np.ndarray, labels: np.ndarray):
        self.order = np.argsort(-scores, kind="stable")
        self.sorted = scores[self.order]
        self.tp = np.cumsum(labels[self.order], dtype=np.int64)
        # last position of each run of equal scores: the distinct thresholds
        change = np.flatnonzero(np.diff(self.sorted) != 0)
        self.cut = np.append(change, len(scores) - 1)
        self.n_pos = int(labels.sum())
        self.n = len(scores)

    def roc_pr(self) -> tuple[float, float]:
        """AUC-ROC (trapezoid over distinct thresholds) and average precision, as in
        scikit-learn's roc_auc_score and average_precision_score."""
        if self.n_pos in (0, self.n):
            return float("nan"), float("nan")
        tp = self.tp[self.cut].astype(np.float64)
        fp = self.cut + 1 - tp
        tpr = np.concatenate([[0.0], tp / self.n_pos])
        fpr = np.concatenate([[0.0], fp / (self.n - self.n_pos)])
        auc_roc = float(np.trapezoid(tpr, fpr))
        precision = tp / (self.cut + 1)
        auc_pr = float(np.sum(np.diff(tpr) * precision))
        return auc_roc, auc_pr

    def best_f1(self) -> tuple[float, float, float, float]:
        """Oracle F1 over all thresholds; returns f1, threshold (for ``score > t``),
        precision, recall."""
        if self.n_pos == 0:
            return float("nan"), float("nan"), float("nan"), float("nan")
        tp = self.tp[self.cut].astype(np.float64)
        precision = tp / (self.cut + 1)
        recall = tp / self.n_pos
        with np.errstate(invalid="ignore", divide="ignore"):
            f1 = np.where(tp > 0, 2 * precision * recall / (precision + recall), 0.0)
        k = int(np.argmax(f1))
        nxt = self.cut[k] + 1
        threshold = self.sorted[nxt] if nxt < self.n else np.nextafter(self.sorted[-1], -np.inf)
        return float(f1[k]), float(threshold), float(precision[k]), float(recall[k])


def _vus_segments(seg_incl: np.ndarray, half: int, n: int) -> np.ndarray:
    """Events widened by ``half`` on each side and merged where they touch (inclusive ends),
    as TSB-AD's ``new_sequence``."""
    separate = seg_incl[:-1, 1] + half < seg_incl[1:, 0] - half
    starts = np.concatenate([[max(seg_incl[0, 0] - half, 0)], seg_incl[1:, 0][separate] - half])
    ends = np.concatenate([seg_incl[:-1, 1][separate] + half, [min(seg_incl[-1, 1] + half, n - 1)]])
    return np.column_stack([starts, ends]).astype(np.int64)


def _ramp_weights(seg_incl: np.ndarray, window: int, labels: np.ndarray):
    """Indices and weights of the sqrt-decaying soft labels around each event (buffer of
    window//2 points each side, weights capped at 1, labelled points excluded)."""
    half = window // 2
    n = len(labels)
    if half == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    kernel = np.sqrt(1 - np.arange(1, half + 1) / window)
    if 2 * half * len(seg_incl) > n:  # dense events: one convolution per side is cheaper
        ends = np.bincount(seg_incl[:, 1], minlength=n).astype(np.float64)
        starts = np.bincount(seg_incl[:, 0], minlength=n).astype(np.float64)
        full = np.concatenate([[0.0], kernel])
        total = (np.convolve(ends, full)[:n]
                 + np.convolve(starts[::-1], full)[:n][::-1])
    else:
        d = np.arange(1, half + 1)
        idx = np.concatenate([seg_incl[:, 1:2] + d, seg_incl[:, 0:1] - d], axis=1).ravel()
        val = np.tile(np.concatenate([kernel, kernel]), len(seg_incl))
        keep = (idx >= 0) & (idx < n)
        total = np.bincount(idx[keep], weights=val[keep], minlength=n)
    where = np.flatnonzero(total > 0)
    where = where[labels[where] == 0]
    return where, np.minimum(total[where], 1.0)


def vus(scores, labels, window: int = 100, thresholds: int = 250) -> tuple[float, float]:
    """VUS-ROC and VUS-PR: range-AUC-ROC and range-AUC-PR averaged over buffer windows
    0..``window`` (Paparrizos et al. 2022), at ``thresholds`` points of the score ranking.

    The buffer widens every event by ``window // 2`` on each side, so the measure grows with
    it even for random scores (VUS-PR of random scores with 3 short events in 1,000 points:
    .06 at window 0, .21 at 100, .41 at 250, .96 at 5,000): a window as long as the series
    is refused; keep it well below the spacing of the events (the period window, say)."""
    scores, labels = _check(scores, labels)
    if window < 0 or thresholds < 1:
        raise ValueError(f"window must be >= 0 and thresholds >= 1, got {window}, {thresholds}")
    if window >= len(scores):
        raise ValueError(f"vus window {window} is not shorter than the series "
                         f"({len(scores)} points): the buffer would cover it")
    seg = events.segments(labels)
    if not labels.any() or labels.all():
        return float("nan"), float("nan")
    n = len(scores)
    seg_incl = np.column_stack([seg[:, 0], seg[:, 1] - 1])
    rank = np.empty(n, dtype=np.int64)
    order = np.argsort(-scores, kind="stable")
    rank[order] = np.arange(n)
    rank_ext = np.append(rank, n)  # sentinel so a zone may end at the last point
    sorted_desc = scores[order]
    picks = np.linspace(0, n - 1, thresholds).astype(int)
    # number of points with score >= each picked threshold (ties included), increasing
    n_pred = n - np.searchsorted(np.sort(scores), sorted_desc[picks], side="left")
    # a point is predicted at threshold k when rank < n_pred[k], i.e. from bucket[point] on
    bucket = np.searchsorted(n_pred, rank, side="right")

    def predicted_mass(points, weights=None):
        """Sum of ``weights`` over ``points`` predicted at each threshold, float[thresholds]."""
        counts = np.bincount(bucket[points], weights=weights, minlength=thresholds + 1)
        return np.cumsum(counts)[:thresholds]

    tp_labelled = predicted_mass(np.flatnonzero(labels))
    p = float(labels.sum())
    aucs, aps = [], []
    for w in range(window + 1):
        idx, val = _ramp_weights(seg_incl, w, labels)
        tp_ramp = predicted_mass(idx, val)
        zones = _vus_segments(seg_incl, w // 2, n)
        bounds = np.column_stack([zones[:, 0], zones[:, 1] + 1]).ravel()
        first_rank = np.minimum.reduceat(rank_ext, bounds)[::2]  # best rank in each zone
        existence = np.cumsum(np.bincount(np.searchsorted(n_pred, first_rank, side="right"),
                                          minlength=thresholds + 1))[:thresholds] / len(zones)
        tp = tp_labelled + tp_ramp
        p_new = (p + p + tp_ramp) / 2
        tpr = np.minimum(tp / p_new, 1.0) * existence
        fpr = (n_pred - tp) / (n - p_new)
        precision = tp / n_pred
        tpr_c = np.concatenate([[0.0], tpr, [1.0]])
        fpr_c = np.concatenate([[0.0], fpr, [1.0]])
        aucs.append(np.dot(np.diff(fpr_c), (tpr_c[1:] + tpr_c[:-1]) / 2))
        aps.append(np.dot(np.diff(np.concatenate([[0.0], tpr])), precision))
    return float(np.mean(aucs)), float(np.mean(aps))


def period_window(series, max_lag: int = 400, skip: int = 3, default: int = 125,
                  max_points: int = 20_000) -> int:
    """The dominant period of a series as TSB-AD's benchmark picks its sliding window: the
    lag of the highest local maximum of the autocorrelation over lags ``skip``..``max_lag``
    of the first ``max_points`` points (first channel of a 2-D series); ``default`` when
    there is none or it lies outside lags 2*skip..300+skip (a constant or slowly drifting
    series, say). Returns an int >= 1."""
    from statsmodels.tsa.stattools import acf

    x = np.asarray(series, dtype=np.float64)
    if x.ndim == 2:
        x = x[:, 0]
    if x.ndim != 1 or len(x) < 2:
        raise ValueError(f"period_window: expected a series [T] or [T, C] with T >= 2, got "
                         f"shape {np.shape(series)}")
    x = x[:max_points]
    if not np.isfinite(x).all():
        raise ValueError("period_window: the series holds NaN/inf values")
    if np.ptp(x) == 0:
        return default
    r = acf(x, nlags=min(max_lag, len(x) - 1), fft=True)[skip:]
    inner = np.flatnonzero((r[1:-1] > r[:-2]) & (r[1:-1] > r[2:])) + 1
    if not len(inner):
        return default
    best = inner[np.argmax(r[inner])]
    if best < skip or best > 300:
        return default
    return int(best + skip)


# ---- everything at once ----------------------------------------------------------------------

def evaluate(scores, labels, threshold, *, vus_window: int = 100,
             vus_thresholds: int = 250, period_series=None, range_alpha: float = 0.0,
             range_cardinality: str = "reciprocal", range_bias: str = "flat") -> dict:
    """All metrics of one score series at one threshold (``score > threshold`` = anomalous).

    threshold: a number, or float[T] with one threshold per point (e.g. from SPOT).

    Label-free keys depend on ``threshold``: precision, recall, f1 (point-wise); pa_* (point
    adjusted); pa_k_auc (area under F1 of PA%K over K = 0..100 %, curve in ``pa_k_f1``);
    event_recall; mean_detection_delay (points, detected events only); affiliation_* and
    range_* (see module docstring). Threshold-free: auc_roc, auc_pr (average precision),
    vus_roc, vus_pr; with ``period_series`` (the scored series, [T] or [T, C]) also
    vus_roc_period, vus_pr_period at the window :func:`period_window` finds in it (the
    published TSB-AD protocol; ``period_window`` holds it). Oracle, chosen with the labels
    and so only for reference:
    best_f1, best_f1_threshold, best_f1_precision, best_f1_recall.
    """
    scores, labels = _check(scores, labels)
    threshold = np.asarray(threshold, dtype=np.float64)
    if threshold.ndim not in (0, 1) or threshold.ndim == 1 and threshold.shape != scores.shape:
        raise ValueError(f"threshold must be a number or have the shape of scores "
                         f"{scores.shape}, got {threshold.shape}")
    if not np.isfinite(threshold).all():
        raise ValueError("threshold must be finite")
    pred = scores > threshold
    n_pos = int(labels.sum())
    seg = events.segments(labels)
    out = {"threshold": float(threshold) if threshold.ndim == 0 else "per point",
           "n_points": len(scores), "n_anomalies": n_pos,
           "n_events": len(seg), "n_predicted": int(pred.sum())}
    tp = int((pred & (labels == 1)).sum())
    out["precision"], out["recall"], out["f1"] = _pr(tp, int(pred.sum()), n_pos)
    adjusted = point_adjust(pred, labels)
    tp_pa = int((adjusted & (labels == 1)).sum())
    out["pa_precision"], out["pa_recall"], out["pa_f1"] = _pr(tp_pa, int(adjusted.sum()), n_pos)
    curve = pa_k_curve(pred, labels)
    out["pa_k_f1"] = [round(float(v), 6) for v in curve]
    out["pa_k_auc"] = float(np.trapezoid(curve, np.arange(101) / 100)) if n_pos else float("nan")
    hits = _event_hits(pred, seg)
    out["event_recall"] = float((hits > 0).mean()) if len(seg) else float("nan")
    delays = detection_delays(pred, labels)
    out["mean_detection_delay"] = float(delays.mean()) if len(delays) else float("nan")
    ranking = _Ranking(scores, labels)
    out["auc_roc"], out["auc_pr"] = ranking.roc_pr()
    out["vus_roc"], out["vus_pr"] = vus(scores, labels, vus_window, vus_thresholds)
    out["vus_window"] = vus_window
    if period_series is not None:
        if len(period_series) != len(scores):
            raise ValueError(f"period_series has {len(period_series)} points for "
                             f"{len(scores)} scores")
        out["period_window"] = period_window(period_series)
        out["vus_roc_period"], out["vus_pr_period"] = vus(scores, labels, out["period_window"],
                                                          vus_thresholds)
    from .affiliation import affiliation
    ap, ar = affiliation(pred, labels)
    out["affiliation_precision"], out["affiliation_recall"] = ap, ar
    out["affiliation_f1"] = f1_from(ap, ar) if not np.isnan(ap) else (
        0.0 if n_pos else float("nan"))
    rp, rr = range_precision_recall(pred, labels, range_alpha, range_cardinality, range_bias)
    out["range_precision"], out["range_recall"], out["range_f1"] = rp, rr, f1_from(rp, rr)
    (out["best_f1"], out["best_f1_threshold"], out["best_f1_precision"],
     out["best_f1_recall"]) = ranking.best_f1()
    return out
