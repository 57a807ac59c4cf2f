import json

import numpy as np
import pytest
from sklearn.base import clone

from tsad_helpers import datasets, detectors, metrics
from tsad_helpers.cli import main

NAMES = ["iforest", "pca", "random"]


@pytest.fixture(scope="module")
def synthetic():
    return datasets.load("synthetic", "syn-1", train_length=1500, test_length=1500,
                         events_per_type=1)


@pytest.mark.parametrize("name", NAMES)
def test_contract(name, synthetic):
    det = detectors.make(name)
    assert det.fit(synthetic.train) is det
    scores = det.decision_function(synthetic.test)
    assert scores.shape == (len(synthetic.test),) and scores.dtype == np.float64
    assert np.isfinite(scores).all()
    again = clone(det).fit(synthetic.train).decision_function(synthetic.test)
    np.testing.assert_array_equal(scores, again)  # seeded: reproducible
    assert "random_state" in det.get_params()


@pytest.mark.parametrize("name", ["iforest", "pca"])
def test_detectors_beat_random_on_synthetic(name, synthetic):
    scores = detectors.make(name, window=8).fit(synthetic.train).decision_function(synthetic.test)
    auc = metrics.evaluate(scores, synthetic.test_labels, np.median(scores))["auc_roc"]
    assert auc > 0.6  # random scores give 0.5


def test_random_differs_by_seed(synthetic):
    a, b = (detectors.make("random", random_state=seed).fit(synthetic.train)
            .decision_function(synthetic.test) for seed in (1, 2))
    assert not np.array_equal(a, b)


@pytest.mark.parametrize("name", NAMES)
def test_input_errors(name, synthetic):
    det = detectors.make(name)
    with pytest.raises(RuntimeError, match="not fitted"):
        det.decision_function(synthetic.test)
    with pytest.raises(ValueError, match="expected a 2-D array"):
        det.fit(synthetic.train[:, 0])
    bad = synthetic.train.copy()
    bad[7, 2] = np.nan
    with pytest.raises(ValueError, match=r"NaN/inf values \(first at row 7, channel 2\)"):
        det.fit(bad)
    det.fit(synthetic.train)
    with pytest.raises(ValueError, match="3 channels, but fitted on 10"):
        det.decision_function(synthetic.test[:, :3])


def test_window_longer_than_series():
    with pytest.raises(ValueError, match="shorter than window=16"):
        detectors.make("pca").fit(np.zeros((10, 2)))


def test_unknown_detector_and_params():
    with pytest.raises(ValueError, match="unknown detector 'lstm'"):
        detectors.make("lstm")
    with pytest.raises(ValueError, match="bad parameters for detector 'pca'"):
        detectors.make("pca", depth=3)


def test_constant_channel_does_not_break_scaling():
    rng = np.random.default_rng(0)
    train = np.column_stack([rng.normal(size=400), np.zeros(400)])
    test = train.copy()
    test[200, 1] = 5.0  # the constant channel moves: must show up
    scores = detectors.make("pca", window=4).fit(train).decision_function(test)
    assert np.argmax(scores) in range(197, 204)


def test_evaluate_cli_writes_all_keys(tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(["evaluate", "--dataset", "synthetic", "--entity", "syn-2", "--detector",
                 "random", "--profile", "smoke", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert set(metrics.KEYS) <= set(result["metrics"])
    assert result["threshold_rule"] == {"rule": "quantile", "q": 0.99}
    assert {"fit_seconds", "score_seconds", "seed", "versions"} <= set(result)
    assert result["versions"]["numpy"] == np.__version__
    # random scores: point adjustment inflates F1
    assert result["metrics"]["pa_f1"] > 3 * result["metrics"]["f1"]
    assert "pa_f1" in capsys.readouterr().out


def test_evaluate_cli_on_fixture_layout(fixture_root, tmp_path):
    out = tmp_path / "r.json"
    assert main(["evaluate", "--dataset", "smd", "--detector", "pca", "--profile", "smoke",
                 "--data-dir", str(fixture_root), "--threshold", "pot", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["entity"] == "machine-1-1" and result["threshold_rule"]["rule"] == "pot"


def _short_dataset(train_points=300, test_points=400):
    from tsad_helpers.datasets import Dataset

    rng = np.random.default_rng(0)
    labels = np.zeros(test_points, dtype=np.int8)
    labels[200:210] = 1
    test = rng.normal(size=(test_points, 2)).astype(np.float32)
    test[200:210] += 6
    return Dataset("toy", "e1", rng.normal(size=(train_points, 2)).astype(np.float32), test,
                   labels, ["a", "b"], None, {})


def test_a_threshold_tail_shorter_than_one_window_is_scored_with_context():
    from tsad_helpers import profiles
    from tsad_helpers.evaluation import evaluate_detector

    settings = profiles.get("smoke")
    ds = _short_dataset()  # the last 20 % of 300 points: 60, shorter than a window of 100
    result = evaluate_detector(ds, "pca", settings, "smoke", 0, params={"window": 100})
    assert "with the 40 points before them as context" in result["threshold_from"]
    # the threshold is the rule applied to the tail's own 60 scores, taken from a 100-point
    # scoring of the train series' end
    model = detectors.make("pca", **{**settings["detectors"]["pca"], "window": 100})
    model.fit(ds.train[:240])
    tail_scores = model.decision_function(ds.train[200:])[40:]
    assert result["metrics"]["threshold"] == pytest.approx(np.quantile(tail_scores, 0.99))
    ordinary = evaluate_detector(ds, "pca", settings, "smoke", 0, params={"window": 16})
    assert "context" not in ordinary["threshold_from"]
    fitted_on_test = evaluate_detector(ds, "pca", settings, "smoke", 0,
                                       params={"window": 100}, protocol="transductive")
    assert fitted_on_test["protocol"] == "transductive"
    assert fitted_on_test["threshold_from"] == "scores on the test series (no labels)"


def test_evaluate_refuses_a_supervised_detector(capsys):
    assert main(["evaluate", "--dataset", "synthetic", "--detector", "window_classifier",
                 "--profile", "smoke", "--out", "unused.json"]) != 0
    assert "learns from labels" in capsys.readouterr().err


# ---- the published reference PCA (TSB-AD / PyOD scoring) ---------------------------------------
def _pyod_pca_scores(x, window, n_components):
    """The definition, computed the slow way: windows flattened, standardised, constant
    features dropped, full-SVD PCA, summed distances to the kept unit components weighted by
    1 / explained-variance ratio, each window's score at its centre point, edges padded."""
    from scipy.spatial.distance import cdist
    from sklearn.decomposition import PCA
    from sklearn.preprocessing import StandardScaler

    flat = np.lib.stride_tricks.sliding_window_view(x, window, axis=0).reshape(
        len(x) - window + 1, -1)
    z = StandardScaler().fit_transform(flat)
    z = z[:, np.any(z != 0, axis=0)]
    pca = PCA(n_components=n_components, svd_solver="full").fit(z)
    s = (cdist(z, pca.components_) / pca.explained_variance_ratio_).sum(axis=1)
    half = window // 2
    return np.concatenate([np.full(half, s[0]), s, np.full(window - 1 - half, s[-1])])


@pytest.mark.parametrize("n_components", [0.25, 0.6, 3])
def test_reference_pca_equals_the_definition(n_components):
    from tsad_helpers.detectors.classic import reference_pca_params

    rng = np.random.default_rng(4)
    t = np.arange(900)
    x = np.column_stack([np.sin(t / 7), np.cos(t / 11) + 0.3 * rng.normal(size=900),
                         rng.normal(size=900), np.full(900, 2.0)])  # a constant channel too
    x[500:520, 1] += 4
    params = reference_pca_params(window=20, n_components=n_components)
    got = detectors.make("pca", **params).fit(x).decision_function(x)
    # rtol: the detector reads windows as float32 (the datasets are float32 too)
    np.testing.assert_allclose(got, _pyod_pca_scores(x, 20, n_components), rtol=1e-6)
    assert got[500:520].max() > np.quantile(got, 0.95)


def test_point_score_rules_place_window_scores():
    from tsad_helpers.detectors.classic import reference_pca_params

    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 2))
    det = detectors.make("pca", **{**reference_pca_params(window=10), "point_score": "last"})
    det.fit(x)
    windows = np.lib.stride_tricks.sliding_window_view(x, 10, axis=0).transpose(0, 2, 1)
    per_window = det.score_windows(windows)
    last = det.decision_function(x)
    np.testing.assert_allclose(last[9:], per_window)  # window i ends at point i + 9
    np.testing.assert_allclose(last[:9], per_window[0])  # padded with the first window
    det.set_params(point_score="center")
    np.testing.assert_allclose(det.decision_function(x)[5:-4], per_window)
    subset = det.score_points(x, [0, 50])
    assert np.isfinite(subset).sum() == 2 and subset[5] == per_window[0]
    det.set_params(point_score="median")
    with pytest.raises(ValueError, match="point_score must be one of"):
        det.decision_function(x)
    with pytest.raises(ValueError, match="score must be"):
        detectors.make("pca", score="mahalanobis").fit(x)


def test_reference_iforest_equals_the_definition():
    """TSB-AD's multivariate isolation forest: windows flattened channel by channel, each
    z-scored over its entries (ddof 1), 25 trees on 80 % of the features, seed 0, the negated
    decision function at each window's centre (edges padded). Ours differs by a constant
    (scikit-learn's offset), which changes no ranking and no metric."""
    from sklearn.ensemble import IsolationForest

    from tsad_helpers.detectors.classic import reference_iforest_params

    rng = np.random.default_rng(5)
    x = rng.normal(size=(600, 3))
    x[300:310, 0] += 5
    flat = np.lib.stride_tricks.sliding_window_view(x, 20, axis=0).reshape(581, -1)
    flat = (flat - flat.mean(axis=1, keepdims=True)) / flat.std(axis=1, ddof=1, keepdims=True)
    forest = IsolationForest(n_estimators=25, max_features=0.8, random_state=0).fit(flat)
    s = -forest.decision_function(flat)
    want = np.concatenate([np.full(10, s[0]), s, np.full(9, s[-1])])
    got = detectors.make("iforest", **reference_iforest_params(window=20)).fit(x) \
        .decision_function(x)
    np.testing.assert_allclose(got - got.mean(), want - want.mean(), atol=1e-6)


def test_window_moments_and_lagged_products_equal_the_window_matrix():
    from tsad_helpers.detectors.lagged import LaggedWindows, window_moments

    rng = np.random.default_rng(2)
    z = rng.normal(size=(400, 3)).cumsum(axis=0) + 50  # drifting, far from 0
    L = 9
    w = np.lib.stride_tricks.sliding_window_view(z, L, axis=0).transpose(0, 2, 1)
    flat = w.reshape(len(w), -1)
    mean, cov = window_moments(z, L)
    np.testing.assert_allclose(mean.ravel(), flat.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(cov, np.cov(flat.T, ddof=0), rtol=1e-8, atol=1e-8)
    scale = 1 / flat.std(axis=0)
    standard = (flat - flat.mean(axis=0)) * scale
    op = LaggedWindows(z, L, mean, scale.reshape(L, 3))
    weights = rng.normal(size=(L * 3, 2))
    np.testing.assert_allclose(op.dot(weights), standard @ weights, atol=1e-9)
    np.testing.assert_allclose(op.sq_norms(), (standard ** 2).sum(axis=1), rtol=1e-9)


def test_reference_pca_series_path_equals_the_windows_path():
    """fit(series) never builds the windows; fit_windows(windows) does: same components,
    same scores, also for a series scored after fitting on another."""
    from tsad_helpers.detectors.classic import reference_pca_params
    from tsad_helpers.preprocessing import sliding_windows

    rng = np.random.default_rng(3)
    train, test = rng.normal(size=(700, 4)), rng.normal(size=(500, 4))
    train[:, 3] = test[:, 3] = 1.0  # a constant channel is dropped on both paths
    params = reference_pca_params(window=12, n_components=0.5)
    fast = detectors.make("pca", **params).fit(train)
    slow = detectors.make("pca", **params).fit_windows(sliding_windows(train, 12))
    np.testing.assert_allclose(fast.ratios_, slow.ratios_, rtol=1e-6)
    np.testing.assert_allclose(np.abs(fast.components_ @ slow.components_.T),
                               np.eye(len(fast.ratios_)), atol=1e-6)
    windowed = slow.score_windows(sliding_windows(test, 12))  # the materialised path
    np.testing.assert_allclose(fast.decision_function(test)[6:6 + len(windowed)], windowed,
                               rtol=1e-5)
