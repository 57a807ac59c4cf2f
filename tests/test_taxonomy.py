"""Failure taxonomy (tsad_helpers.taxonomy, notebook 06): found / late / missed events,
false-alarm classes, event descriptions (kind, length, magnitude, channels), which arm fixes
which failure; on constructed runs whose answers are known, and on loader fixtures."""

import numpy as np
import pandas as pd
import pytest

from tsad_helpers import profiles
from tsad_helpers import taxonomy as tx


def make_ctx():
    n = 200
    labels = np.zeros(n, dtype=np.int64)
    labels[20:40] = 1   # level shift, 20 points
    labels[100] = 1     # point
    labels[150:170] = 1  # pattern
    x = np.zeros((n, 3))
    x[20:40, 1] = 5.0
    x[100, 2] = -8.0
    x[150:170, 0] = 2.0
    types = np.array([""] * n, dtype=object)
    types[20:40], types[100], types[150:170] = "level_shift", "point", "pattern"
    interp = [{"start": 20, "end": 40, "channels": [1]},
              {"start": 150, "end": 170, "channels": [0, 2]}]
    return {"x": x, "labels": labels, "types": types, "interpretation": interp,
            "mean": np.zeros(3), "std": np.ones(3), "window": 10}


def test_event_outcome_and_alarm_classes():
    pred = np.zeros(50, dtype=bool)
    pred[11] = True
    assert tx.event_outcome(pred, 10, 30) == ("found", 1)  # within 10 % of 20 points
    assert tx.event_outcome(pred, 9, 29) == ("late", 2)    # the third point: after 10 %
    assert tx.event_outcome(pred, 20, 30)[0] == "missed"
    assert tx.event_outcome(pred, 11, 12) == ("found", 0)  # a one-point event
    seg = np.array([[100, 110]])
    assert tx.classify_alarm(85, 86, seg, 20) == "near event"
    assert tx.classify_alarm(115, 150, seg, 20) == "near event"
    assert tx.classify_alarm(10, 13, seg, 20) == "spike"
    assert tx.classify_alarm(10, 40, seg, 20) == "sustained"
    assert tx.classify_alarm(10, 20, seg, 20) == "other"
    assert [tx.length_bin(n) for n in (1, 2, 10, 11, 100, 101)] == [
        "1", "2-10", "2-10", "11-100", "11-100", ">100"]


def test_describe_events_kind_magnitude_channels():
    d = tx.describe_events(make_ctx())
    assert d["kind"].tolist() == ["level_shift", "point", "pattern"]
    assert d["length"].tolist() == [20, 1, 20]
    assert d["magnitude"].tolist() == [5.0, 8.0, 2.0]
    assert d["channels"].iloc[0] == 1 and np.isnan(d["channels"].iloc[1])
    assert d["channels"].iloc[2] == 2


def kept_runs(ctx):
    n = len(ctx["labels"])
    s_none = np.zeros(n)
    s_none[21] = s_none[60:62] = 1.0     # first event found; a spike far from events
    s_arm = s_none.copy()
    s_arm[100] = s_arm[160] = 1.0        # the arm also finds the point and (late) the pattern
    s_arm[21] = 0.0                      # ... but loses the level shift
    runs = pd.DataFrame([
        {"detector": "window_classifier", "arm": "none", "ratio": "0",
         "threshold_rule": "probability", "model": "m_none", "threshold": 0.5},
        {"detector": "window_classifier", "arm": "vae", "ratio": "1",
         "threshold_rule": "probability", "model": "m_vae", "threshold": 0.5}])
    return [{"dataset": "synthetic", "entity": "e", "seed": 0, "labels": ctx["labels"],
             "runs": runs, "scores": {"m_none": s_none, "m_vae": s_arm}}]


def test_outcomes_rates_alarms_and_arm_fixes():
    ctx = make_ctx()
    kept = kept_runs(ctx)
    events, alarms, runs = tx.outcomes(kept, {("synthetic", "e"): ctx})
    assert len(events) == 6
    assert runs.set_index("arm")["flagged_normal_share"].to_dict() == {
        "none": pytest.approx(2 / 159), "vae": pytest.approx(2 / 159)}
    none = events[events["arm"] == "none"].set_index("kind")["outcome"]
    assert none.to_dict() == {"level_shift": "found", "point": "missed", "pattern": "missed"}
    vae = events[events["arm"] == "vae"].set_index("kind")["outcome"]
    assert vae.to_dict() == {"level_shift": "missed", "point": "found", "pattern": "late"}
    assert alarms["class"].tolist() == ["spike", "spike"]  # one per run, 60-62
    r = tx.rates(events, ["arm"])
    assert r.loc["none", "found"] == pytest.approx(1 / 3) and r.loc["none", "events"] == 3
    fixes = tx.arm_fixes(events).set_index("kind")
    assert fixes.loc["point", "fixed"] == 1 and fixes.loc["level_shift", "broken"] == 1
    assert fixes.loc["pattern", "fixed"] == 0  # found late is not fixed
    assert fixes["net"].sum() == 0
    rates = tx.alarm_rates(alarms, runs, ["arm"])
    assert rates.loc["none", "spike"] == 1 and rates.loc["vae", "near event"] == 0
    assert rates.loc["none", "flagged normal share"] == pytest.approx(2 / 159)
    assert np.isnan(rates.loc["none", "spike_seed_sd"])  # one seed: no spread
    # a second seed whose run without synthetic data scores as the arm did
    again = [dict(k, seed=1, scores={"m_none": k["scores"]["m_vae"],
                                     "m_vae": k["scores"]["m_vae"]}) for k in kept]
    events2, alarms2, runs2 = tx.outcomes(kept + again, {("synthetic", "e"): ctx})
    share, sd = tx.missed_by(events2[events2["arm"] == "none"], "kind")
    assert share.loc["window_classifier", "point"] == 0.5  # missed by seed 0, found by 1
    assert sd.loc["window_classifier", "point"] == pytest.approx(np.std([1, 0], ddof=1))
    assert sd.loc["window_classifier", "level_shift"] == pytest.approx(np.std([0, 1], ddof=1))
    two = tx.alarm_rates(alarms2, runs2, ["arm"])
    assert two.loc["none", "spike"] == 1 and two.loc["none", "spike_seed_sd"] == 0
    bins = tx.magnitude_bins(events)
    assert set(bins) == {"low", "mid", "high"}
    other = dict(kept[0], labels=ctx["labels"][::-1].copy())
    with pytest.raises(ValueError, match="kept labels differ"):
        tx.outcomes([other], {("synthetic", "e"): ctx})


def test_examples_and_drawings(tmp_path):
    ctx = make_ctx()
    kept = kept_runs(ctx)
    kept[0]["runs"]["threshold_rule"] = "label_free"
    kept[0]["runs"]["detector"] = "pca"
    events, alarms, _ = tx.outcomes(kept, {("synthetic", "e"): ctx})
    ex = tx.examples(events, alarms, "pca")
    assert [e["mode"] for e in ex] == ["found event", "missed event", "false alarm: spike"]
    assert ex[1]["focus"] == (150, 170)  # the longest missed event
    run = kept[0]["runs"].iloc[0].to_dict()
    path = tx.plot_example(kept[0], ctx, run, ex[1]["focus"], tmp_path / "ex.png", "missed")
    assert path.stat().st_size > 0
    table = tx.rates(events, ["detector", "kind"])["missed"].unstack("kind")
    assert tx.plot_heatmap(table, tmp_path / "hm.png", "missed").stat().st_size > 0
    with pytest.raises(ValueError, match="nothing to draw"):
        tx.plot_heatmap(table.iloc[0:0], tmp_path / "x.png", "missed")


def test_context_shifts_interpretation_labels_to_the_held_out_part(fixture_root):
    settings = profiles.get("smoke")
    ctx = tx.context("smd", "machine-1-1", settings, fixture_root)
    assert ctx["types"] is None and ctx["interpretation"] is not None
    ev = tx.describe_events(ctx)
    assert len(ev) >= 1 and (ev["channels"] == 2).all()  # the fixture's events involve 2
    for seg in ctx["interpretation"]:  # shifted to held-out positions, inside the series
        assert 0 <= seg["end"] and seg["start"] < len(ctx["labels"])
    syn = tx.context("synthetic", "syn-1", settings)
    assert syn["types"] is not None and len(syn["types"]) == len(syn["labels"])
    assert set(tx.describe_events(syn)["kind"]) <= set(syn["types"]) - {""}
