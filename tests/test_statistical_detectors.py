"""The statistical detectors (ARIMA by statsmodels, AR-GARCH by arch): their residuals are the
libraries' own, the order is chosen on training data, and they fail clearly on data they
cannot model."""

import numpy as np
import pytest
from statsmodels.tsa.arima_process import arma_generate_sample

from tsad_helpers import detectors
from tsad_helpers.detectors.statistical import contiguous_runs
from tsad_helpers.preprocessing import sliding_windows


def _arma(ar, ma, n, seed, scale=1.0):
    rng = np.random.default_rng(seed)
    return arma_generate_sample(ar, ma, n, scale=scale, distrvs=rng.standard_normal)


@pytest.fixture(scope="module")
def series():
    """ARMA(1, 1) around 3, a random walk and a constant channel: 3,000 training points,
    then 1,500 test points."""
    rng = np.random.default_rng(0)
    n = 4500
    x = np.c_[2 * _arma([1, -0.6], [1, 0.4], n, 0) + 3, np.cumsum(rng.normal(size=n)),
              np.full(n, 5.0)]
    return x[:3000], x[3000:]


@pytest.fixture(scope="module")
def arima(series):
    return detectors.make("arima").fit(series[0])


def test_arima_residuals_are_statsmodels_own(series, arima):
    from statsmodels.tsa.arima.model import ARIMA

    train, test = series
    z_train = arima.scaler_.transform(train).astype(np.float64)
    z_test = arima.scaler_.transform(test).astype(np.float64)
    expected = z_test[:, 2] ** 2  # the constant channel: its value, variance 1
    for c in (0, 1):
        model = arima.models_[c]
        order = model["order"]
        spec = ARIMA(z_train[:, c], order=order, trend="c" if order[1] == 0 else "n")
        # the estimates are statsmodels' (its default fit, to the optimiser's tolerance) ...
        np.testing.assert_allclose(model["params"], spec.fit().params, rtol=1e-3)
        # ... and so are the residuals, given them
        res = spec.filter(model["params"])
        expected = expected + res.apply(z_test[:, c]).resid ** 2 / model["sigma2"]
    scores = arima.decision_function(test)
    # a point's residual uses the window - 1 points before it: equal once that covers what
    # the ARMA filter remembers
    np.testing.assert_allclose(scores[arima.window:], expected[arima.window:] / 3, rtol=1e-8)


def test_arima_chooses_the_order_on_training_data(series, arima):
    assert arima.orders_[1][1] == 1  # the random walk is differenced once
    assert arima.orders_[0][1] == 0 and arima.orders_[2] is None
    ar2 = _arma([1, -1.2, 0.5], [1], 3000, 1)[:, None]
    assert detectors.make("arima").fit(ar2).orders_ == [(2, 0, 0)]


def test_garch_residuals_converge_to_arch_own():
    from arch import arch_model

    rng = np.random.default_rng(3)
    n, omega, alpha, beta = 5000, 0.1, 0.15, 0.8
    e, var = np.zeros(n), np.full(n, omega / (1 - alpha - beta))
    for t in range(1, n):  # AR(1)-GARCH(1, 1) with clustered volatility
        var[t] = omega + alpha * e[t - 1] ** 2 + beta * var[t - 1]
        e[t] = np.sqrt(var[t]) * rng.standard_normal()
    y = np.zeros(n)
    for t in range(1, n):
        y[t] = 0.5 * y[t - 1] + e[t]
    train, test = y[:3500, None], y[3500:, None]
    det = detectors.make("garch", window=256, fit_stride=128).fit(train)
    z_train = det.scaler_.transform(train)[:, 0].astype(np.float64)
    z_test = det.scaler_.transform(test)[:, 0].astype(np.float64)
    spec = {"mean": "AR", "lags": 1, "vol": "GARCH", "p": 1, "q": 1, "rescale": False}
    params = arch_model(z_train, **spec).fit(disp="off").params
    assert params.iloc[-1] > 0.5  # the fit found the clustering
    fixed = arch_model(z_test, **spec).fix(params)
    expected = np.asarray(fixed.std_resid) ** 2
    scores = det.decision_function(test)
    # each window's volatility starts at the training variance; beta^255 has forgotten it
    np.testing.assert_allclose(scores[det.window:], expected[det.window:], rtol=1e-4)


@pytest.mark.parametrize("name", ["arima", "garch"])
def test_a_spike_and_a_change_in_a_constant_channel_score_highest(name, series):
    train, test = series
    det = detectors.make(name).fit(train)
    spiked = test.copy()
    spiked[700, 0] += 12
    spiked[1200, 2] += 5.0  # the constant channel moves
    scores = det.decision_function(spiked)
    assert scores.argmax() == 700
    rest = np.delete(scores, np.r_[700:706, 1200])  # the spike also spoils the next forecasts
    assert scores[1200] > rest.max()
    assert scores.dtype == np.float64 and np.isfinite(scores).all()
    np.testing.assert_array_equal(scores, det.decision_function(spiked))


def test_contiguous_runs_rejoin_overlapping_windows():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(100, 2)), rng.normal(size=(60, 2))
    wa, wb = sliding_windows(a, 20, 5), sliding_windows(b, 20, 7)
    runs = contiguous_runs(np.concatenate([wa, wb]))
    assert [len(r) for r in runs] == [100, 60]  # the last window of b is aligned to its end
    np.testing.assert_array_equal(runs[0], a)
    np.testing.assert_array_equal(runs[1], b)
    shuffled = wa[rng.permutation(len(wa))]
    assert len(contiguous_runs(shuffled)) > len(wa) // 2


def test_windows_out_of_order_are_refused_by_name():
    rng = np.random.default_rng(0)
    windows = sliding_windows(rng.normal(size=(600, 2)), 64, 32)[::-1]
    with pytest.raises(ValueError, match=r"longest run of consecutive training windows has "
                                         r"64 points, fewer than min_fit_points=200"):
        detectors.make("arima").fit_windows(windows)


def test_labelled_training_points_are_not_fitted_on():
    y = _arma([1, -0.5], [1], 4000, 2)
    burst = y.copy()
    burst[1800:2000] += np.random.default_rng(0).normal(0, 20, 200)
    labels = np.zeros(len(y), dtype=int)
    labels[1800:2000] = 1
    clean = detectors.make("arima").fit(y[:, None])
    blind = detectors.make("arima").fit(burst[:, None])
    told = detectors.make("arima").fit(burst[:, None], labels)
    assert told.fit_points_ < 2000 and told.threshold_ is not None
    sigma = [d.models_[0]["sigma2"] * d.scaler_.scaler_.scale_[0] ** 2
             for d in (clean, blind, told)]
    assert sigma[1] > 5 * sigma[0] and sigma[2] == pytest.approx(sigma[0], rel=0.1)


@pytest.mark.parametrize("name", ["arima", "garch"])
def test_input_errors(name, series):
    train, test = series
    det = detectors.make(name, window=16, fit_stride=8)
    with pytest.raises(RuntimeError, match="not fitted"):
        det.decision_function(test)
    with pytest.raises(ValueError, match="expected a 2-D array"):
        det.fit(train[:, 0])
    bad = train.copy()
    bad[7, 1] = np.inf
    with pytest.raises(ValueError, match=r"NaN/inf values \(first at row 7, channel 1\)"):
        det.fit(bad)
    with pytest.raises(ValueError, match="shorter than window=16"):
        det.fit(train[:10])
    with pytest.raises(ValueError, match="150 training points, fewer than min_fit_points=200"):
        det.fit(train[:150])
    det.fit(train[:600])
    with pytest.raises(ValueError, match="2 channels, but fitted on 3"):
        det.decision_function(test[:, :2])


@pytest.fixture(scope="module")
def daily():
    """Four days of one-minute points with a daily cycle and a slow trend (two channels,
    one of them constant), then two days of test."""
    rng = np.random.default_rng(0)
    t = np.arange(6 * 1440)
    x = np.c_[np.sin(2 * np.pi * t / 1440) + t / 5000 + rng.normal(0, 0.1, len(t)),
              np.full(len(t), 2.0)]
    return x[:4 * 1440], x[4 * 1440:]


@pytest.fixture(scope="module")
def prophet(daily):
    return detectors.make("prophet").fit(daily[0])


@pytest.mark.filterwarnings("ignore:The inplace keyword")  # Prophet's own pandas call
def test_prophet_residuals_are_prophets_own(daily, prophet):
    import pandas as pd
    from prophet import Prophet

    train, test = daily
    z = prophet.scaler_.transform(np.r_[train, test]).astype(np.float64)[:, 0]
    times = pd.Timestamp("2000-01-01") + pd.Timedelta("1min") * np.arange(len(z))
    model = Prophet(uncertainty_samples=0).fit(pd.DataFrame({"ds": times[:len(train)],
                                                             "y": z[:len(train)]}))
    yhat = model.predict(pd.DataFrame({"ds": times}))["yhat"].to_numpy()
    var = np.var(z[:len(train)] - yhat[:len(train)])
    expected = ((z[len(train):] - yhat[len(train):]) ** 2 / var
                + prophet.scaler_.transform(test)[:, 1] ** 2) / 2
    np.testing.assert_allclose(prophet.decision_function(test), expected, rtol=1e-6)
    assert "daily" in prophet.models_[0][0].seasonalities and prophet.models_[1] is None


def test_prophet_scores_at_the_time_it_is_told(daily, prophet):
    train, test = daily
    right = prophet.decision_function(test, start=len(train))
    np.testing.assert_array_equal(right, prophet.decision_function(test))  # the default
    half_a_day_off = prophet.decision_function(test, start=len(train) + 720)
    assert np.median(right) < 0.1 * np.median(half_a_day_off)
    spiked = test.copy()
    spiked[900, 0] += 3
    assert prophet.decision_function(spiked).argmax() == 900


def test_the_evaluation_tells_prophet_where_each_series_starts(daily, monkeypatch):
    from tsad_helpers import evaluation, profiles
    from tsad_helpers.datasets import Dataset
    from tsad_helpers.detectors.statistical import ProphetDetector

    starts = []

    class Recording(ProphetDetector):
        def decision_function(self, X, start=None):
            starts.append(start)
            return super().decision_function(X, start)

    monkeypatch.setattr(evaluation.detectors, "make", lambda name, **p: Recording(**p))
    train, test = daily
    labels = np.zeros(len(test), dtype=int)
    labels[900:910] = 1
    test = test.copy()
    test[900:910, 0] += 3
    ds = Dataset(name="synthetic", entity="daily", train=train, test=test, test_labels=labels,
                 channels=["cycle", "flat"])
    settings = profiles.get("paper")  # prophet fitted on its 10,000 last points
    result = evaluation.evaluate_detector(ds, "prophet", settings, "paper")
    split = int(round(len(train) * (1 - settings["evaluate"]["validation_fraction"])))
    assert starts == [split, len(train)]
    assert result["metrics"]["auc_roc"] > 0.9
    starts.clear()
    evaluation.evaluate_detector(ds, "prophet", settings, "paper", protocol="transductive")
    assert starts == [0, 0]


def test_prophet_refuses_windows_and_bad_settings(daily, prophet):
    windows = sliding_windows(daily[0][:200], 16, 8)
    for call in (lambda: prophet.fit_windows(windows), lambda: prophet.score_windows(windows),
                 lambda: prophet.score_points(daily[1], [0])):
        with pytest.raises(ValueError, match="windows carry no time, and Prophet predicts"):
            call()
    with pytest.raises(ValueError, match="freq must be a time step such as '1min', got 'x'"):
        detectors.make("prophet", freq="x").fit(daily[0][:500])
    with pytest.raises(ValueError, match=r"y of shape \(3,\) for a series of 500 points"):
        detectors.make("prophet").fit(daily[0][:500], [0, 1, 0])


def test_a_channel_constant_in_the_fitted_run_is_predicted_by_its_value_there():
    rng = np.random.default_rng(0)
    ar = _arma([1, -0.5], [1], 3000, 4)
    x = np.c_[ar, np.r_[np.full(2000, 1.0), rng.normal(size=1000)]]
    labels = np.r_[np.zeros(2000), np.ones(1000)].astype(int)  # the noisy end is labelled
    det = detectors.make("arima").fit(x, labels)
    assert det.orders_[1] is None  # constant where it was fitted, not in the whole series
    alone = detectors.make("arima").fit(x[:, :1], labels)
    test = np.c_[ar[:500], np.full(500, 1.0)]
    np.testing.assert_allclose(2 * det.decision_function(test),
                               alone.decision_function(test[:, :1]), rtol=1e-9)


@pytest.mark.parametrize("name", ["arima", "garch"])
def test_channel_models_fit_and_score_with_one_blas_thread(name, series, monkeypatch):
    from threadpoolctl import threadpool_info

    cls = type(detectors.make(name))
    seen = []

    def blas_threads():
        return {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}

    def fit_channel(self, y, c):
        seen.append(("fit", blas_threads()))
        return original_fit(self, y, c)

    def residuals(self, y, model):
        seen.append(("score", blas_threads()))
        return original_residuals(self, y, model)
    original_fit, original_residuals = cls._fit_channel, cls._residuals
    monkeypatch.setattr(cls, "_fit_channel", fit_channel)
    monkeypatch.setattr(cls, "_residuals", residuals)
    det = detectors.make(name, max_fit_points=600, select_points=300) if name == "arima" \
        else detectors.make(name, max_fit_points=600)
    det.fit(series[0][:, :2]).decision_function(series[1][:300, :2])
    assert {kind for kind, _ in seen} == {"fit", "score"}
    assert all(threads <= {1} for _, threads in seen)
