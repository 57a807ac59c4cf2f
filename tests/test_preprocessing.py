import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tsad_helpers.preprocessing import (ChannelScaler, PointScores, sliding_windows, window_starts,
                                        windows_to_points)


@pytest.mark.parametrize("kind", ["standard", "minmax", "robust"])
def test_scaler_fits_on_train_only(kind):
    rng = np.random.default_rng(0)
    train = rng.normal(5, 2, (500, 3))
    test = rng.normal(50, 20, (100, 3))  # very different: must not move the fit
    a = ChannelScaler(kind).fit(train)
    b = ChannelScaler(kind).fit(train)
    np.testing.assert_allclose(a.transform(test), b.transform(test))
    z = a.transform(train)
    if kind == "standard":
        np.testing.assert_allclose(z.mean(0), 0, atol=1e-5)
        np.testing.assert_allclose(z.std(0), 1, atol=1e-5)
    elif kind == "minmax":
        np.testing.assert_allclose(z.min(0), 0, atol=1e-6)
        np.testing.assert_allclose(z.max(0), 1, atol=1e-6)
    else:
        np.testing.assert_allclose(np.median(z, 0), 0, atol=1e-5)
    assert z.dtype == np.float32


@pytest.mark.parametrize("kind", ["standard", "minmax", "robust"])
def test_constant_channel_centred_not_divided(kind):
    train = np.column_stack([np.arange(10.0), np.full(10, 3.0)])
    test = np.array([[0.0, 3.0], [0.0, 5.0]])
    s = ChannelScaler(kind).fit(train)
    assert s.constant_channels_.tolist() == [1]
    out = s.transform(test)
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out[:, 1], [0.0, 2.0])  # deviation kept in original units


def test_constant_channel_drop_and_error():
    train = np.column_stack([np.arange(10.0), np.full(10, 3.0), np.arange(10.0) ** 2])
    s = ChannelScaler("standard", constant="drop").fit(train)
    assert s.kept_channels_.tolist() == [0, 2]
    assert s.transform(train).shape == (10, 2)
    with pytest.raises(ValueError, match=r"constant channels \[1\]"):
        ChannelScaler(constant="error").fit(train)
    with pytest.raises(ValueError, match="every channel of train is constant"):
        ChannelScaler(constant="drop").fit(np.ones((5, 2)))


def test_scaler_input_errors():
    s = ChannelScaler().fit(np.random.default_rng(0).normal(size=(20, 3)))
    with pytest.raises(ValueError, match="2 channels, the scaler was fitted on 3"):
        s.transform(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="NaN or inf"):
        s.transform(np.full((4, 3), np.nan))
    with pytest.raises(ValueError, match=r"2-D \[T, C\]"):
        s.transform(np.zeros(4))
    with pytest.raises(ValueError, match="kind must be one of"):
        ChannelScaler("zscore").fit(np.zeros((4, 2)))
    with pytest.raises(RuntimeError, match="not fitted"):
        ChannelScaler().transform(np.zeros((4, 2)))


def test_windows_hand_worked():
    x = np.arange(10.0)[:, None]
    assert window_starts(10, 4, 3).tolist() == [0, 3, 6]
    assert window_starts(10, 4, 4).tolist() == [0, 4, 6]  # last window ends at the last point
    w = sliding_windows(x, 4, 4)
    assert w.shape == (3, 4, 1)
    assert w[:, :, 0].tolist() == [[0, 1, 2, 3], [4, 5, 6, 7], [6, 7, 8, 9]]
    assert np.shares_memory(sliding_windows(x, 4, 3), x)  # regular: a view, no copy
    scores = windows_to_points([1.0, 2.0, 4.0], 10, 4, 4)
    np.testing.assert_allclose(scores, [1, 1, 1, 1, 2, 2, 3, 3, 4, 4])
    np.testing.assert_allclose(windows_to_points([1.0, 2.0, 4.0], 10, 4, 4, "max"),
                               [1, 1, 1, 1, 2, 2, 4, 4, 4, 4])


def test_window_errors():
    with pytest.raises(ValueError, match="shorter than the window length"):
        window_starts(3, 5)
    with pytest.raises(ValueError, match=">= 1"):
        window_starts(10, 0)
    with pytest.raises(ValueError, match="does not match 3 windows"):
        windows_to_points(np.zeros(4), 10, 4, 4)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 60), length=st.integers(1, 12), stride=st.integers(1, 12),
       channels=st.integers(1, 3))
def test_windows_cover_every_point_and_invert(n, length, stride, channels):
    if n < length:
        return
    if stride > length:
        with pytest.raises(ValueError, match="leaves points without a window"):
            windows_to_points(np.zeros(len(window_starts(n, length, stride))), n, length, stride)
        return
    x = np.random.default_rng(n).normal(size=(n, channels))
    w = sliding_windows(x, length, stride)
    starts = window_starts(n, length, stride)
    covered = np.zeros(n, dtype=bool)
    for s, win in zip(starts, w):
        np.testing.assert_array_equal(win, x[s:s + length])
        covered[s:s + length] = True
    assert covered.all()
    # per-step scores equal to the series itself map back to the series exactly
    back = windows_to_points(w[:, :, 0], n, length, stride)
    np.testing.assert_allclose(back, x[:, 0])
    back_max = windows_to_points(w[:, :, 0], n, length, stride, reduce="max")
    np.testing.assert_allclose(back_max, x[:, 0])
    # a constant window score maps to the same constant everywhere
    np.testing.assert_allclose(windows_to_points(np.full(len(w), 2.5), n, length, stride), 2.5)


def test_point_scores_in_batches_equal_windows_to_points():
    rng = np.random.default_rng(0)
    n, length = 103, 7
    starts = window_starts(n, length, 1)
    per_step = rng.random((len(starts), length))
    whole = windows_to_points(per_step, n, length, 1)
    points = PointScores(n, length)
    for i in range(0, len(starts), 10):
        points.add(starts[i:i + 10], per_step[i:i + 10])
    np.testing.assert_allclose(points.result(), whole, rtol=1e-12)
    assert np.isnan(PointScores(5, 2).result()).all()  # no window: no score
    with pytest.raises(ValueError, match="window scores of shape"):
        points.add(starts[:3], per_step[:2])
