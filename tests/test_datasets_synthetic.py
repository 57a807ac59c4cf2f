import numpy as np
import pytest

from tsad_helpers import datasets, events
from tsad_helpers.datasets import synthetic


def test_shapes_dtypes_and_fields():
    ds = datasets.load("synthetic", "syn-2")
    assert ds.train.shape == (4000, 10) and ds.test.shape == (4000, 10)
    assert ds.train.dtype == np.float32 and ds.test_labels.dtype == np.int8
    assert ds.channels == [f"ch{i:02d}" for i in range(10)]
    assert len(ds.anomaly_types) == 4000


def test_deterministic_by_seed_and_entity():
    a = datasets.load("synthetic", "syn-1", seed=3)
    b = datasets.load("synthetic", "syn-1", seed=3)
    c = datasets.load("synthetic", "syn-1", seed=4)
    d = datasets.load("synthetic", "syn-2", seed=3)
    np.testing.assert_array_equal(a.test, b.test)
    np.testing.assert_array_equal(a.test_labels, b.test_labels)
    assert not np.allclose(a.test, c.test)
    assert not np.allclose(a.train, d.train)


@pytest.mark.parametrize("entity", synthetic.ENTITIES)
def test_every_type_present_and_labels_match_types(entity):
    ds = datasets.load("synthetic", entity, events_per_type=2)
    types = np.asarray(ds.anomaly_types)
    assert set(types[types != ""]) == set(synthetic.ANOMALY_TYPES)
    np.testing.assert_array_equal(types != "", ds.test_labels == 1)
    assert len(ds.meta["events"]) == 2 * len(synthetic.ANOMALY_TYPES)
    # events do not touch each other, so each labelled segment is exactly one event
    assert len(events.segments(ds.test_labels)) == len(ds.meta["events"])
    for ev in ds.meta["events"]:
        lo, hi = synthetic.SEGMENT_LENGTHS[ev["type"]]
        assert lo <= ev["end"] - ev["start"] <= hi
        assert set(types[ev["start"]:ev["end"]]) == {ev["type"]}


def test_train_has_no_anomalies_and_anomalies_change_the_signal():
    clean = datasets.load("synthetic", "syn-1", events_per_type=0)
    ds = datasets.load("synthetic", "syn-1")
    assert clean.test_labels.sum() == 0
    np.testing.assert_array_equal(clean.train, ds.train)
    changed = np.any(clean.test != ds.test, axis=1)
    # every anomalous point differs from the clean series, no normal point does
    np.testing.assert_array_equal(changed, ds.test_labels.astype(bool))


def test_anomalies_only_on_listed_channels():
    clean = datasets.load("synthetic", "syn-3", events_per_type=0)
    ds = datasets.load("synthetic", "syn-3")
    for ev in ds.meta["events"]:
        span = slice(ev["start"], ev["end"])
        diff = np.any(clean.test[span] != ds.test[span], axis=0)
        assert set(np.flatnonzero(diff)) <= set(ev["channels"])


def test_shared_structure_between_channels():
    """Channels share latent seasonal/trend factors: correlations far from zero."""
    ds = datasets.load("synthetic", "syn-1")
    corr = np.corrcoef(ds.train.T)
    off = np.abs(corr[~np.eye(len(corr), dtype=bool)])
    assert np.median(off) > 0.3


def test_point_spike_is_large_and_contextual_is_in_range():
    ds = datasets.load("synthetic", "syn-1")
    clean = datasets.load("synthetic", "syn-1", events_per_type=0)
    std = ds.train.std(axis=0)
    for ev in ds.meta["events"]:
        c, t = ev["channels"][0], ev["start"]
        jump = abs(ds.test[t, c] - clean.test[t, c]) / std[c]
        if ev["type"] == "point":
            assert jump >= 3.9
        if ev["type"] == "contextual":
            assert ds.train[:, c].min() - 1 < ds.test[t, c] < ds.train[:, c].max() + 1
            assert jump > 0.5


def test_bad_parameters_are_clear():
    with pytest.raises(ValueError, match="unknown synthetic entity"):
        datasets.load("synthetic", "nope")
    with pytest.raises(ValueError, match="too short"):
        datasets.load("synthetic", "syn-1", test_length=500)
    with pytest.raises(ValueError, match="unknown dataset"):
        datasets.load("smdd")
