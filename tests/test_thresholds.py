import inspect

import numpy as np
import pytest

from tsad_helpers import metrics, thresholds


def test_quantile_and_mean_std_hand_worked():
    s = np.arange(101, dtype=float)
    assert thresholds.quantile(s, 0.9) == pytest.approx(90.0)
    assert thresholds.mean_std([1.0, 3.0], k=2) == pytest.approx(2.0 + 2 * 1.0)
    assert thresholds.make("quantile", q=0.5)(s) == pytest.approx(50.0)


def test_pot_recovers_exponential_tail():
    """For Exp(1) scores P(X > z) = exp(-z): the risk-1e-3 threshold is ln(1000) = 6.91."""
    s = np.random.default_rng(0).exponential(size=200_000)
    z = thresholds.pot(s, risk=1e-3, level=0.98)
    assert z == pytest.approx(np.log(1000), rel=0.05)
    assert thresholds.pot(s, risk=1e-4) > z


def test_spot_alarm_rate_matches_risk_and_flags_outliers():
    rng = np.random.default_rng(1)
    train = rng.exponential(size=20_000)
    stream = rng.exponential(size=20_000)
    stream[[5000, 12000]] = 30.0
    z = thresholds.spot(train, stream, risk=1e-3, refit_every=50)
    assert z.shape == stream.shape
    alarms = stream > z
    assert alarms[5000] and alarms[12000]
    assert alarms.mean() < 5e-3
    m = metrics.evaluate(stream, (stream == 30.0).astype(int), z)  # per-point thresholds
    assert m["recall"] == 1.0 and m["threshold"] == "per point"


def test_rules_take_scores_only():
    for func in (thresholds.quantile, thresholds.mean_std, thresholds.pot, thresholds.spot):
        assert not any("label" in p for p in inspect.signature(func).parameters)


def test_errors():
    with pytest.raises(ValueError, match="q must be in"):
        thresholds.quantile([1, 2], 1.5)
    with pytest.raises(ValueError, match="NaN or inf"):
        thresholds.pot([1.0, np.inf])
    with pytest.raises(ValueError, match="empty"):
        thresholds.mean_std([])
    with pytest.raises(ValueError, match="unknown threshold rule"):
        thresholds.make("oracle")
    with pytest.raises(ValueError, match="shape of scores"):
        metrics.evaluate([1.0, 2.0], [0, 1], [1.0, 2.0, 3.0])


def test_calibrated_threshold_separates_normal_from_synthetic_anomalies():
    rng = np.random.default_rng(0)
    normal, anomalous = rng.normal(0, 1, 2000), rng.normal(5, 1, 200)
    t = thresholds.calibrated(normal, anomalous)
    assert 1.5 < t < 4.0
    assert (normal > t).mean() < 0.05 and (anomalous > t).mean() > 0.9
    # a rarer anomaly class asks for fewer false alarms: the threshold moves up
    assert thresholds.calibrated(normal, anomalous, prior=0.001) > t
    # perfectly separated: the largest threshold that keeps every anomaly
    assert thresholds.calibrated([0.0, 1.0, 2.0], [5.0, 6.0]) == 2.0
    with pytest.raises(ValueError, match="prior"):
        thresholds.calibrated(normal, anomalous, prior=1.5)
    with pytest.raises(ValueError, match="anomalous_scores are empty"):
        thresholds.calibrated(normal, [])
