"""Affiliation precision and recall (Huet, Navarro and Rossi, KDD 2022), in closed form.

Point ``i`` of a 0/1 vector is the interval ``[i, i+1)``; events are maximal runs. The series
``[0, T)`` is cut into one *affiliation zone* per ground-truth event J (boundaries halfway
between consecutive events). Within the zone E of J:

- precision: for every predicted instant x in E, the probability that a point drawn uniformly
  in E lies at least as far from J as x does; averaged over the predicted length in E;
- recall: for every instant y of J, the probability that a point X drawn uniformly in E lies
  at least as far from y as the closest predicted interval does (J is cut between the
  predicted intervals of E at their midpoints); averaged over J, and 0 when E holds no
  prediction.

Precision is the mean over zones that hold a prediction (NaN when none does); recall the mean
over all zones. Both survival functions are piecewise linear in the distance, so every integral is a
closed-form sum of clipped quadratics; nothing is sampled.
"""

from __future__ import annotations

import numpy as np

from . import events


def _ramp_integral(c, d1, d2):
    """Integral of max(0, c - d) for d from d1 to d2 (arrays, d1 <= d2)."""
    def anti(d):
        m = np.minimum(d, c)
        return c * m - m * m / 2
    return anti(d2) - anti(d1)


def _survival_integral(u, v, t1, t2, e1, e2):
    """Integral over x in [u, v] of P(dist(X, [t1, t2]) >= dist(x, [t1, t2])), X ~ U[e1, e2].

    All arguments broadcast; requires e1 <= t1 <= t2 <= e2 and u <= v inside [e1, e2]."""
    width = e2 - e1
    left_c, right_c = t1 - e1, e2 - t2
    inside = np.clip(np.minimum(v, t2) - np.maximum(u, t1), 0, None)
    # the part of [u, v] left of t1: distances t1 - min(v, t1) .. t1 - u
    lu, lv = u, np.minimum(v, t1)
    has_left = lv > lu
    dl1, dl2 = np.where(has_left, t1 - lv, 0), np.where(has_left, t1 - lu, 0)
    left = _ramp_integral(left_c, dl1, dl2) + _ramp_integral(right_c, dl1, dl2)
    # the part right of t2: distances max(u, t2) - t2 .. v - t2
    ru, rv = np.maximum(u, t2), v
    has_right = rv > ru
    dr1, dr2 = np.where(has_right, ru - t2, 0), np.where(has_right, rv - t2, 0)
    right = _ramp_integral(left_c, dr1, dr2) + _ramp_integral(right_c, dr1, dr2)
    return inside + (left + right) / width


def _recall_integral(a, b, i1, i2, e1, e2):
    """Integral over y in [a, b] of P(|X - y| >= dist(y, [i1, i2])), X ~ U[e1, e2].

    Left of the interval the distance is to its start p = i1, and
    |{x in E: |x - y| >= p - y}| = max(0, 2y - p - e1) + (e2 - p); right of it symmetrically
    with p = i2. With d = |y - p| both are max(0, c - 2d) + const."""
    width = e2 - e1
    inside = np.clip(np.minimum(b, i2) - np.maximum(a, i1), 0, None)
    lb = np.minimum(b, i1)
    has_left = lb > a
    dl1, dl2 = np.where(has_left, i1 - lb, 0), np.where(has_left, i1 - a, 0)
    left = _ramp_integral(i1 - e1, 2 * dl1, 2 * dl2) / 2 + (e2 - i1) * (dl2 - dl1)
    ra = np.maximum(a, i2)
    has_right = b > ra
    dr1, dr2 = np.where(has_right, ra - i2, 0), np.where(has_right, b - i2, 0)
    right = _ramp_integral(e2 - i2, 2 * dr1, 2 * dr2) / 2 + (i2 - e1) * (dr2 - dr1)
    return inside + (left + right) / width


def _zone_bounds(starts, ends, lo, hi):
    """Affiliation zones of sorted disjoint intervals within [lo, hi]."""
    mids = (ends[:-1] + starts[1:]) / 2
    return np.concatenate([[lo], mids]), np.concatenate([mids, [hi]])


def affiliation(pred, labels) -> tuple[float, float]:
    """Affiliation (precision, recall) of 0/1 predictions against 0/1 labels.

    Returns (nan, nan) when the labels hold no event, and precision nan when nothing is
    predicted.
    """
    gt = events.segments(labels).astype(np.float64)
    pr = events.segments(np.asarray(pred, dtype=np.int8)).astype(np.float64)
    if not len(gt):
        return float("nan"), float("nan")
    n = float(len(labels))
    z_lo, z_hi = _zone_bounds(gt[:, 0], gt[:, 1], 0.0, n)
    precisions, recalls = [], []
    # predicted intervals overlapping each zone: a contiguous slice of the sorted intervals
    first = np.searchsorted(pr[:, 1], z_lo, side="right")
    last = np.searchsorted(pr[:, 0], z_hi, side="left")
    for (j1, j2), e1, e2, f, g in zip(gt, z_lo, z_hi, first, last):
        # predicted intervals cut to the zone
        u = np.maximum(pr[f:g, 0], e1)
        v = np.minimum(pr[f:g, 1], e2)
        keep = v > u
        u, v = u[keep], v[keep]
        if not len(u):
            recalls.append(0.0)
            continue
        precisions.append(_survival_integral(u, v, j1, j2, e1, e2).sum() / (v - u).sum())
        # recall: J cut by the zones of the predicted intervals inside E
        p_lo, p_hi = _zone_bounds(u, v, e1, e2)
        a = np.clip(p_lo, j1, j2)
        b = np.clip(p_hi, j1, j2)
        recalls.append(_recall_integral(a, b, u, v, e1, e2).sum() / (j2 - j1))
    precision = float(np.mean(precisions)) if precisions else float("nan")
    return precision, float(np.mean(recalls))
