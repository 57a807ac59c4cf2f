import numpy as np
import pandas as pd
import pytest

from tsad_helpers import data_quality as dq
from tsad_helpers import datasets, events, profiles
from tsad_helpers.datasets import Dataset


def _toy():
    train = np.column_stack([np.arange(100.0), np.full(100, 2.0)])
    test = np.column_stack([np.arange(100.0) + 1000, np.full(100, 2.0)])
    test[3, 0] = np.nan
    labels = np.zeros(100, dtype=np.int8)
    labels[10:15] = 1
    labels[50:51] = 1
    return Dataset("toy", "e1", train, test, labels, ["a", "b"])


def test_events_segments_hand_worked():
    assert events.segments([0, 1, 1, 0, 1]).tolist() == [[1, 3], [4, 5]]
    assert events.segments([1, 1]).tolist() == [[0, 2]]
    assert events.segments([]).shape == (0, 2)
    assert events.lengths([0, 1, 1, 0, 1, 0]).tolist() == [2, 1]


def test_summary_counts():
    row = dq.summary(_toy())
    assert row["missing"] == 1
    assert row["const_train"] == 1 and row["const_test"] == 1
    assert row["events"] == 2 and row["event_len_max"] == 5 and row["event_len_min"] == 1
    assert row["anomaly_ratio"] == pytest.approx(0.06)
    assert row["ks_max"] == pytest.approx(1.0)  # channel a: disjoint ranges


def test_drift_identical_and_shifted():
    d = dq.drift(_toy())
    assert d.loc[d.channel == "b", "ks"].item() == 0.0
    assert d.loc[d.channel == "a", "ks"].item() == pytest.approx(1.0)


def test_type_counts_synthetic():
    ds = datasets.load("synthetic", "syn-1", **profiles.get("smoke")["synthetic"])
    types = dq.type_counts([ds])
    assert set(types["type"]) == set(datasets.synthetic.ANOMALY_TYPES)
    assert types["events"].sum() == len(ds.meta["events"])
    assert types["points"].sum() == ds.test_labels.sum()
    assert dq.type_counts([_toy()]).empty


def test_dataset_table_pools_points():
    table = dq.summary_table([_toy(), _toy()])
    per = dq.dataset_table(table)
    assert per.loc["toy", "entities"] == 2 and per.loc["toy", "test_points"] == 200
    assert per.loc["toy", "anomaly_ratio"] == pytest.approx(0.06)


def test_stretches_normal_is_label_free():
    ds = datasets.load("synthetic", "syn-2", **profiles.get("smoke")["synthetic"])
    normal, anomalous = dq.stretches(ds, 400)
    assert ds.test_labels[normal].sum() == 0 and normal.stop > normal.start
    assert ds.test_labels[anomalous].sum() > 0


def test_plots_are_written(tmp_path):
    ds = datasets.load("synthetic", "syn-1", **profiles.get("smoke")["synthetic"])
    paths = [dq.plot_stretches(ds, tmp_path / "s.png"),
             dq.plot_drift(dq.drift(ds), tmp_path / "d.png"),
             dq.plot_event_lengths(dq.event_lengths([ds]), tmp_path / "l.png")]
    for p in paths:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(tmp_path.glob(".*"))  # no temporary files left


def test_load_for_profile_reports_missing(tmp_path):
    settings = {"datasets": ["synthetic", "smd"], "max_entities": 2,
                "synthetic": profiles.get("smoke")["synthetic"]}
    items, missing = dq.load_for_profile(settings, tmp_path)
    assert [d.entity for d in items] == ["syn-1", "syn-2"] and missing == ["smd"]


def test_load_for_profile_real_fixtures(fixture_root):
    settings = {"datasets": ["psm", "smd"], "max_entities": None}
    items, missing = dq.load_for_profile(settings, fixture_root)
    assert missing == [] and len(items) == 3
    table = dq.summary_table(items)
    assert table.loc[table.dataset == "psm", "missing"].item() == 2  # NaN kept and counted
    assert isinstance(table, pd.DataFrame)


def test_plot_examples_one_per_real_dataset_all_synthetic(fixture_root, tmp_path):
    items, _ = dq.load_for_profile({"datasets": ["smd", "asd"], "max_entities": None},
                                   fixture_root)
    items += [datasets.load("synthetic", e, **profiles.get("smoke")["synthetic"])
              for e in ("syn-1", "syn-2")]
    paths = dq.plot_examples(items, tmp_path)
    assert sorted(p.name for p in paths) == [
        "stretches_asd_omi-1.png", "stretches_smd_machine-1-1.png",
        "stretches_synthetic_syn-1.png", "stretches_synthetic_syn-2.png"]


def test_save_json_is_strict(tmp_path):
    import json

    from tsad_helpers.results import save_json
    path = save_json({"a": float("nan"), "b": np.float64(2.5), "c": [np.int64(3), np.inf]},
                     tmp_path / "x.json")
    assert json.loads(path.read_text()) == {"a": None, "b": 2.5, "c": [3, None]}
