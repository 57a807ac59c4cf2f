"""The paper is built from results: no number typed into its template, every number of the
built text emitted by a value or table computed from a result file, the committed paper equal
to a fresh build, and a PDF that Typst compiles."""

import re

import pandas as pd
import pytest

from tsad_helpers import paper

TEMPLATE = paper.TEMPLATE.read_text(encoding="utf-8")


def test_the_template_holds_no_hand_typed_number():
    assert paper.hand_typed_numbers(TEMPLATE) == []


def test_a_number_typed_into_the_template_is_caught():
    typed = TEMPLATE.replace("## Introduction", "## Introduction\n\nWe beat PCA by 0.123.", 1)
    assert (paper.hand_typed_numbers(typed)[0][1]) == "0.123"
    refs = paper.read_references(paper.PAPER_DIR / "references.csv")
    with pytest.raises(ValueError, match="typed into the template by hand"):
        paper.render(typed, paper.Paper(), refs)
    # names holding digits, code spans, placeholders and citations are not numbers
    assert paper.hand_typed_numbers("F1 on KDD21 `seed 0` {{smd_pca}} [@yoon2019] x") == []
    assert paper.hand_typed_numbers("seeds 0-2") == [(1, "0"), (1, "2")]


def test_unknown_placeholders_and_citations_are_errors():
    refs = paper.read_references(paper.PAPER_DIR / "references.csv")
    with pytest.raises(ValueError, match="no value 'nothing'"):
        paper.render("{{nothing}}", paper.Paper(), refs)
    with pytest.raises(ValueError, match="unknown citation key 'nobody'"):
        paper.render("see [@nobody]", paper.Paper(), refs)


def test_typst_escapes_markup_characters():
    out = paper._typst_inline("a **b** *c* `d_e` #x $ @y [z] f_g http://h")
    assert out == "a *b* _c_ `d_e` \\#x \\$ \\@y \\[z\\] f\\_g http:\\/\\/h"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return paper.build(out_dir=tmp_path_factory.mktemp("paper"))


def test_every_number_of_the_built_paper_comes_from_a_result(built):
    text = built["markdown"].read_text(encoding="utf-8")
    refs = paper.read_references(paper.PAPER_DIR / "references.csv")
    cited = {n for _, r in refs.iterrows() for n in paper.numbers(" ".join(r))}
    emitted = built["paper"].emitted_numbers() | cited
    stray = sorted(set(paper.numbers(text)) - emitted)
    assert stray == [], f"numbers in the paper that no result emitted: {stray}"
    assert set(built["paper"].provenance) >= {k for k in built["paper"].values
                                              if not k.startswith("cite:")}
    assert "{{" not in text and not re.search(r"\[@", text)


def test_the_pdf_compiles_with_every_figure(built):
    assert built["pdf"].read_bytes()[:5] == b"%PDF-"
    typ = built["typst"].read_text(encoding="utf-8")
    for name, (path, _) in built["paper"].figures.items():
        assert f'image("figures/{path.name}"' in typ
        assert (built["markdown"].parent / "figures" / path.name).is_file()


def test_the_committed_paper_is_the_build_of_the_committed_results(built):
    committed = paper.PAPER_DIR / "paper.md"
    assert committed.read_text(encoding="utf-8") == built["markdown"].read_text(
        encoding="utf-8"), "paper/ is stale: rebuild it with `python -m tsad_helpers paper`"


def test_published_numbers_name_their_source():
    pub = pd.read_csv(paper.PAPER_DIR / "published.csv")
    refs = paper.read_references(paper.PAPER_DIR / "references.csv")
    assert pub["source"].isin(refs.index).all() and pub["value"].notna().all()


def test_seed_spread_is_over_seed_means():
    from tsad_helpers.results import seed_spread

    runs = pd.DataFrame({"seed": [0, 0, 1, 1], "v": [0.3, 0.5, 0.5, 0.7]})
    assert seed_spread(runs, "v") == pytest.approx(0.1414213562)
    assert seed_spread(runs[runs["seed"] == 0], "v") is None


def test_cli_paper_refuses_a_file_as_output_folder(tmp_path, capsys):
    from tsad_helpers import cli

    target = tmp_path / "afile"
    target.write_text("x")
    assert cli.main(["paper", "--out", str(target), "--no-pdf"]) == 2
    assert "give a folder" in capsys.readouterr().err


def _cv_runs(diffs, scheme="final"):
    """A runs table: the classifier with arm none and arm vae on one entity per difference,
    vae's F1 and AUC-PR that much above none's."""
    rows = []
    for i, d in enumerate(diffs):
        key = {"dataset": "synthetic", "entity": f"syn-{i}", "scheme": scheme, "fold": -1,
               "seed": 0, "detector": "window_classifier", "threshold_rule": "probability",
               "status": "ok"}
        rows.append({**key, "arm": "none", "ratio": "0", "f1": 0.5, "auc_pr": 0.4})
        rows.append({**key, "arm": "vae", "ratio": "balance", "f1": 0.5 + d, "auc_pr": 0.4 + d})
        rows.append({**key, "arm": "vae", "ratio": "0.25", "f1": 0.0, "auc_pr": 0.0})
    return pd.DataFrame(rows)


def test_arm_effects_pair_each_arm_with_none_at_the_balancing_ratio():
    runs = _cv_runs([0.1, 0.2, 0.05, 0.3, 0.15, 0.25])
    out = paper.arm_effects(runs, "final", "f1")
    r = out.iloc[0]
    assert (r["arm"], r["n"], r["wins"], r["losses"]) == ("vae", 6, 6, 0)  # ratio 0.25 unused
    assert r["diff"] == pytest.approx(0.175) and r["p"] < 0.05 and r["p_holm"] == r["p"]
    assert paper.arm_effects(runs, "kfold", "f1").empty  # another scheme: nothing to pair


def test_the_arm_table_gives_verdicts_and_the_grid_state(tmp_path):
    runs = pd.concat([_cv_runs([-0.1, -0.2, -0.05, -0.3, -0.15, -0.25]),
                      _cv_runs([-0.1] * 6, scheme="rolling_stratified")])
    runs.to_csv(tmp_path / "03_cv_runs.csv.gz", index=False)
    plan = runs[["dataset", "entity", "scheme", "fold", "seed"]].drop_duplicates()
    extra = plan.iloc[:1].assign(entity="syn-99")
    pd.concat([plan, extra]).to_csv(tmp_path / "03_cv_plan.csv", index=False)
    p = paper.Paper()
    paper.collect_arms(p, tmp_path)
    frame, _ = p.tables["arms"]
    assert frame["verdict"].tolist() == ["loss"]
    assert (p.values["arm_losses"], p.values["arm_gains"]) == ("1", "0")
    assert p.values["cv_sign_agree"] == "1 of 1"
    assert p.values["cv_state"] == "partial" and "12 of 13 tasks" in p.values[
        "cv_partial_threat"]
    (tmp_path / "03_cv_plan.csv").unlink()
    with pytest.raises(FileNotFoundError, match="run notebook 03"):
        paper.collect_arms(paper.Paper(), tmp_path)


def test_stopping_and_seeding_values_come_from_their_benchmarks(tmp_path):
    """The threats paragraph's early-stopping and seeding counts are computed from the
    benchmark files; a missing or older file is an error that names what to rerun."""
    p = paper.Paper()
    paper.collect_stopping(p, paper.REPO_ROOT / "benchmarks/results/early_stopping.csv")
    replay = pd.read_csv(paper.REPO_ROOT / "benchmarks/results/early_stopping.csv")
    rec = replay[(replay["monitor"] == "val_rec_loss") & (replay["min_rel_delta"] == 0)
                 & replay["stored_rule_matches_log"] & replay["epochs_run"].notna()]
    assert p.values["stopping_curves"] == str(len(rec))
    assert p.values["stopping_fragile_keras"] == f"{(rec['min_margin'] < 1e-6).mean():.2%}"
    with pytest.raises(FileNotFoundError, match="bench_early_stopping.py"):
        paper.collect_stopping(p, tmp_path / "early_stopping.csv")

    runs = pd.DataFrame({"detector": ["pca", "lstm_ae", "lstm_ae"], "entity": ["a"] * 3,
                         "seed": [0, 0, 1], "seeding": ["not-keras", "global-random",
                                                        "private-random"]})
    runs.to_csv(tmp_path / "smd_paper_runs.csv", index=False)
    pd.DataFrame({"detector": ["pca", "lstm_ae", "lstm_ae"],
                  "max_abs_diff": [0.0, 0.2, 0.0]}).to_csv(tmp_path / "recheck_x.csv",
                                                           index=False)
    paper.collect_seeding(p, tmp_path, tmp_path)
    assert (p.values["deep_runs"], p.values["deep_runs_old_seeding"]) == ("2", "1")
    assert (p.values["rechecked_deep"], p.values["rechecked_deep_differ"]) == ("2", "1")
    runs.drop(columns="seeding").to_csv(tmp_path / "smd_paper_runs.csv", index=False)
    with pytest.raises(ValueError, match="--tables-only"):
        paper.collect_seeding(p, tmp_path, tmp_path)


def test_counts_and_the_optimism_clause_read_as_english():
    from tsad_helpers.paper import count, describe_pair, optimism_sentence

    assert [count(1, "win"), count(2, "win"), count(0, "loss", "losses")] == \
        ["1 win", "2 wins", "0 losses"]
    assert describe_pair({"diff": -0.089, "wins": 1, "losses": 11, "p": 0.001}) == \
        "-0.089 (1 win, 11 losses, p < 0.01)"
    assert optimism_sentence({"pessimistic": ["kfold", "time_series_split"]}) == \
        "every CV scheme (kfold, time_series_split) is pessimistic"
    assert optimism_sentence({"optimistic": ["kfold"], "pessimistic": ["a", "b", "c"]}) == \
        "kfold is optimistic; a, b and c are pessimistic"
    assert optimism_sentence({"optimistic": ["kfold"]}) == "kfold is optimistic"


def test_protocol_cells_give_the_spread_over_seeds_or_over_one_seeds_repeats():
    two = pd.DataFrame({"seed": [0, 1], "discriminative": [0.1, 0.3],
                        "discriminative_std": [0.05, 0.07]})
    assert paper.protocol_cell(two, "discriminative") == "0.200 ± 0.141"
    assert paper.protocol_cell(two.iloc[:1], "discriminative") == "0.100 ± 0.050"
    assert paper.protocol_cell(two[["seed", "discriminative"]].iloc[:1],
                               "discriminative") == "0.100"


def test_the_tuning_sentence_splits_the_seed_a_generator_was_tuned_on_from_new_ones():
    rows = [{"dataset": "stocks", "generator": "vae", "seed": s, "discriminative": d}
            for s, d in ((0, 0.15), (1, 0.32), (2, 0.45))]
    rows.append({"dataset": "sines", "generator": "vae", "seed": 1, "discriminative": 0.01})
    runs = pd.DataFrame(rows)
    text = paper.tuning_sentence(runs, "vae", "stocks", [0], "reconstruction weight", "sweep.py")
    assert "chosen on Stocks with seed 0" in text
    assert "with that seed its discriminative score is 0.150" in text
    assert "it is 0.385 (seed 1: 0.320, seed 2: 0.450)" in text
    assert "gives its best score of the 3 seeds" in text
    runs.loc[runs["seed"] == 2, "discriminative"] = 0.10
    text = paper.tuning_sentence(runs, "vae", "stocks", [0], "reconstruction weight", "sweep.py")
    assert "best score" not in text
    assert paper.tuning_sentence(runs[runs["seed"] == 0], "vae", "stocks", [0], "w", "s") == ""
    tuned = runs.assign(generator="doppelganger_tuned")
    text = paper.tuning_sentence(tuned, "doppelganger_tuned", "stocks", [0],
                                 "learning rate and training length", "s.py", verb="were")
    assert text.startswith("The tuned DoppelGANger's learning rate and training length were "
                           "chosen on Stocks with seed 0 (`s.py`)")


def test_the_reruns_sentence_counts_repeated_runs_and_how_far_the_others_moved(tmp_path):
    path = tmp_path / "reruns.csv"
    assert paper.reruns_sentence(path) == ""
    pd.DataFrame({"vus_pr_period_stored": [0.5, 0.4, 0.3, 0.2],
                  "vus_pr_period_now": [0.5, 0.4 + 1e-17, 0.35, 0.1],
                  "max_abs_diff": [0.0, 1e-17, 0.05, 0.1]}).to_csv(path, index=False)
    text = paper.reruns_sentence(path)
    assert "Another 4 runs" in text and "2 came out the same in every metric" in text
    assert "in the other 2 the VUS-PR moved by a median of 0.075 (at most 0.100)" in text


def test_the_selection_sentence_splits_the_chosen_seed_from_new_ones():
    rows = []
    for e in range(8):
        for seed, lead in ((0, 0.1 + 0.01 * e), (1, 0.02 * (-1) ** e)):
            rows += [{"dataset": "asd", "entity": f"e{e}", "seed": seed,
                      "detector": paper.FLAGSHIP, "vus_pr_period": 0.5 + lead},
                     {"dataset": "asd", "entity": f"e{e}", "seed": seed,
                      "detector": "lstm_ae", "vus_pr_period": 0.5}]
    runs = pd.DataFrame(rows)
    text = paper.selection_sentence(runs, [0])
    assert "with that seed: +0.135 (8 wins, 0 losses, p < 0.01), a win for the flagship" in text
    assert "with seeds 1, which played no part" in text and "a tie." in text
    assert "does not carry over to new seeds" in text
    assert paper.selection_sentence(runs[runs["seed"] == 0], [0]) == ""


def _supplement_runs(n=6):
    """A supplement table: the classifier with none, SMOTE and DoppelGANger on the held-out
    future (DoppelGANger 0.1 above none and 0.05 below SMOTE in F1), and ARIMA's label-free
    runs on the held-out future and one rolling-window fold."""
    rows = []
    for i in range(n):
        key = {"dataset": "smd", "entity": f"m-{i}", "fold": -1, "seed": 0, "scheme": "final",
               "status": "ok"}
        clf = {**key, "detector": "window_classifier", "threshold_rule": "probability"}
        rows += [{**clf, "arm": "none", "ratio": "0", "f1": 0.3, "auc_pr": 0.4, "pa_f1": 0.6},
                 {**clf, "arm": "smote", "ratio": "balance", "f1": 0.45, "auc_pr": 0.4},
                 {**clf, "arm": "smote", "ratio": "0.25", "f1": 0.9, "auc_pr": 0.9},
                 {**clf, "arm": "doppelganger", "ratio": "balance", "f1": 0.4, "auc_pr": 0.4}]
        rows.append({**key, "detector": "arima", "threshold_rule": "label_free", "arm": "none",
                     "ratio": "0", "f1": 0.2, "auc_pr": 0.25, "pa_f1": 0.5})
        rows.append({**key, "scheme": "rolling_stratified", "fold": 0, "detector": "arima",
                     "threshold_rule": "label_free", "arm": "none", "ratio": "0", "f1": 0.1,
                     "auc_pr": 0.15})
    return pd.DataFrame(rows)


def test_the_supplement_section_pairs_doppelganger_and_counts_repeated_runs(tmp_path):
    from tsad_helpers import cv_study

    sup = _supplement_runs()
    sup.to_csv(tmp_path / "03_cv_supplement_runs.csv.gz", index=False)
    plan = sup[list(cv_study.KEY)].drop_duplicates()
    extra = plan.iloc[:1].assign(entity="m-99")  # planned, not yet run
    pd.concat([plan, extra]).to_csv(tmp_path / "03_cv_supplement_plan.csv", index=False)
    with pytest.raises(FileNotFoundError, match="03_cv_runs.csv.gz"):
        paper.collect_cv_supplement(paper.Paper(), tmp_path)  # needs the main table
    main = sup[sup["arm"] == "none"].copy()
    main.loc[main["detector"] == "arima", "f1"] += 0.01  # one detector does not repeat
    main.to_csv(tmp_path / "03_cv_runs.csv.gz", index=False)
    p = paper.Paper()
    paper.collect_cv_supplement(p, tmp_path)
    v = p.values
    assert (v["sup_state"], v["sup_tasks"], v["sup_planned"]) == ("partial", "12", "13")
    assert v["dg_vs_none_f1"].startswith("+0.100") and "6 wins, 0 losses" in v["dg_vs_none_f1"]
    assert v["dg_vs_smote_f1"].startswith("-0.050")  # the balancing ratio, not 0.25
    assert v["dg_vs_none_auc"].startswith("+0.000")
    assert (v["sup_repeated"], v["sup_repeated_same"]) == ("18", "6")  # arima's 12 moved
    assert v["sup_repeated_moved"] == "; the other 12 differ by at most 1.0e-02 in f1 (arima)"
    frame, _ = p.tables["cv_supplement"]
    assert frame[["detector", "arm"]].values.tolist() == [
        ["window_classifier", "none"], ["window_classifier", "doppelganger"],
        ["window_classifier", "smote"], ["arima", "none"]]
    arima = frame.iloc[-1]
    assert (arima["held-out F1"], arima["CV AUC-PR"]) == ("0.200", "0.150")
    assert arima["runs (held-out, CV)"] == "6, 6" and arima["held-out PA-F1"] == "0.500"
    assert frame.iloc[0]["CV F1"] == "-" and frame.iloc[0]["runs (held-out, CV)"] == "6, 0"


def test_score_noise_sentence_names_the_largest_move_and_is_empty_without_one():
    noise = pd.DataFrame({"file": ["smap/E-1/final_seed0.npz", "smd/m-1/final_seed0.npz"],
                          "points": [2906, 100], "max_rel_diff": [5e-6, 4e-5],
                          "auc_pr": [0.2366, 0.5], "auc_pr_again": [0.2496, 0.5000001],
                          "distinct": [1133, 100], "distinct_again": [857, 100]})
    text = paper.score_noise_sentence(noise)
    assert "at most 4e-05" in text and "on smap/E-1 (2,906 points)" in text
    assert "857 distinct values and the main grid's 1,133" in text
    assert "0.250 and 0.237" in text
    assert paper.score_noise_sentence(noise.assign(auc_pr_again=noise["auc_pr"])) == ""
