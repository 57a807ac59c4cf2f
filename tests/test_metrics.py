"""Metrics: hand-worked cases, properties (hypothesis) and agreement with the published
reference implementations (tests/reference/reference_metrics.json, see its generator)."""

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from sklearn.metrics import average_precision_score, f1_score, roc_auc_score

from tsad_helpers import metrics
from tsad_helpers.affiliation import affiliation

from .conftest import need

REFERENCE = json.loads((Path(__file__).parent / "reference" / "reference_metrics.json").read_text())


def test_keys_of_design():
    m = metrics.evaluate([0.1, 0.9, 0.2, 0.8], [0, 1, 0, 1], 0.5, vus_window=2)
    assert set(metrics.KEYS) <= set(m)


def test_hand_worked_point_and_pa():
    labels = np.array([0, 1, 1, 1, 1, 0, 0, 1, 1, 0])
    scores = np.array([0, 0, 0, 9, 0, 9, 0, 0, 0, 0], dtype=float)
    m = metrics.evaluate(scores, labels, 5, vus_window=4)
    # predicted {3, 5}: tp 1, fp 1, 6 positives
    assert m["precision"] == pytest.approx(0.5) and m["recall"] == pytest.approx(1 / 6)
    assert m["f1"] == pytest.approx(2 * 0.5 * (1 / 6) / (0.5 + 1 / 6))
    # PA: first event (4 points) fully detected -> tp 4, fp 1
    assert m["pa_precision"] == pytest.approx(4 / 5) and m["pa_recall"] == pytest.approx(4 / 6)
    assert m["event_recall"] == pytest.approx(0.5)
    assert m["mean_detection_delay"] == pytest.approx(2.0)  # event starts at 1, hit at 3
    # PA%K: detected share of event 1 is 1/4 -> adjusted for K < 25
    curve = np.array(m["pa_k_f1"])
    assert curve[0] == pytest.approx(m["pa_f1"]) and curve[24] == pytest.approx(m["pa_f1"])
    assert curve[25] == pytest.approx(m["f1"]) and curve[100] == pytest.approx(m["f1"])
    assert m["pa_k_auc"] == pytest.approx(np.trapezoid(curve, np.arange(101) / 100))


def test_hand_worked_affiliation():
    # ground truth [4, 6) in T = 10, zone [0, 10]; prediction [4, 6): perfect
    assert affiliation([0, 0, 0, 0, 1, 1, 0, 0, 0, 0], [0, 0, 0, 0, 1, 1, 0, 0, 0, 0]) == (1.0, 1.0)
    # prediction [9, 10): distance from J is 3..4; X ~ U[0, 10] is at least d from J on
    # [0, 4 - d] and [6 + d, 10]: P = 2 (4 - d) / 10, whose mean over d in [3, 4] is 0.1
    p, r = affiliation([0] * 9 + [1], [0, 0, 0, 0, 1, 1, 0, 0, 0, 0])
    assert p == pytest.approx(np.mean([2 * (4 - d) / 10 for d in np.linspace(3, 4, 100001)]))
    # recall: y in [4, 6) is d = 9 - y from the prediction's start; X ~ U[0, 10] is at least
    # d from y on [0, 2y - 9] and [9, 10]
    ys = np.linspace(4, 6, 200001)
    expected = np.mean([(max(0, 2 * y - 9) + (10 - 9)) / 10 for y in ys])
    assert r == pytest.approx(expected, abs=1e-6)
    # nothing predicted: precision undefined, recall 0
    p, r = affiliation([0] * 10, [0, 0, 0, 0, 1, 1, 0, 0, 0, 0])
    assert np.isnan(p) and r == 0.0


def test_hand_worked_range_based():
    labels = np.array([0, 1, 1, 1, 1, 0, 0, 0])
    pred = np.array([0, 1, 1, 0, 0, 0, 1, 0])
    p, r = metrics.range_precision_recall(pred, labels)
    assert r == pytest.approx(0.5)          # half of the one real range
    assert p == pytest.approx((1.0 + 0.0) / 2)  # first predicted range inside, second outside
    p, r = metrics.range_precision_recall(pred, labels, alpha=1.0)
    assert r == 1.0  # existence only


def test_best_f1_is_oracle_and_threshold_reproduces_it():
    rng = np.random.default_rng(0)
    labels = (rng.random(500) < 0.1).astype(int)
    scores = rng.normal(size=500) + labels
    m = metrics.evaluate(scores, labels, 10.0)
    assert m["f1"] == 0.0 and m["precision"] == 0.0  # nothing above threshold
    again = metrics.evaluate(scores, labels, m["best_f1_threshold"])
    assert again["f1"] == pytest.approx(m["best_f1"])
    for t in np.quantile(scores, np.linspace(0, 0.99, 40)):
        assert metrics.evaluate(scores, labels, t)["f1"] <= m["best_f1"] + 1e-12


def test_undefined_metrics_are_nan_not_errors():
    m = metrics.evaluate([0.1, 0.5, 0.2], [0, 0, 0], 0.3, vus_window=2)
    for key in ("recall", "f1", "auc_roc", "auc_pr", "vus_roc", "best_f1", "event_recall"):
        assert np.isnan(m[key]), key
    assert m["precision"] == 0.0


def test_input_errors():
    with pytest.raises(ValueError, match="3 points but labels has 2"):
        metrics.evaluate([1, 2, 3], [0, 1], 1)
    with pytest.raises(ValueError, match="NaN or inf"):
        metrics.evaluate([1, np.nan], [0, 1], 1)
    with pytest.raises(ValueError, match="labels must be 0 or 1"):
        metrics.evaluate([1, 2], [0, 2], 1)
    # a buffer as long as the series would make random scores look perfect
    rng = np.random.default_rng(0)
    labels = np.zeros(1000, dtype=int)
    labels[[200, 500, 800]] = 1
    with pytest.raises(ValueError, match="vus window 5000 is not shorter than the series"):
        metrics.evaluate(rng.random(1000), labels, 0.5, vus_window=5000)
    with pytest.raises(ValueError, match="1-D"):
        metrics.evaluate(np.zeros((2, 2)), np.zeros((2, 2)), 1)


def test_random_scores_inflate_pa_f1():
    """The point-adjustment inflation every table must guard against."""
    rng = np.random.default_rng(1)
    labels = np.zeros(20000, dtype=int)
    for s in rng.choice(19000, 20, replace=False):
        labels[s:s + 300] = 1
    scores = rng.random(20000)
    m = metrics.evaluate(scores, labels, np.quantile(scores, 0.99))
    assert m["pa_f1"] > 0.6 and m["f1"] < 0.1
    assert abs(m["auc_roc"] - 0.5) < 0.05


# ---- properties ------------------------------------------------------------------------------

labels_st = st.lists(st.integers(0, 1), min_size=8, max_size=120)


@settings(max_examples=60, deadline=None)
@given(labels=labels_st, seed=st.integers(0, 10_000), window=st.integers(0, 12))
def test_threshold_free_metrics_invariant_to_monotone_transforms(labels, seed, window):
    y = np.array(labels)
    assume(0 < y.sum() < len(y) and window < len(y))
    s = np.round(np.random.default_rng(seed).normal(size=len(y)) + y, 2)
    a = metrics.evaluate(s, y, 0.0, vus_window=window)
    b = metrics.evaluate(np.exp(3 * s) + 7, y, np.exp(0.0) + 7, vus_window=window)
    for key in ("auc_roc", "auc_pr", "vus_roc", "vus_pr", "best_f1"):
        assert a[key] == pytest.approx(b[key], abs=1e-9), key
    assert a["f1"] == pytest.approx(b["f1"])  # threshold moved with the transform


@settings(max_examples=60, deadline=None)
@given(labels=labels_st, seed=st.integers(0, 10_000), q=st.floats(0.0, 0.99))
def test_pa_at_least_pointwise_and_sklearn_agreement(labels, seed, q):
    y = np.array(labels)
    assume(0 < y.sum() < len(y))
    s = np.random.default_rng(seed).normal(size=len(y)) + y
    t = float(np.quantile(s, q))
    m = metrics.evaluate(s, y, t, vus_window=4)
    assert m["pa_f1"] >= m["f1"] - 1e-12
    assert m["pa_recall"] >= m["recall"] - 1e-12
    assert m["pa_k_f1"][0] >= m["pa_k_f1"][100] - 1e-6
    assert m["f1"] == pytest.approx(f1_score(y, s > t, zero_division=0))
    assert m["auc_roc"] == pytest.approx(roc_auc_score(y, s))
    assert m["auc_pr"] == pytest.approx(average_precision_score(y, s))
    assert m["best_f1"] >= m["f1"] - 1e-12
    for key in ("precision", "recall", "pa_f1", "affiliation_precision", "affiliation_recall",
                "range_precision", "range_recall", "vus_roc", "vus_pr", "pa_k_auc"):
        if not np.isnan(m[key]):
            assert -1e-12 <= m[key] <= 1 + 1e-12, key


@settings(max_examples=40, deadline=None)
@given(labels=labels_st, window=st.integers(0, 10))
def test_perfect_scores_give_one(labels, window):
    y = np.array(labels)
    assume(0 < y.sum() < len(y) and window < len(y))
    m = metrics.evaluate(y.astype(float), y, 0.5, vus_window=window)
    for key in ("precision", "recall", "f1", "pa_f1", "pa_k_auc", "event_recall", "auc_roc",
                "auc_pr", "affiliation_precision", "affiliation_recall", "range_precision",
                "range_recall", "best_f1"):
        assert m[key] == pytest.approx(1.0), key
    assert m["mean_detection_delay"] == 0.0
    if window == 0:
        assert m["vus_roc"] == pytest.approx(1.0) and m["vus_pr"] == pytest.approx(1.0)


# ---- published reference implementations -----------------------------------------------------

@pytest.mark.parametrize("case", REFERENCE["cases"], ids=lambda c: f"seed{c['seed']}")
def test_agrees_with_reference_implementations(case):
    s, y = np.array(case["scores"]), np.array(case["labels"])
    m = metrics.evaluate(s, y, case["threshold"], vus_window=case["vus_window"])
    for key in ("auc_roc", "auc_pr", "vus_roc", "vus_pr", "affiliation_precision",
                "affiliation_recall", "pa_f1"):
        assert m[key] == pytest.approx(case[key], abs=1e-9), key
    pred = s > case["threshold"]
    for setting in case["range"]:
        p, r = metrics.range_precision_recall(pred, y, setting["alpha"], setting["cardinality"],
                                              setting["bias"])
        assert (p, r) == pytest.approx((setting["precision"], setting["recall"]), abs=1e-9), setting


@pytest.mark.parametrize("n_events,window", [(3, 20), (60, 30), (60, 7)])
def test_vus_soft_labels_sparse_and_dense_paths(n_events, window):
    """The soft labels around events (sqrt decay, capped at 1) match a plain loop, whether
    they are built sparsely (few events) or by convolution (dense events)."""
    rng = np.random.default_rng(n_events)
    y = np.zeros(400, dtype=np.int8)
    y[rng.choice(395, n_events, replace=False)] = 1
    seg = metrics.events.segments(y)
    seg_incl = np.column_stack([seg[:, 0], seg[:, 1] - 1])
    expected = y.astype(float)
    half = window // 2
    for s, e in seg_incl:
        for d in range(1, half + 1):
            for t in (e + d, s - d):
                if 0 <= t < len(y):
                    expected[t] += np.sqrt(1 - d / window)
    expected = np.minimum(expected, 1.0)
    idx, val = metrics._ramp_weights(seg_incl, window, y)
    got = y.astype(float)
    got[idx] = val
    np.testing.assert_allclose(got, expected, atol=1e-12)


# ---- the published protocol's VUS window (TSB-AD's period rule) -------------------------------
@pytest.mark.parametrize("period", [12, 37, 50, 250])
def test_period_window_finds_the_period_of_a_sine(period):
    t = np.arange(6000)
    noisy = np.sin(2 * np.pi * t / period) + 0.2 * np.random.default_rng(0).normal(size=len(t))
    assert metrics.period_window(np.sin(2 * np.pi * t / period)) == period
    assert abs(metrics.period_window(noisy) - period) <= 1  # noise may move the peak a lag
    two_channels = np.column_stack([noisy, np.zeros_like(noisy)])
    assert metrics.period_window(two_channels) == metrics.period_window(noisy)


def test_period_window_default_when_no_usable_period():
    t = np.arange(6000)
    assert metrics.period_window(np.ones(500)) == 125  # constant
    assert metrics.period_window(t * 0.01) == 125  # a ramp: no local maximum
    assert metrics.period_window(np.sin(2 * np.pi * t / 350)) == 125  # period past lag 303
    assert metrics.period_window(np.ones(500), default=64) == 64
    with pytest.raises(ValueError, match="NaN"):
        metrics.period_window(np.array([1.0, np.nan, 2.0]))
    with pytest.raises(ValueError, match="shape"):
        metrics.period_window(np.ones((3, 4, 5)))


def test_evaluate_adds_the_period_column_with_that_window():
    t = np.arange(3000)
    series = np.sin(2 * np.pi * t / 40)[:, None]
    labels = np.zeros(3000, dtype=int)
    labels[1000:1030] = 1
    scores = np.random.default_rng(1).random(3000) + labels
    m = metrics.evaluate(scores, labels, 0.9, vus_window=100, period_series=series)
    assert m["period_window"] == 40
    assert (m["vus_roc_period"], m["vus_pr_period"]) == metrics.vus(scores, labels, 40)
    assert m["vus_pr"] == metrics.vus(scores, labels, 100)[1]
    assert "vus_pr_period" not in metrics.evaluate(scores, labels, 0.9)
    with pytest.raises(ValueError, match="period_series"):
        metrics.evaluate(scores, labels, 0.9, period_series=series[:10])


def test_period_window_on_smd_equals_tsb_ad(real_root):
    """TSB-AD 1.5's find_length_rank(test[:, 0], rank=1) on these machines gave 125, 125, 12
    (run once in a scratch environment, 2026-11-30)."""
    from tsad_helpers import datasets

    need(real_root, "SMD")
    got = [metrics.period_window(datasets.load("smd", e, real_root).test)
           for e in ("machine-1-3", "machine-2-1", "machine-3-2")]
    assert got == [125, 125, 12]
