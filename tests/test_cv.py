import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.model_selection import cross_val_score
from sklearn.linear_model import LogisticRegression

from tsad_helpers import events
from tsad_helpers.cv import RollingWindowStratifiedSplit, plot_folds


def _labels(n, starts, length):
    y = np.zeros(n, dtype=int)
    for s in starts:
        y[s:s + length] = 1
    return y


def test_hand_worked_edges_move_out_of_events():
    y = _labels(100, [18, 38, 58, 78], 5)  # nominal edges 20, 40, 60, 80 fall inside events
    cv = RollingWindowStratifiedSplit(n_splits=4, gap=2)
    b = cv.boundaries(y)
    assert b.tolist() == [18, 38, 58, 78, 100]
    folds = list(cv.split(None, y))
    assert len(folds) == cv.get_n_splits() == 4
    train, val = folds[1]
    assert val[0] == 38 and val[-1] == 57 and train[-1] == 35 and len(train) == 16


def test_expanding_and_max_train_size():
    y = _labels(200, [30, 70, 110, 150, 190], 4)
    for train, val in RollingWindowStratifiedSplit(3, gap=5, mode="expanding").split(None, y):
        assert train[0] == 0 and train[-1] == val[0] - 6
    for train, val in RollingWindowStratifiedSplit(3, max_train_size=20).split(None, y):
        assert len(train) == 20


def test_impossible_requests_are_clear():
    y = _labels(100, [10, 50], 3)
    with pytest.raises(ValueError, match=r"cannot give 4 validation blocks .* 2 events"):
        list(RollingWindowStratifiedSplit(4).split(None, y))
    with pytest.raises(ValueError, match="no training data before the first validation block"):
        list(RollingWindowStratifiedSplit(1, gap=80, min_events=0).split(None, y))
    with pytest.raises(ValueError, match="mode must be"):
        list(RollingWindowStratifiedSplit(2, mode="random").split(None, y))
    with pytest.raises(ValueError, match="X has 3 rows but y has 100"):
        list(RollingWindowStratifiedSplit(2).split(np.zeros((3, 1)), y))
    with pytest.raises(ValueError, match="y .0/1 labels. is required"):
        list(RollingWindowStratifiedSplit(2).split(np.zeros((100, 1)), None))


def test_works_as_sklearn_cv():
    rng = np.random.default_rng(0)
    y = _labels(600, range(20, 600, 60), 10)
    X = (y + rng.normal(0, 0.2, 600))[:, None]
    scores = cross_val_score(LogisticRegression(), X, y,
                             cv=RollingWindowStratifiedSplit(4, gap=3), scoring="f1")
    assert len(scores) == 4 and np.all(scores > 0.8)


def test_plot_folds(tmp_path):
    y = _labels(300, range(20, 300, 50), 6)
    plot_folds(RollingWindowStratifiedSplit(4, gap=4), y, tmp_path / "folds.png")
    assert (tmp_path / "folds.png").read_bytes()[:4] == b"\x89PNG"


@settings(max_examples=150, deadline=None)
@given(n=st.integers(50, 600), n_events=st.integers(0, 25), max_len=st.integers(1, 30),
       n_splits=st.integers(1, 6), gap=st.integers(0, 10), min_events=st.integers(0, 3),
       mode=st.sampled_from(["rolling", "expanding"]), seed=st.integers(0, 1000))
def test_promises(n, n_events, max_len, n_splits, gap, min_events, mode, seed):
    rng = np.random.default_rng(seed)
    y = np.zeros(n, dtype=int)
    for s in rng.integers(0, n, n_events):
        y[s:s + rng.integers(1, max_len + 1)] = 1
    seg = events.segments(y)
    cv = RollingWindowStratifiedSplit(n_splits, gap=gap, min_events=min_events, mode=mode)
    try:
        folds = list(cv.split(None, y))
    except ValueError as exc:
        assert "cannot give" in str(exc) or "no training data" in str(exc) \
            or "empty validation block" in str(exc) or "cannot make" in str(exc)
        return
    assert len(folds) == n_splits
    previous_end = -1
    first_len = len(folds[0][0])
    for train, val in folds:
        assert len(train) > 0 and len(val) > 0
        assert np.array_equal(val, np.arange(val[0], val[-1] + 1))      # contiguous
        assert np.array_equal(train, np.arange(train[0], train[-1] + 1))
        assert train[-1] + gap < val[0]                                  # before, with gap
        assert val[0] > previous_end                                     # blocks in order
        previous_end = val[-1]
        a, b = val[0], val[-1] + 1
        cut = (seg[:, 0] < a) & (seg[:, 1] > a) | (seg[:, 0] < b) & (seg[:, 1] > b)
        assert not cut.any()                                             # no event cut
        assert np.sum((seg[:, 0] >= a) & (seg[:, 1] <= b)) >= min_events
        if mode == "rolling":
            assert len(train) == min(first_len, val[0] - gap)
        else:
            assert train[0] == 0


def test_events_far_apart_still_fold_when_a_split_exists():
    """Three events at 200, 500 and 800 of 1,000 points: the equal-length grid puts the first
    in training, yet three blocks of one event each exist (training before 200 has none)."""
    y = _labels(1000, [200, 500, 800], 10)
    b = RollingWindowStratifiedSplit(3, gap=31).boundaries(y)
    assert b.tolist() == [100, 355, 655, 1000]
    for train, val in RollingWindowStratifiedSplit(3, gap=31).split(None, y):
        assert events.segments(y[val]).shape[0] == 1 and train[-1] == val[0] - 32


def _exists(y, k, m, gap):
    """Brute force: are there edges b0 < ... < b(k-1) < n, none strictly inside an event,
    with training before b0 (b0 - gap >= 1) and >= m whole events in every block?"""
    from itertools import combinations

    seg = events.segments(y)
    n = len(y)
    inside = np.zeros(n + 1, dtype=bool)
    for a, e in seg:
        inside[a + 1:e] = True
    for combo in combinations([p for p in range(1, n) if not inside[p]], k):
        b = list(combo) + [n]
        if b[0] - gap < 1:
            continue
        if all(np.sum((seg[:, 0] >= b[j]) & (seg[:, 1] <= b[j + 1])) >= m for j in range(k)):
            return True
    return False


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(0, 34), min_size=0, max_size=6), st.integers(1, 3),
       st.integers(1, 2), st.integers(0, 4), st.integers(1, 3))
def test_a_split_is_found_exactly_when_one_exists(starts, k, m, gap, length):
    n = 36
    y = _labels(n, starts, length)
    cv = RollingWindowStratifiedSplit(k, gap=gap, min_events=m)
    try:
        b = cv.boundaries(y)
        found = True
    except ValueError:
        found = False
    assert found == _exists(y, k, m, gap)
    if found:
        seg = events.segments(y)
        assert all(not ((seg[:, 0] < p) & (seg[:, 1] > p)).any() for p in b[:-1])
