"""Statistical detectors: a model per channel, fitted by a well-kept library on the training
split only; a point's score is how surprising its value is given the points before it.

- ``arima``: ARIMA(p, d, q) by statsmodels. d comes from a KPSS test of the training run
  (level stationarity at 5 %), then p and q by AIC over a small grid, both on the training
  run's last ``select_points`` points; the chosen order is refitted on the run's last
  ``max_fit_points``. A point's residual is its one-step-ahead prediction error from the
  model's AR(infinity) form (statsmodels' ``arma2ar``) truncated to the window's history,
  which equals statsmodels' own Kalman-filter residual once that history is long enough.
- ``garch``: an AR(``ar_lags``) mean with GARCH(1, 1) volatility by ``arch``; a point's
  residual is its AR prediction error, divided by the conditional volatility that the GARCH
  recursion gives from the window's earlier errors (started at the training residuals'
  variance).

Channels are combined in one way for both: a point's score is the mean over channels of the
squared standardised residual (residual^2 / residual variance), the same statistic as a
mean squared reconstruction error. A channel that is constant in the training run is
predicted by its training value with variance 1 in original units (the scaler's "center"
rule), so any change in test data is visible.

Training data arrive as windows (:mod:`~tsad_helpers.detectors.base`): these models need a
series, so ``fit_windows`` joins consecutive windows that overlap (window i + 1 equal to
window i shifted by a few steps, as ``fit`` and the CV study cut them) into runs, and fits on
the longest run. Windows that overlap nothing (synthetic ones, or a stride of a window or
more) are runs of one window each; a longest run shorter than ``min_fit_points`` is an error
that says so. Windows labelled anomalous are not trained on (the unsupervised rule).

Scoring is per window: each step's score uses the steps of its window before it, so a point
scored as the last step of the window that ends at it (``point_score="last"``, fixed) has
``window - 1`` points of history.
"""

from __future__ import annotations

import contextlib
import logging
import warnings

import numpy as np

from .base import Detector

KPSS_ALPHA = 0.05


def one_blas_thread():
    """NumPy's BLAS limited to one thread while the per-channel models fit and score: their
    matrices are tiny, and on a machine running other jobs a BLAS thread pool over all cores
    made ARIMA's fit several times slower (benchmarks/bench_blas_threads.py,
    benchmarks/results/blas_threads.csv)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def contiguous_runs(windows: np.ndarray) -> list[np.ndarray]:
    """The series [T_k, C] that consecutive windows [N, L, C] were cut from: window i + 1
    continues the run of window i when it equals window i shifted by s steps (0 < s < L);
    otherwise it starts a new run. Windows in any other order come back as runs of one
    window each."""
    w = np.asarray(windows)
    n, length = w.shape[:2]
    runs, current, hint = [], [w[0]], None
    for i in range(1, n):
        s = _shift(w[i - 1], w[i], hint)
        if s is None:
            runs.append(np.concatenate(current))
            current = [w[i]]
        else:
            current.append(w[i][length - s:])
            hint = s
    runs.append(np.concatenate(current))
    return runs


def _shift(prev: np.ndarray, nxt: np.ndarray, hint: int | None) -> int | None:
    """The smallest s (0 < s < L) with nxt[:L - s] == prev[s:] (the previous pair's shift,
    ``hint``, tried first); None when there is none."""
    length = len(prev)
    if hint is not None and np.array_equal(prev[hint:], nxt[:length - hint]):
        return hint
    candidates = np.flatnonzero((prev[1:] == nxt[0]).all(axis=1)) + 1
    for s in candidates:
        if np.array_equal(prev[s:], nxt[:length - s]):
            return int(s)
    return None


class _ChannelModelDetector(Detector):
    """Shared fitting and scoring; subclasses fit one channel (``_fit_channel(y) -> dict``)
    and give per-step residuals and variances of scaled windows (``_residuals``)."""

    point_score = "last"
    uses_labels = False

    def _fit_windows(self, z, labels, validation):
        runs = contiguous_runs(z)
        run = max(runs, key=len)
        if len(run) < self.min_fit_points and len(runs) == 1:
            raise ValueError(f"{type(self).__name__}: {len(run)} training points, fewer than "
                             f"min_fit_points={self.min_fit_points}")
        if len(run) < self.min_fit_points:
            raise ValueError(
                f"{type(self).__name__}.fit_windows: the longest run of consecutive training "
                f"windows has {len(run)} points, fewer than min_fit_points="
                f"{self.min_fit_points} ({len(runs)} runs from {len(z)} windows; these "
                "models need a series: pass overlapping windows in time order, or the "
                "series to fit(X))")
        run = run[-self.max_fit_points:].astype(np.float64)
        self.fit_points_ = len(run)
        self.constant_ = np.ptp(run, axis=0) == 0
        self.constant_value_ = run[0]  # what a constant channel is predicted by
        with one_blas_thread():
            self.models_ = [None if const else self._fit_channel(run[:, c], c)
                            for c, const in enumerate(self.constant_)]

    @property
    def unconverged_channels_(self) -> list[int]:
        """Channels whose final fit's optimiser reported no convergence (their parameters
        are used as returned)."""
        self._check_fitted()
        return [c for c, m in enumerate(self.models_) if m is not None and not m["converged"]]

    def _channel_error(self, c: int, what: str) -> ValueError:
        return ValueError(f"{type(self).__name__}: channel {c}: {what}")

    def _window_scores(self, batch):
        """Per-step scores [B, L]: the mean over channels of residual^2 / variance."""
        with one_blas_thread():
            return self._channel_scores(np.asarray(batch, np.float64))

    def _channel_scores(self, batch):
        total = np.zeros(batch.shape[:2])
        for c, model in enumerate(self.models_):
            if model is None:  # constant in training: its value, variance 1
                total += (batch[:, :, c] - self.constant_value_[c]) ** 2
                continue
            resid, var = self._residuals(batch[:, :, c], model)
            total += resid ** 2 / var
        return total / batch.shape[2]


def _pad_front(a: np.ndarray, k: int) -> np.ndarray:
    """``a`` [B, L - k] back to [B, L], the first k steps given step k's value."""
    if k == 0:
        return a
    return np.concatenate([np.repeat(a[:, :1], k, axis=1), a], axis=1)


class ARIMADetector(_ChannelModelDetector):
    """Per-channel ARIMA residuals (statsmodels); see the module docstring.

    window: points per window (the last is scored from the ``window - 1`` before it);
    fit_stride: step between the training windows ``fit`` cuts (they must overlap);
    max_p, max_q: the AIC grid (p in 0..max_p, q in 0..max_q); max_d: the most
    differences the KPSS rule may take; select_points: training points of the order choice;
    max_fit_points: training points of the final fit (the run's last); min_fit_points: the
    shortest run fitted on. Fitted: ``orders_`` [(p, d, q) or None per channel]."""

    def __init__(self, window: int = 64, fit_stride: int = 32, max_p: int = 2, max_q: int = 1,
                 max_d: int = 1, select_points: int = 2000, max_fit_points: int = 10000,
                 min_fit_points: int = 200, scaling: str | None = "standard"):
        self.window = window
        self.fit_stride = fit_stride
        self.max_p = max_p
        self.max_q = max_q
        self.max_d = max_d
        self.select_points = select_points
        self.max_fit_points = max_fit_points
        self.min_fit_points = min_fit_points
        self.scaling = scaling

    @property
    def orders_(self) -> list:
        self._check_fitted()
        return [None if m is None else m["order"] for m in self.models_]

    def _differences(self, y: np.ndarray) -> int:
        """Differences needed for level stationarity by KPSS at 5 % (as auto-ARIMA does)."""
        from statsmodels.tsa.stattools import kpss

        d = 0
        while d < self.max_d and np.ptp(y) > 0:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # p-values beyond the table's range
                p_value = kpss(y, regression="c", nlags="auto")[1]
            if p_value >= KPSS_ALPHA:
                break
            y, d = np.diff(y), d + 1
        return d

    def _fit_order(self, y: np.ndarray, order: tuple, start=None):
        from statsmodels.tsa.arima.model import ARIMA

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence (kept in the model), start values
            return ARIMA(y, order=order, trend="c" if order[1] == 0 else "n").fit(
                start_params=start, cov_type="none")

    def _fit_channel(self, y: np.ndarray, c: int) -> dict:
        from statsmodels.tsa.arima_process import arma2ar

        sel = y[-self.select_points:]
        d = self._differences(sel)
        best = None
        for p in range(self.max_p + 1):
            for q in range(self.max_q + 1):
                try:
                    res = self._fit_order(sel, (p, d, q))
                except (np.linalg.LinAlgError, ValueError):
                    continue
                if np.isfinite(res.aic) and (best is None or res.aic < best[0]):
                    best = (res.aic, (p, d, q), res.params)
        if best is None:
            raise self._channel_error(c, f"no ARIMA order with d={d} could be fitted")
        # the final fit starts from the chosen order's estimates on the selection points
        res = self._fit_order(y, best[1], start=best[2])
        names = list(res.model.param_names)
        sigma2 = float(res.params[names.index("sigma2")])
        if not sigma2 > 0:
            raise self._channel_error(c, f"ARIMA{best[1]} has residual variance {sigma2}")
        pi = arma2ar(np.r_[1, -res.arparams], np.r_[1, res.maparams], lags=self.window)
        mean = float(res.params[names.index("const")]) if "const" in names else 0.0
        return {"order": best[1], "params": np.asarray(res.params), "pi": pi, "mean": mean,
                "sigma2": sigma2,
                "converged": bool(res.mle_retvals.get("converged", True))}

    def _residuals(self, y: np.ndarray, model: dict):
        from scipy.signal import lfilter

        d = model["order"][1]
        u = np.diff(y, n=d, axis=1) - model["mean"]
        resid = lfilter(model["pi"], [1.0], u, axis=1)
        return _pad_front(resid, d), model["sigma2"]


class GARCHDetector(_ChannelModelDetector):
    """Per-channel AR(``ar_lags``)-GARCH(1, 1) standardised residuals (``arch``); see the
    module docstring. Parameters as :class:`ARIMADetector`'s, with ``ar_lags`` (the AR
    order of the mean, fixed) instead of the order search."""

    def __init__(self, window: int = 64, fit_stride: int = 32, ar_lags: int = 1,
                 max_fit_points: int = 10000, min_fit_points: int = 200,
                 scaling: str | None = "standard"):
        self.window = window
        self.fit_stride = fit_stride
        self.ar_lags = ar_lags
        self.max_fit_points = max_fit_points
        self.min_fit_points = min_fit_points
        self.scaling = scaling

    def _fit_channel(self, y: np.ndarray, c: int) -> dict:
        from arch import arch_model

        model = arch_model(y, mean="AR" if self.ar_lags else "Constant",
                           lags=self.ar_lags or None, vol="GARCH", p=1, q=1, dist="normal",
                           rescale=False)
        res = model.fit(disp="off", show_warning=False)  # convergence: kept in the model
        params = res.params.to_numpy()
        k = self.ar_lags
        const, phi, (omega, alpha, beta) = params[0], params[1:1 + k], params[1 + k:]
        resid = np.asarray(res.resid)[k:]
        var = float(np.mean(resid ** 2))
        if not (omega > 0 and var > 0 and np.isfinite(params).all()):
            raise self._channel_error(c, f"GARCH fit failed (parameters {params.round(4)})")
        return {"const": const, "phi": phi, "omega": omega, "alpha": alpha, "beta": beta,
                "start_var": var, "converged": res.convergence_flag == 0}

    def _residuals(self, y: np.ndarray, model: dict):
        from scipy.signal import lfilter

        k = len(model["phi"])
        # AR prediction error: e_t = y_t - const - sum_i phi_i y_{t-i}
        resid = y[:, k:] - model["const"]
        for i, phi in enumerate(model["phi"], start=1):
            resid -= phi * y[:, k - i:y.shape[1] - i]
        # sigma2_t = omega + alpha e_{t-1}^2 + beta sigma2_{t-1}, sigma2_0 = start_var
        alpha, beta = model["alpha"], model["beta"]
        drive = model["omega"] + alpha * resid[:, :-1] ** 2
        zi = np.full((len(y), 1), beta * model["start_var"])
        var = np.empty_like(resid)
        var[:, 0] = model["start_var"]
        var[:, 1:] = lfilter([1.0], [1.0, -beta], drive, axis=1, zi=zi)[0]
        return _pad_front(resid, k), _pad_front(var, k)


@contextlib.contextmanager
def _quiet_prophet():
    """Prophet's and cmdstanpy's per-fit INFO lines, and Prophet's deprecation warnings
    about its own pandas calls, off for the duration."""
    # prophet.plot logs an ERROR at import when plotly is missing (we never plot with it)
    loggers = [logging.getLogger(name) for name in ("cmdstanpy", "prophet", "prophet.plot")]
    before = [(lg.disabled, lg.level) for lg in loggers]
    for lg in loggers:
        lg.disabled, lg.level = True, logging.CRITICAL + 1
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", module=r"prophet\.")
            yield
    finally:
        for lg, (disabled, level) in zip(loggers, before):
            lg.disabled, lg.level = disabled, level


class ProphetDetector(Detector):
    """Per-channel Prophet forecast residuals (Taylor & Letham 2018; the ``prophet`` package).

    Prophet is a regression on time (piecewise-linear trend and Fourier seasonalities), so
    unlike the window detectors it needs each point's time: the training series (its last
    ``max_fit_points`` are fitted, the stated cap) sits at positions 0..T-1, one point every
    ``freq`` from an arbitrary origin, and a scored series at positions ``start``,
    ``start + 1``, ... (default: T, right after the training series: a forecast). The
    benchmark's evaluation passes ``start`` (the training tail, then the test split after
    it). Seasonalities are
    Prophet's automatic ones for that clock (daily when the training span exceeds two days
    at one point a minute). A point's score is the mean over channels of its squared
    residual divided by the channel's training residual variance; a channel constant in
    training is predicted by its training value with variance 1. Points labelled anomalous
    in ``fit`` are left out of the fit (Prophet takes missing values). Windows carry no
    time, so ``fit_windows``, ``score_windows`` and ``score_points`` are refused: this
    detector is not in the CV study, whose folds are windows. Deterministic (Prophet's MAP
    fit from its own initial values)."""

    uses_time = True
    window = 1
    fit_stride = 1

    def __init__(self, freq: str = "1min", max_fit_points: int = 10000,
                 changepoint_prior_scale: float = 0.05, scaling: str | None = "standard"):
        self.freq = freq
        self.max_fit_points = max_fit_points
        self.changepoint_prior_scale = changepoint_prior_scale
        self.scaling = scaling

    def _times(self, start: int, n: int):
        import pandas as pd

        try:
            step = pd.Timedelta(self.freq)
        except ValueError:
            raise ValueError(f"ProphetDetector: freq must be a time step such as '1min', got "
                             f"{self.freq!r}") from None
        return pd.Timestamp("2000-01-01") + step * np.arange(start, start + n)

    def fit(self, X, y=None):
        """Fit on the series ``X`` [T, C] (its last ``max_fit_points``), points labelled 1 in
        ``y`` left out; returns self."""
        import pandas as pd

        with _quiet_prophet():
            from prophet import Prophet
        x = self._check_series(X, "fit", fitting=True)
        if y is not None:
            y = self._check_point_labels(y, len(x))
        self._reset()
        self.n_channels_ = x.shape[1]
        self.scaler_ = self._fit_scaler(x[:, None, :], None, x)
        keep = slice(max(0, len(x) - self.max_fit_points), len(x))
        z = self._scale(x[keep][:, None, :])[:, 0].astype(np.float64)
        normal = np.ones(len(z), bool) if y is None else y[keep] == 0
        if normal.sum() < 2:
            raise ValueError("ProphetDetector.fit: fewer than 2 unlabelled training points")
        self.fit_points_, self.series_points_ = len(z), len(x)
        self.constant_ = np.ptp(z[normal], axis=0) == 0
        self.constant_value_ = z[normal][0]
        times = self._times(keep.start, len(z))  # the clock of X: its first point is at 0
        self.models_ = []
        for c in range(z.shape[1]):
            if self.constant_[c]:
                self.models_.append(None)
                continue
            frame = pd.DataFrame({"ds": times, "y": np.where(normal, z[:, c], np.nan)})
            with _quiet_prophet():
                model = Prophet(changepoint_prior_scale=self.changepoint_prior_scale,
                                uncertainty_samples=0).fit(frame)
                resid = z[normal, c] - model.predict(frame[normal])["yhat"].to_numpy()
            self.models_.append((model, float(np.var(resid)) or 1.0))
        self.threshold_ = None
        return self

    def decision_function(self, X, start: int | None = None) -> np.ndarray:
        """Score per point of ``X`` [T, C], whose first point is at position ``start`` of the
        training series' clock (default: right after its last point)."""
        import pandas as pd

        x = self._check_series(X, "decision_function", fitting=False)
        start = self.series_points_ if start is None else int(start)
        z = self._scale(x[:, None, :])[:, 0].astype(np.float64)
        future = pd.DataFrame({"ds": self._times(start, len(z))})
        total = np.zeros(len(z))
        for c, fitted in enumerate(self.models_):
            if fitted is None:
                total += (z[:, c] - self.constant_value_[c]) ** 2
                continue
            model, var = fitted
            with _quiet_prophet():
                yhat = model.predict(future)["yhat"].to_numpy()
            total += (z[:, c] - yhat) ** 2 / var
        return total / z.shape[1]

    def _no_time(self, what: str):
        raise ValueError(f"ProphetDetector.{what}: windows carry no time, and Prophet "
                         "predicts from time; use fit(X) and decision_function(X, start)")

    def fit_windows(self, windows, labels=None, *, validation=None, scale_on=None):
        self._no_time("fit_windows")

    def score_windows(self, windows):
        self._no_time("score_windows")

    def score_points(self, X, starts):
        self._no_time("score_points")
