"""Label-free thresholds: each takes anomaly scores only (from training data or a validation
tail of it), never labels.

- :func:`quantile`: the q-quantile of the scores;
- :func:`mean_std`: mean + k standard deviations;
- :func:`pot`: Peaks-Over-Threshold (Siffer et al., KDD 2017): a generalised Pareto
  distribution fitted to the excesses over a high initial quantile gives the score that is
  exceeded with probability ``risk``;
- :func:`spot`: streaming POT (SPOT, same paper): calibrated with POT on the training scores,
  then updated on each new normal-looking excess, giving one threshold per stream point;
- :func:`calibrated`: from scores of normal training windows *and* of synthetic anomalous
  windows (injected or generated; never real test labels): the threshold with the best F1
  between the two at a stated anomaly share.

``make(rule, **params)`` returns a callable ``scores -> threshold`` for the command line and
the notebooks; ``RULES`` lists the names.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import genpareto


def _scores(scores, what="scores") -> np.ndarray:
    s = np.asarray(scores, dtype=np.float64).ravel()
    if s.size == 0:
        raise ValueError(f"{what} are empty")
    if not np.isfinite(s).all():
        raise ValueError(f"{what} contain {int((~np.isfinite(s)).sum())} NaN or inf values")
    return s


def quantile(scores, q: float = 0.99) -> float:
    """The ``q``-quantile of ``scores`` (float[N]); a point is anomalous above it."""
    if not 0 < q < 1:
        raise ValueError(f"q must be in (0, 1), got {q}")
    return float(np.quantile(_scores(scores), q))


def mean_std(scores, k: float = 3.0) -> float:
    """mean + ``k`` * standard deviation of ``scores``."""
    s = _scores(scores)
    return float(s.mean() + k * s.std())


def _gpd_fit(excesses: np.ndarray) -> tuple[float, float]:
    """Maximum-likelihood (shape gamma, scale sigma) of a GPD on positive excesses."""
    if len(excesses) < 3 or np.ptp(excesses) == 0:
        return 0.0, float(max(excesses.mean(), 1e-12))
    gamma, _, sigma = genpareto.fit(excesses, floc=0)
    return float(gamma), float(sigma)


def _pot_quantile(t: float, gamma: float, sigma: float, risk: float, n: int, n_t: int) -> float:
    """z_q = t + sigma/gamma * ((risk n / N_t)^-gamma - 1)  (t - sigma log(.) when gamma = 0)."""
    r = risk * n / n_t
    if abs(gamma) < 1e-8:
        return t - sigma * math.log(r)
    return t + sigma / gamma * (r ** (-gamma) - 1)


def pot(scores, risk: float = 1e-3, level: float = 0.98) -> float:
    """POT threshold: the score exceeded with probability ``risk`` under a GPD tail model
    fitted above the ``level``-quantile of ``scores``."""
    s = _scores(scores)
    if not 0 < risk < 1 or not 0 < level < 1:
        raise ValueError(f"risk and level must be in (0, 1), got {risk} and {level}")
    t = float(np.quantile(s, level))
    excesses = s[s > t] - t
    if len(excesses) == 0:
        return t
    gamma, sigma = _gpd_fit(excesses)
    return float(max(_pot_quantile(t, gamma, sigma, risk, len(s), len(excesses)), t))


def spot(train_scores, stream_scores, risk: float = 1e-3, level: float = 0.98,
         refit_every: int = 1) -> np.ndarray:
    """SPOT: one threshold per point of ``stream_scores`` (float64[T]).

    Calibrated with :func:`pot` on ``train_scores``. A stream point above its threshold is an
    alarm and leaves the model unchanged; one above the initial level ``t`` (but not an alarm)
    adds an excess, and the GPD is refitted every ``refit_every`` new excesses.
    """
    s = _scores(train_scores, "train_scores")
    stream = _scores(stream_scores, "stream_scores")
    t = float(np.quantile(s, level))
    excesses = list(s[s > t] - t)
    n = len(s)
    gamma, sigma = _gpd_fit(np.asarray(excesses)) if excesses else (0.0, 1e-12)
    z = max(_pot_quantile(t, gamma, sigma, risk, n, max(len(excesses), 1)), t)
    out = np.empty(len(stream))
    pending = 0
    for i, x in enumerate(stream):
        out[i] = z
        if x > z:
            continue
        n += 1
        if x > t:
            excesses.append(x - t)
            pending += 1
            if pending >= refit_every:
                gamma, sigma = _gpd_fit(np.asarray(excesses))
                pending = 0
            z = max(_pot_quantile(t, gamma, sigma, risk, n, len(excesses)), t)
    return out


def calibrated(normal_scores, anomalous_scores, prior: float | None = None) -> float:
    """The threshold t (a point is anomalous when its score > t) that best separates scores of
    normal data from scores of synthetic anomalies: the F1 of ``score > t`` is maximised with
    the anomalous scores weighted so that they make up ``prior`` of the data (None: their
    share in the two inputs, which the integration ratio fixes). With TPR and FPR the shares
    of anomalous and normal scores above t, F1 = 2 p TPR / (p TPR + (1 - p) FPR + p).
    Among equally good thresholds the largest is taken (fewest false alarms)."""
    normal = _scores(normal_scores, "normal_scores")
    anomalous = _scores(anomalous_scores, "anomalous_scores")
    p = len(anomalous) / (len(anomalous) + len(normal)) if prior is None else prior
    if not 0 < p < 1:
        raise ValueError(f"prior must be in (0, 1), got {prior}")
    candidates = np.unique(np.concatenate([normal, anomalous]))
    candidates = np.concatenate([[np.nextafter(candidates[0], -np.inf)], candidates])
    tpr = 1 - np.searchsorted(np.sort(anomalous), candidates, side="right") / len(anomalous)
    fpr = 1 - np.searchsorted(np.sort(normal), candidates, side="right") / len(normal)
    f1 = 2 * p * tpr / (p * tpr + (1 - p) * fpr + p)
    best = np.flatnonzero(f1 == f1.max())[-1]
    return float(candidates[best])


RULES = {"quantile": quantile, "mean_std": mean_std, "pot": pot}


def make(rule: str, **params):
    """A function ``scores -> threshold`` for ``rule`` in :data:`RULES` with ``params``."""
    if rule not in RULES:
        raise ValueError(f"unknown threshold rule {rule!r}; known: {', '.join(RULES)}")
    func = RULES[rule]
    return lambda scores: func(scores, **params)
