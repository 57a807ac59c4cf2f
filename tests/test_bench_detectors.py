"""The detector benchmark's table logic (benchmarks/bench_detectors.py)."""

import sys
from pathlib import Path

import pandas as pd
import pytest

from tsad_helpers import grid

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import bench_detectors as bench  # noqa: E402


def _runs(detector, entities, vus, seed=0):
    return [{"detector": detector, "entity": e, "seed": seed, "fit_seconds": 1.0,
             "score_seconds": 0.5, **{c: v for c in bench.COLUMNS}}
            for e, v in zip(entities, vus)]


def test_parse_variant():
    assert bench.parse_variant("transformer_ae_gan-no_masking") == (
        "transformer_ae_gan", {"masking": False})
    assert bench.parse_variant("pca") == ("pca", {})
    with pytest.raises(SystemExit, match="unknown variant"):
        bench.parse_variant("transformer_ae_gan-no_attention")
    detector, params = bench.parse_variant("pca-reference_transductive")
    assert detector == "pca" and params.pop(bench.PROTOCOL) == "transductive"
    assert params["score"] == "weighted_distance" and params["window"] == 100
    assert bench.parse_variant("lstm_ae-transductive") == ("lstm_ae", {bench.PROTOCOL:
                                                                     "transductive"})
    with pytest.raises(SystemExit, match="exists for pca, iforest only"):
        bench.parse_variant("lstm_ae-reference")


def test_rank_biserial_effect_size():
    assert bench.rank_biserial([0.1, 0.2, 0.3]) == 1.0
    assert bench.rank_biserial([-0.1, -0.2]) == -1.0
    # ranks 1, 2, 3 for |d| = .1, .2, .3: (1 + 3 - 2) / 6
    assert bench.rank_biserial([0.1, -0.2, 0.3, 0.0]) == pytest.approx(2 / 6)


def test_runs_stored_before_the_period_column_show_a_dash(tmp_path):
    rows = _runs("pca", ["m1", "m2"], [0.4, 0.6])
    for r in rows:
        r["vus_pr_period"] = float("nan")
    table = bench.summarise(pd.DataFrame(rows))
    assert "| pca | 2 | 0.500 ± 0.100 | 0.500 ± 0.100 | 0.500 ± 0.100 | 0.500 ± 0.100 | - |" \
        in bench.markdown(table, "smd", "paper", 2)


def test_summary_and_overview_mark_unfinished_detectors(tmp_path):
    smd = pd.DataFrame(_runs("transformer_ae_gan", ["m1", "m2"], [0.2, 0.4])
                       + _runs("pca", ["m1"], [0.8]))
    table = bench.summarise(smd)
    row = table.set_index("detector").loc["transformer_ae_gan"]
    assert row["runs"] == 2 and row["vus_pr_mean"] == pytest.approx(0.3)
    assert row["vus_pr_std"] == pytest.approx(0.1)
    smd.to_csv(tmp_path / "smd_paper_runs.csv", index=False)
    pd.DataFrame(_runs("pca", ["a"], [0.5])).to_csv(tmp_path / "asd_paper_runs.csv", index=False)
    text = bench.overview(tmp_path, "paper")
    assert "| transformer_ae_gan | - | 0.300 |" in text  # asd first (sorted), not run there
    assert "| pca | 0.500 | 0.800 (1) |" in text  # 1 of 2 smd entities finished
    # vus_pr_period, vus_pr, auc_pr, f1, pa_f1
    assert text.count("| detector | asd | smd |") == 5
    assert bench.overview(tmp_path / "empty", "paper") == ""


def test_paired_comparison_counts_wins_and_tests_only_common_runs(tmp_path):
    flagship = [0.5, 0.6, 0.7, 0.8, 0.9, 0.4]
    rows = (_runs("transformer_ae_gan", [f"m{i}" for i in range(6)], flagship)
            + _runs("pca", [f"m{i}" for i in range(6)], [v - 0.1 for v in flagship])
            + _runs("iforest", ["m0", "m1"], [0.9, 0.1]))  # only two common runs
    pd.DataFrame(rows).to_csv(tmp_path / "smd_paper_runs.csv", index=False)
    text = bench.paired(tmp_path, "paper", metrics=("vus_pr",))
    pca = next(line for line in text.splitlines() if line.startswith("| pca |"))
    # flagship wins all 6 by 0.1; exact two-sided Wilcoxon p for 6 positive ranks = 2/64
    assert pca == "| pca | +0.100 (6/0, p=0.03, r=+1.00) | +0.100 (6/0, p=0.03, r=+1.00) |"
    iforest = next(line for line in text.splitlines() if line.startswith("| iforest |"))
    assert iforest == "| iforest | +0.050 (1/1) | +0.050 (1/1) |"  # too few pairs for a p
    assert bench.paired(tmp_path / "empty", "paper") == ""


def test_run_evaluates_on_the_grid_and_resumes(tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "REPO_ROOT", tmp_path)
    monkeypatch.setattr(bench.datasets, "entities", lambda name: ["syn-1", "syn-2", "syn-3"])
    with grid.cluster(workers=2) as client:
        runs = bench.run("synthetic", "smoke", [0], ["random", "pca"], "bench", client,
                         runs_per_worker=2)
    assert len(runs) == 6 and set(runs["detector"]) == {"random", "pca"}
    files = sorted((tmp_path / "simulation_results/bench/smoke/synthetic").rglob("*.json"))
    assert len(files) == 6
    stamp = {f: f.stat().st_mtime_ns for f in files}
    again = bench.run("synthetic", "smoke", [0], ["random", "pca"], "bench")  # no client
    pd.testing.assert_frame_equal(runs, again)
    assert {f: f.stat().st_mtime_ns for f in files} == stamp  # finished runs not redone


def test_deterministic_detectors_run_once_stochastic_ones_per_seed(tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "REPO_ROOT", tmp_path)
    monkeypatch.setattr(bench.datasets, "entities", lambda name: ["syn-1"])
    assert bench.stochastic("random") and bench.stochastic("pca-reference")
    assert not bench.stochastic("arima") and not bench.stochastic("garch")
    with grid.cluster(workers=1) as client:
        runs = bench.run("synthetic", "smoke", [0, 1], ["random", "garch"], "bench", client)
    assert sorted(zip(runs["detector"], runs["seed"])) == [
        ("garch", 0), ("random", 0), ("random", 1)]


def test_a_stored_run_with_other_parameters_is_stale():
    from tsad_helpers import profiles

    want = {**profiles.get("paper")["detectors"]["pca"]}
    stored = {"detector_params": {**want, "n_components": 0.9, "random_state": 3,
                                  "loss_log": None}, "protocol": "train"}
    # parameters added later (score, point_score, ...) count as their default: current
    assert bench.is_current(stored, "pca", {}, "paper", "train")
    assert not bench.is_current(stored, "pca", {}, "paper", "transductive")
    assert not bench.is_current(stored, "pca", {"window": 100}, "paper", "train")
    changed = {**stored, "detector_params": {**stored["detector_params"], "n_components": 5}}
    assert not bench.is_current(changed, "pca", {}, "paper", "train")


def test_tables_hold_every_stored_run_not_only_this_calls_selection(tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "REPO_ROOT", tmp_path)
    monkeypatch.setattr(bench.datasets, "entities", lambda name: ["syn-1", "syn-2"])
    for detector in ("pca", "random"):
        monkeypatch.setattr(sys, "argv", ["bench", "--datasets", "synthetic", "--profile",
                                          "smoke", "--seeds", "0", "--detectors", detector,
                                          "--out", "bench"])
        bench.main()
    runs = pd.read_csv(tmp_path / "simulation_results/bench/synthetic_smoke_runs.csv")
    assert sorted(runs["detector"].unique()) == ["pca", "random"] and len(runs) == 4


def test_paired_comparison_skips_runs_without_the_metric(tmp_path):
    ref = _runs("transformer_ae_gan", ["m1", "m2", "m3"], [0.5, 0.6, 0.7])
    other = _runs("lstm_ae", ["m1", "m2", "m3"], [0.4, 0.4, 0.4])
    other[0]["vus_pr_period"] = float("nan")  # stored before the column existed
    pd.DataFrame(ref + other).to_csv(tmp_path / "smd_paper_runs.csv", index=False)
    text = bench.paired(tmp_path, "paper")
    period = text.split("**vus_pr_period**")[1].split("**vus_pr**")[0]
    assert "| lstm_ae | +0.250 (2/0) | +0.250 (2/0) |" in period
    assert "| lstm_ae | +0.200 (3/0) | +0.200 (3/0) |" in text.split("**vus_pr**")[1]


def test_a_refused_series_is_stored_named_in_the_table_and_not_retried(tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "REPO_ROOT", tmp_path)
    monkeypatch.setattr(bench.datasets, "entities", lambda name: ["syn-1"])
    calls = []

    def refusing(client, func, tasks, on_error, **kwargs):
        for task in tasks:
            calls.append(task)
            on_error(task, ValueError("PCADetector: every feature ... is constant"))
        yield from ()

    monkeypatch.setattr(bench.grid, "run_tasks", refusing)
    runs = bench.run("synthetic", "smoke", [0], ["pca"], "bench", client=object())
    assert runs.empty and len(calls) == 1
    assert runs.attrs["failed"] == ["pca on syn-1 (seed 0): ValueError: PCADetector: every "
                                    "feature ... is constant"]
    bench.run("synthetic", "smoke", [0], ["pca"], "bench", client=object())
    assert len(calls) == 1  # stored: not retried
    text = bench.markdown(bench.summarise(pd.DataFrame(_runs("random", ["syn-1"], [0.1]))),
                          "synthetic", "smoke", 1, runs.attrs["failed"])
    assert "- pca on syn-1 (seed 0): ValueError" in text

    def crashing(client, func, tasks, on_error, **kwargs):
        on_error(tasks[0], TypeError("a bug"))
        yield from ()

    monkeypatch.setattr(bench.grid, "run_tasks", crashing)
    with pytest.raises(TypeError, match="a bug"):  # not a refusal: the grid stops
        bench.run("synthetic", "smoke", [0], ["random"], "bench", client=object())


def test_deep_runs_record_their_seeding_and_old_ones_can_be_rerun(tmp_path, monkeypatch):
    """A deep run records how Keras was seeded; one stored without it (Keras then drew from
    the shared random module, which Dask's event loop also draws from) is tabulated as
    "global-random" and, asked to, recomputed."""
    import json

    monkeypatch.setattr(bench, "REPO_ROOT", tmp_path)
    monkeypatch.setattr(bench.datasets, "entities", lambda name: ["syn-1"])
    with grid.cluster(workers=1) as client:
        runs = bench.run("synthetic", "smoke", [0], ["lstm_ae", "pca"], "bench", client)
    assert dict(zip(runs["detector"], runs["seeding"])) == {"lstm_ae": "private-random",
                                                            "pca": "not-keras"}
    runs.to_csv(tmp_path / "runs.csv", index=False)  # the labels survive a CSV round trip
    assert pd.read_csv(tmp_path / "runs.csv")["seeding"].notna().all()
    path = tmp_path / "simulation_results/bench/smoke/synthetic/lstm_ae/syn-1_seed0.json"
    stored = json.loads(path.read_text())
    del stored["seeding"]
    path.write_text(json.dumps(stored))
    runs = bench.run("synthetic", "smoke", [0], ["lstm_ae", "pca"], "bench")
    assert dict(zip(runs["detector"], runs["seeding"]))["lstm_ae"] == "global-random"
    # asked to rerun them, without a client: stale, so left out of the tables
    runs = bench.run("synthetic", "smoke", [0], ["lstm_ae", "pca"], "bench",
                     rerun_unseeded=True)
    assert list(runs["detector"]) == ["pca"]
    # with a client it is recomputed, and the log keeps what was stored beside what came out
    stored["metrics"]["vus_pr"] = -1.0
    path.write_text(json.dumps(stored))
    with grid.cluster(workers=1) as client:
        runs = bench.run("synthetic", "smoke", [0], ["lstm_ae", "pca"], "bench", client,
                         rerun_unseeded=True)
    assert dict(zip(runs["detector"], runs["seeding"]))["lstm_ae"] == "private-random"
    log = pd.read_csv(tmp_path / bench.RERUNS)
    assert list(log["variant"]) == ["lstm_ae"] and log["vus_pr_stored"].item() == -1.0
    assert log["vus_pr_now"].item() == json.loads(path.read_text())["metrics"]["vus_pr"]
    assert log["max_abs_diff"].item() >= 1.0


def test_reruns_since_a_commit_compare_the_unseeded_original_with_its_rerun(tmp_path,
                                                                          monkeypatch):
    import json
    import subprocess

    monkeypatch.setattr(bench, "REPO_ROOT", tmp_path)
    folder = tmp_path / "results" / "smd"
    path = folder / "lstm_ae" / "m-1_seed0.json"
    path.parent.mkdir(parents=True)
    old = {"dataset": "smd", "detector": "lstm_ae", "entity": "m-1", "seed": 0,
           "detector_params": {"units": 8, "loss_log": "a.csv"}, "metrics": {"vus_pr": 0.5}}
    path.write_text(json.dumps(old))
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(git + ["add", "."], cwd=tmp_path, check=True)
    subprocess.run(git + ["commit", "-qm", "old"], cwd=tmp_path, check=True)
    new = {**old, "seeding": "private-random", "metrics": {"vus_pr": 0.6},
           "detector_params": {"units": 8, "loss_log": "b.csv", "min_rel_delta": 1e-4}}
    path.write_text(json.dumps(new))
    rows = bench.reruns_since(folder, "HEAD")
    assert len(rows) == 1 and rows[0]["vus_pr_stored"] == 0.5 and rows[0]["vus_pr_now"] == 0.6
    assert rows[0]["max_abs_diff"] == pytest.approx(0.1)
    path.write_text(json.dumps({**new, "detector_params": {"units": 16}}))
    assert bench.reruns_since(folder, "HEAD") == []  # other settings: not a rerun
    with pytest.raises(SystemExit, match="'nosuch' is not a commit"):
        bench.reruns_since(folder, "nosuch")
