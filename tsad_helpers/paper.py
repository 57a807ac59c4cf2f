"""The manuscript in ``paper/``, built from the results by code: ``paper/template.md`` holds the
prose with placeholders, this module computes every value, table and figure from the result
files (``simulation_results/``, ``benchmarks/results/``, ``paper/published.csv`` for numbers
quoted from other papers, ``paper/references.csv``) and writes ``paper.md``, ``paper.typ``
and ``paper.pdf`` (Typst, from its Python package: no TeX system).

Template syntax: ``{{name}}`` a value, ``{{table:name}}`` a table, ``{{figure:name}}`` a
figure, ``[@key]`` or ``[@a; @b]`` a citation. Nothing else in the template may hold a number
(:func:`hand_typed_numbers`; identifiers such as F1 or KDD21 and code spans aside): every
number of the paper comes from a result file, with its source recorded in ``provenance``.
"""

from __future__ import annotations

import inspect
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .cv_report import bootstrap_ci
from .results import REPO_ROOT, atomic_path, save_figure, seed_spread

PAPER_DIR = REPO_ROOT / "paper"
TEMPLATE = PAPER_DIR / "template.md"
TOKEN = re.compile(r"[A-Za-z_][\w\-]*|\d+(?:\.\d+)?")  # words absorb their digits (F1, KDD21)
PLACEHOLDER = re.compile(r"\{\{([^{}]+)\}\}")
CITATION = re.compile(r"\[(@[\w\-]+(?:;\s*@[\w\-]+)*)\]")
CODE = re.compile(r"`[^`\n]*`")
FLAGSHIP = "transformer_ae_gan"
DATASETS = ("smd", "asd", "msl", "smap", "ucr")
STATISTICAL = ("arima", "garch", "prophet")  # the earlier study's statistical detectors
ABLATIONS = {"with_masking": "masking", "with_contrastive": "contrastive term",
             "with_adversarial": "adversarial term", "published": "all three (published)"}


def numbers(text: str) -> list[str]:
    """The numbers of a text: standalone numerals (words holding digits, such as F1,
    KDD21 or machine-1-3, are names, not numbers)."""
    return [t for t in TOKEN.findall(text) if t[0].isdigit()]


def hand_typed_numbers(template: str) -> list[tuple[int, str]]:
    """(line, number) for every number typed into the template outside a placeholder, a
    citation or a code span: each is a defect (numbers come from results)."""
    found = []
    for lineno, line in enumerate(template.splitlines(), start=1):
        bare = CODE.sub(" ", CITATION.sub(" ", PLACEHOLDER.sub(" ", line)))
        found += [(lineno, n) for n in numbers(bare)]
    return found


# ---- values with their sources ----------------------------------------------------------------
@dataclass
class Paper:
    """What the template is filled with: values (text), tables (DataFrames of text),
    figures (paths), each with its source, and the numbers they put into the text."""
    values: dict = field(default_factory=dict)
    tables: dict = field(default_factory=dict)
    figures: dict = field(default_factory=dict)
    provenance: dict = field(default_factory=dict)

    def value(self, name: str, text, source: str) -> None:
        self.values[name] = str(text)
        self.provenance[name] = source

    def table(self, name: str, frame: pd.DataFrame, caption: str, source: str) -> None:
        self.tables[name] = (frame.astype(str), caption)
        self.provenance[f"table:{name}"] = source

    def figure(self, name: str, path: Path, caption: str, source: str) -> None:
        self.figures[name] = (Path(path), caption)
        self.provenance[f"figure:{name}"] = source

    def emitted_numbers(self) -> set[str]:
        """The numbers the values and table cells put into the text (captions are prose
        written in code: they may hold none of their own)."""
        out = set()
        for text in self.values.values():
            out |= set(numbers(text))
        for frame, _ in self.tables.values():
            out |= set(numbers(" ".join(frame.columns)))
            out |= {n for cell in frame.to_numpy().ravel() for n in numbers(str(cell))}
        return out


def f3(x) -> str:
    return "-" if x is None or not np.isfinite(x) else f"{x:.3f}"


def with_sd(row, column: str, fmt: str = "{:.3f}") -> str:
    """``row[column]`` formatted, then ``± row[column + "_seed_sd"]`` where that spread over
    seeds is there and finite (one seed: the value alone)."""
    value, sd = row[column], row.get(f"{column}_seed_sd", np.nan)
    if value is None or not np.isfinite(value):
        return "-"
    text = fmt.format(value)
    return text if sd is None or not np.isfinite(sd) else f"{text} ± {fmt.format(sd)}"


def signed(x) -> str:
    return f"{x:+.3f}"


def p_text(p) -> str:
    if p is None or not np.isfinite(p):
        return "p undefined"
    return "p < 0.01" if p < 0.01 else f"p = {p:.2f}"


def paired(a: pd.Series, b: pd.Series) -> dict:
    """a minus b over their common index (NaN pairs dropped): mean difference, n, wins,
    losses and the two-sided Wilcoxon signed-rank p (None under 5 pairs or all equal)."""
    from scipy.stats import wilcoxon

    both = pd.concat([a.rename("a"), b.rename("b")], axis=1, join="inner").dropna()
    d = (both["a"] - both["b"]).to_numpy()
    p = float(wilcoxon(d).pvalue) if len(d) >= 5 and np.any(d != 0) else None
    return {"diff": float(d.mean()) if len(d) else np.nan, "n": len(d),
            "wins": int((d > 0).sum()), "losses": int((d < 0).sum()), "p": p}


def verdict(r: dict, who: str = "the flagship") -> str:
    """A tie unless the paired test is significant at the five per cent level."""
    if r["p"] is None or r["p"] >= 0.05:
        return "a tie"
    return f"a win for {who}" if r["diff"] > 0 else f"a loss for {who}"


def count(n: int, noun: str, plural: str | None = None) -> str:
    """``1 win``, ``2 wins``, ``0 losses``."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def describe_pair(r: dict) -> str:
    return (f"{signed(r['diff'])} ({count(r['wins'], 'win')}, "
            f"{count(r['losses'], 'loss', 'losses')}, {p_text(r['p'])})")


def optimism_sentence(kinds: dict) -> str:
    """The schemes grouped by the sign of their optimism, as a clause: ``every CV scheme
    (a, b) is pessimistic`` or ``a is optimistic; b and c are pessimistic``."""
    if len(kinds) == 1 and len(next(iter(kinds.values()))) > 1:
        kind, schemes = next(iter(kinds.items()))
        return f"every CV scheme ({', '.join(schemes)}) is {kind}"
    parts = []
    for kind, schemes in sorted(kinds.items()):
        names = schemes[0] if len(schemes) == 1 else \
            f"{', '.join(schemes[:-1])} and {schemes[-1]}"
        parts.append(f"{names} {'is' if len(schemes) == 1 else 'are'} {kind}")
    return "; ".join(parts)


# ---- collectors: one per result family ----------------------------------------------------------
def benchmark_runs(folder) -> pd.DataFrame:
    """The detector benchmark's runs (``<dataset>_paper_runs.csv``), one table."""
    frames = [pd.read_csv(p).assign(dataset=p.name.split("_")[0])
              for p in sorted(Path(folder).glob("*_paper_runs.csv"))]
    if not frames:
        raise FileNotFoundError(f"no *_paper_runs.csv under {folder}: run "
                                "benchmarks/bench_detectors.py first")
    return pd.concat(frames, ignore_index=True)


def collect_data(paper: Paper, results: Path) -> None:
    path = results / "paper" / "01_data_qa_datasets.csv"
    t = pd.read_csv(path)
    rows = t[t["dataset"].isin(("synthetic",) + DATASETS)]
    table = pd.DataFrame({"dataset": rows["dataset"], "entities": rows["entities"],
                          "channels": rows["channels"], "test points": rows["test_points"],
                          "events": rows["events"],
                          "anomalous share": rows["anomaly_ratio"].map(f3)})
    paper.table("datasets", table, "The datasets of the study (test splits).", str(path))
    for _, r in rows.iterrows():
        paper.value(f"entities_{r['dataset']}", int(r["entities"]), str(path))


def collect_benchmark(paper: Paper, folder: Path, figures: Path) -> None:
    runs = benchmark_runs(folder)
    src = f"{folder}/*_paper_runs.csv"
    metric = "vus_pr_period"
    key = ["dataset", "entity", "seed"]
    by = runs.set_index(key)

    def series(det, m=metric, ds=None):
        s = by[by["detector"] == det][m]
        return s if ds is None else s[s.index.get_level_values(0) == ds]

    main = [FLAGSHIP, "lstm_ae", "cnn_forecaster", "pca", "pca-transductive", "pca-reference",
            "pca-reference_transductive", "iforest", "iforest-reference", *STATISTICAL,
            "random"]
    cells = {}
    for det in main:
        cells[det] = {}
        for ds in DATASETS:
            sel = runs[(runs["detector"] == det) & (runs["dataset"] == ds)].dropna(
                subset=[metric])
            spread = seed_spread(sel, metric)
            cells[det][ds] = (f"{f3(sel[metric].mean())}"
                              + ("" if spread is None else f" ± {f3(spread)}")
                              + f" ({len(sel)})") if len(sel) else "-"
    table = pd.DataFrame(cells).T.rename_axis("detector").reset_index()
    paper.table("benchmark", table, "Mean VUS-PR with the period window (TSB-AD's protocol) "
                "per detector and dataset, label-free protocol; ± the standard deviation over "
                "seeds of the mean over entities (where a detector ran with several seeds); in "
                "brackets the runs (entities x seeds) it rests on.", src)
    smd = {det: series(det, ds="smd").dropna() for det in main}
    for det, name in ((FLAGSHIP, "flagship"), ("pca", "pca"), ("lstm_ae", "lstm"),
                      ("pca-reference", "tsbad_pca"),
                      ("pca-reference_transductive", "tsbad_pca_transductive"),
                      ("random", "random")):
        paper.value(f"smd_{name}", f3(smd[det].mean()), src)
        paper.value(f"smd_{name}_runs", len(smd[det]), src)
    for other, name in (("pca", "pca"), ("pca-reference", "tsbad_pca"),
                        ("pca-reference_transductive", "tsbad_pca_transductive")):
        r = paired(smd[FLAGSHIP], smd[other])
        paper.value(f"smd_vs_{name}", describe_pair(r), src)
        paper.value(f"smd_vs_{name}_verdict", verdict(r), src)
    seeds = sorted(runs.loc[(runs["detector"] == FLAGSHIP) & (runs["dataset"] == "smd"),
                            "seed"].unique())
    paper.value("smd_seeds", f"{seeds[0]}-{seeds[-1]}" if len(seeds) > 1 else seeds[0], src)
    pooled = paired(series(FLAGSHIP), series("lstm_ae"))
    paper.value("pooled_vs_lstm", describe_pair(pooled), src)
    paper.value("pooled_vs_lstm_verdict", verdict(pooled), src)
    paper.value("pooled_vs_lstm_n", pooled["n"], src)
    for ds in DATASETS:
        r = paired(series(FLAGSHIP, ds=ds), series("lstm_ae", ds=ds))
        paper.value(f"{ds}_vs_lstm", describe_pair(r) if r["n"] else "not run", src)
    # point adjustment inflation: the random detector
    rnd = runs[(runs["detector"] == "random") & (runs["dataset"] == "smd")]
    paper.value("smd_random_f1", f3(rnd["f1"].mean()), src)
    paper.value("smd_random_pa_f1", f3(rnd["pa_f1"].mean()), src)
    flag = runs[(runs["detector"] == FLAGSHIP) & (runs["dataset"] == "smd")]
    paper.value("smd_flagship_f1", f3(flag["f1"].mean()), src)
    paper.value("smd_flagship_pa_f1", f3(flag["pa_f1"].mean()), src)
    # ablations: each part added back
    rows = []
    for variant, label in ABLATIONS.items():
        det = f"{FLAGSHIP}-{variant}"
        r_all = paired(series(det), series(FLAGSHIP))
        cells = {"part added back": label}
        for ds in DATASETS:
            r = paired(series(det, ds=ds), series(FLAGSHIP, ds=ds))
            cells[ds] = describe_pair(r) if r["n"] else "-"
        cells["all"] = describe_pair(r_all) if r_all["n"] else "-"
        rows.append(cells)
        paper.value(f"ablation_{variant}", describe_pair(r_all), src)
    paper.table("ablations", pd.DataFrame(rows), "Each part of the flagship added back to "
                "the frozen model: VUS-PR (period window) of the variant minus the frozen "
                "model, paired on (entity, seed).", src)
    path = plot_benchmark(runs, figures / "benchmark.png", main)
    paper.figure("benchmark", path, "VUS-PR (period window) per detector and dataset: mean "
                 "over entities and seeds, bars the standard deviation over runs.", src)


def plot_benchmark(runs: pd.DataFrame, path, detectors) -> Path:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9.5, 3.8))
    present = [d for d in detectors if d in set(runs["detector"])]
    width = 0.8 / len(present)
    colors = plt.get_cmap("tab10").colors  # past ten detectors the colours repeat, hatched
    for i, det in enumerate(present):
        part = runs[runs["detector"] == det].groupby("dataset")["vus_pr_period"]
        mean, std = part.mean().reindex(DATASETS), part.std().reindex(DATASETS)
        ax.bar(np.arange(len(DATASETS)) + i * width, mean, width, yerr=std, capsize=1.5,
               label=det, error_kw={"lw": 0.6}, color=colors[i % len(colors)],
               hatch="////" * (i // len(colors)), edgecolor="white", linewidth=0)
    ax.set_xticks(np.arange(len(DATASETS)) + 0.4 - width / 2, DATASETS)
    ax.set_ylabel("VUS-PR (period window)")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return save_figure(fig, path)


def collect_sweep(paper: Paper, path: Path) -> None:
    t = pd.read_csv(path)
    t = t[t["protocol"].fillna("train") == "train"] if "protocol" in t else t
    per = t.pivot_table(index="entity", columns="config", values="vus_pr_period")
    src = str(path)
    paper.value("asd_entities", per["plain_transformer_ae"].notna().sum(), src)
    paper.value("asd_default", f3(per["default"].mean()), src)
    paper.value("asd_plain", f3(per["plain_transformer_ae"].mean()), src)
    paper.value("asd_plain_vs_default",
                describe_pair(paired(per["plain_transformer_ae"], per["default"])), src)
    lowered, raised = [], []
    for config, name in (("plain+masking", "masking"), ("plain+contrastive", "contrastive"),
                         ("plain+adversarial", "adversarial")):
        r = paired(per[config], per["plain_transformer_ae"])
        paper.value(f"asd_{name}", describe_pair(r), src)
        (lowered if r["diff"] < 0 else raised).append(name)
    paper.value("asd_parts_summary", "each of the three parts lowers VUS-PR when added back"
                if not raised else f"added back, {', '.join(lowered) or 'no part'} lowered "
                f"VUS-PR and {', '.join(raised)} raised it", src)
    paper.value("asd_configs", t["config"].str.startswith("ref:").eq(False).pipe(
        lambda s: t.loc[s, "config"].nunique()), src)
    paper.value("asd_lstm", f3(per["ref:lstm_ae"].mean()), src)
    paper.value("asd_pca", f3(per["ref:pca"].mean()), src)


def selection_sentence(runs: pd.DataFrame, chosen_seeds, dataset: str = "asd",
                       other: str = "lstm_ae", metric: str = "vus_pr_period") -> str:
    """How the flagship's lead over ``other`` on the development set splits between the seeds
    its settings were chosen with and the seeds that played no part in the choice (a lead
    that only the chosen seeds show is selection, not skill). Empty without new seeds."""
    sel = runs[runs["dataset"] == dataset].set_index(["entity", "seed"])
    a = sel[sel["detector"] == FLAGSHIP][metric]
    b = sel[sel["detector"] == other][metric]
    chosen = a.index.get_level_values("seed").isin(list(chosen_seeds))
    new = sorted(set(a.index.get_level_values("seed")[~chosen]))
    if not new:
        return ""
    r_chosen, r_new = paired(a[chosen], b), paired(a[~chosen], b)
    old_seeds, new_seeds = (", ".join(map(str, s)) for s in (sorted(chosen_seeds), new))
    text = (f"On {dataset.upper()}, where the settings were chosen with seed {old_seeds}, the "
            f"flagship against {other} with that seed: {describe_pair(r_chosen)}, "
            f"{verdict(r_chosen)}; with seeds {new_seeds}, which played no part in the "
            f"choice: {describe_pair(r_new)}, {verdict(r_new)}.")
    if verdict(r_chosen).startswith("a win") and not verdict(r_new).startswith("a win"):
        text += (" The lead on the development set does not carry over to new seeds: part of "
                 "it came from choosing the settings on those runs.")
    return text


def collect_selection(paper: Paper, folder: Path, sweep: Path) -> None:
    chosen = sorted(pd.read_csv(sweep, usecols=["seed"])["seed"].unique())
    paper.value("asd_selection", selection_sentence(benchmark_runs(folder), chosen),
                f"{folder}/asd_paper_runs.csv; {sweep}")


def collect_statistical(paper: Paper, folder: Path, speed: Path) -> None:
    """The earlier study's statistical detectors against our PCA, paired on (dataset, entity,
    seed) over the benchmark (they are deterministic: seed 0), and their speed on one SMD
    machine (benchmarks/bench_statistical.py)."""
    runs = benchmark_runs(folder).dropna(subset=["vus_pr_period"])
    by = runs.set_index(["dataset", "entity", "seed"])
    src = f"{folder}/*_paper_runs.csv"
    pca = by[by["detector"] == "pca"]["vus_pr_period"]
    for det in STATISTICAL:
        mine = by[by["detector"] == det]["vus_pr_period"]
        r = paired(mine, pca)
        paper.value(f"{det}_vs_pca", describe_pair(r) if r["n"] else "not run", src)
        paper.value(f"{det}_vs_pca_verdict", verdict(r, det) if r["n"] else "-", src)
        done = sorted(mine.index.get_level_values(0).unique(), key=DATASETS.index)
        paper.value(f"{det}_datasets", ", ".join(d.upper() for d in done) or "none", src)
    t = pd.read_csv(speed)
    src = str(speed)
    for det in (*STATISTICAL, "pca"):
        row = t[t["detector"] == det].iloc[0]
        paper.value(f"{det}_seconds", f"{row['fit_seconds'] + row['score_seconds']:.0f}", src)
    paper.value("statistical_machine", t["entity"].iloc[0], src)
    paper.value("statistical_cores", count(int(t["cores"].max()), "core"), src)
    paper.value("statistical_load", f"{t['load_before'].mean():.0f}", src)
    cap = t.loc[t["detector"] == "arima", "cap_max_fit_points"].iloc[0]
    paper.value("statistical_cap", f"{int(cap):,}", src)


def collect_reference(paper: Paper, path: Path) -> None:
    t = pd.read_csv(path)
    pca = t[t["detector"].str.startswith("pca")]
    src = str(path)
    paper.value("speedup_pca", f"{pca['speedup'].mean():.0f}", src)
    paper.value("speedup_pca_min", f"{pca['speedup'].min():.0f}", src)
    paper.value("pca_max_rel_diff", f"{pca['max_rel_diff'].max():.0e}", src)
    paper.value("reference_machines", pca["entity"].nunique(), src)


def protocol_cell(runs: pd.DataFrame, metric: str) -> str:
    """One generator's protocol score over its seeds: the mean ± the standard deviation over
    seeds, or with one seed ± that seed's spread over the metric's repeats (``<metric>_std``)."""
    spread = seed_spread(runs, metric)
    if spread is None and f"{metric}_std" in runs:
        spread = float(runs[f"{metric}_std"].iloc[0])
    return with_sd({metric: runs[metric].mean(), f"{metric}_seed_sd": spread}, metric)


# Where a generator's settings were chosen: the VAE's reconstruction weight (10) and the tuned
# DoppelGANger's settings were picked on TimeGAN's Stocks windows with seed 0
# (benchmarks/sweep_generator.py fits and scores with one seed)
TUNED_GENERATORS = {
    "vae": {"dataset": "stocks", "chosen_seeds": [0], "setting": "reconstruction weight",
            "source": "benchmarks/sweep_generator.py"},
    "doppelganger_tuned": {"dataset": "stocks", "chosen_seeds": [0], "verb": "were",
                           "setting": "learning rate, training length and normalisation",
                           "source": "benchmarks/sweep_generator.py"}}


def tuning_sentence(runs: pd.DataFrame, generator: str, dataset: str, chosen_seeds,
                    setting: str, source: str, metric: str = "discriminative",
                    verb: str = "was") -> str:
    """How a generator whose setting was chosen on some seeds of a dataset scores with those
    seeds and with the seeds that played no part in the choice (a score only the chosen seeds
    reach is selection, not fidelity). Empty without new seeds."""
    g = runs[(runs["generator"] == generator) & (runs["dataset"] == dataset)]
    chosen = g["seed"].isin(list(chosen_seeds))
    if g[chosen].empty or g[~chosen].empty:
        return ""
    name = {"vae": "VAE", "wgan_gp": "WGAN-GP", "timegan": "TimeGAN",
            "doppelganger_tuned": "tuned DoppelGANger"}.get(generator, generator)
    old_seeds = ", ".join(map(str, sorted(chosen_seeds)))
    new = g[~chosen].sort_values("seed")
    each = ", ".join(f"seed {int(r['seed'])}: {f3(r[metric])}" for _, r in new.iterrows())
    text = (f"The {name}'s {setting} {verb} chosen on {dataset.capitalize()} with seed {old_seeds} "
            f"(`{source}`), so its {dataset.capitalize()} row is tuned on the data it is scored "
            f"on: with that seed its {metric} score is {f3(g[chosen][metric].mean())}; with the "
            f"seeds that played no part in the choice it is {f3(new[metric].mean())} ({each}).")
    lower_better = metric in ("discriminative", "predictive")
    best = g[chosen][metric].max() < new[metric].min() if lower_better else \
        g[chosen][metric].min() > new[metric].max()
    if best:
        text += (f" The seed it was tuned with gives its best score of the "
                 f"{g['seed'].nunique()} seeds.")
    return text


def collect_synthesis(paper: Paper, path: Path, published: pd.DataFrame) -> None:
    t = pd.read_csv(path)
    t = t[t["budget"] == "paper"] if "budget" in t else t
    rows = []
    for (dataset, gen), g in t.groupby(["dataset", "generator"], sort=False):
        rows.append({"dataset": dataset, "generator": gen, "seeds": g["seed"].nunique(),
                     "discriminative": protocol_cell(g, "discriminative"),
                     "predictive": protocol_cell(g, "predictive"), "source": "this study"})
    for _, r in published[published["table"] == "timegan_protocol"].iterrows():
        dataset, gen, metric = r["quantity"].split(":")
        rows.append({"dataset": dataset, "generator": gen, "seeds": "-",
                     metric: f3(float(r["value"])), "source": f"[@{r['source']}]"})
    ours = t.groupby(["dataset", "generator"])["discriminative"].mean()
    pub = published.set_index("quantity")["value"].astype(float)
    for dataset in ("sines", "stocks"):
        key = (dataset, "timegan")
        published_value = pub.get(f"{dataset}:TimeGAN (published):discriminative")
        if key in ours.index and published_value is not None:
            paper.value(f"{dataset}_timegan_disc", f3(ours[key]), str(path))
            paper.value(f"{dataset}_timegan_disc_published", f3(published_value),
                        "paper/published.csv")
            paper.value(f"{dataset}_timegan_verdict", "worse than" if ours[key] >
                        published_value else "as good as or better than", str(path))
        elif published_value is not None:
            paper.value(f"{dataset}_timegan_disc", "not run", str(path))
            paper.value(f"{dataset}_timegan_disc_published", f3(published_value),
                        "paper/published.csv")
            paper.value(f"{dataset}_timegan_verdict", "not yet compared with", str(path))
    paper.value("generator_tuning", " ".join(
        tuning_sentence(t, gen, **where) for gen, where in TUNED_GENERATORS.items()).strip(),
        f"{path}; {', '.join(dict.fromkeys(w['source'] for w in TUNED_GENERATORS.values()))}")
    frame = pd.DataFrame(rows).fillna("")
    frame = frame.groupby(["dataset", "generator", "seeds", "source"], sort=False,
                          as_index=False).agg(lambda s: "".join(s))
    paper.table("synthesis", frame[["dataset", "generator", "seeds", "discriminative",
                                    "predictive", "source"]],
                "TimeGAN's protocol: discriminative score (lower is better) and predictive "
                "score (MAE, lower is better), mean over seeds ± the standard deviation over "
                "seeds (for a single seed: over that seed's repeated post-hoc classifiers or "
                "predictors); published rows are quoted, not rerun.",
                f"{path}; paper/published.csv")


def collect_cv(paper: Paper, results: Path, figures: Path) -> None:
    from .cv_study import table_in

    folder = results / "paper"
    path = table_in(folder)
    runs = pd.read_csv(path, dtype={"ratio": str},
                       usecols=["dataset", "entity", "scheme", "fold", "seed"])
    tasks = runs.drop_duplicates()
    src = str(path)
    paper.value("cv_tasks", len(tasks), src)
    paper.value("cv_entities", tasks[["dataset", "entity"]].drop_duplicates().shape[0], src)
    opt = pd.read_csv(folder / "03_cv_optimism_summary.csv")
    opt = opt[(opt["metric"] == "auc_pr") & opt["detector"].isna()]
    src = str(folder / "03_cv_optimism_summary.csv")
    rows = []
    for _, r in opt.iterrows():
        rows.append({"scheme": r["scheme"], "setups": int(r["n"]),
                     "optimism (AUC-PR)": f"{signed(r['mean'])} [{signed(r['ci_low'])}, "
                                          f"{signed(r['ci_high'])}]",
                     "share optimistic": f3(r["share_optimistic"])})
        paper.value(f"optimism_{r['scheme']}", f"{signed(r['mean'])} [{signed(r['ci_low'])}, "
                    f"{signed(r['ci_high'])}]", src)
    words = {}
    for _, r in opt.iterrows():
        kind = ("pessimistic" if r["ci_high"] < 0 else "optimistic" if r["ci_low"] > 0
                else "not distinguishable from the held-out result")
        words.setdefault(kind, []).append(r["scheme"])
    paper.value("cv_optimism_summary", optimism_sentence(words), src)
    level = inspect.signature(bootstrap_ci).parameters["level"].default
    paper.value("bootstrap_level", f"{level:.0%}", "tsad_helpers.cv_report.bootstrap_ci")
    paper.table("optimism", pd.DataFrame(rows), "Optimism of each CV scheme: its AUC-PR "
                "estimate minus the held-out future of the same setup (mean and "
                f"{paper.values['bootstrap_level']} bootstrap interval over setups).", src)
    fig = folder / "figures" / "03_cv" / "optimism_auc_pr.png"
    if fig.is_file():
        target = figures / "optimism.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(fig, target)
        paper.figure("optimism", target, "Optimism of each CV scheme (AUC-PR): the CV "
                     "estimate minus the held-out result, per setup.", str(fig))


# ---- the CV study's answers (notebooks 03-06, paper profile) -------------------------------------
CLASSIFIER = "window_classifier"


def _needs(path: Path, notebook: str) -> Path:
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run notebook {notebook} with the paper "
                                "profile first")
    return path


def cv_plan_status(paper: Paper, folder: Path, runs: pd.DataFrame) -> None:
    """How much of the planned grid the table holds (``03_cv_plan.csv``, written by notebook
    03): "complete" or "partial" with the counts, for the text and the threats to validity."""
    path = _needs(folder / "03_cv_plan.csv", "03")
    n_done, planned = _plan_coverage(path, runs)
    paper.value("cv_planned", planned, str(path))
    complete = n_done == planned
    paper.value("cv_state", "complete" if complete else "partial", str(path))
    paper.value("cv_partial_threat", "The cross-validation grid is complete." if complete else
                f"The cross-validation grid is partial ({n_done} of {planned} tasks), so its "
                "conclusions may change as it completes.", str(path))


def _arm_cell(r: dict) -> str:
    if not r["n"]:
        return "-"
    if r["diff"] == 0 and not r["wins"] and not r["losses"]:
        return "no change"
    return describe_pair(r)


def arm_effects(runs: pd.DataFrame, scheme: str, metric: str) -> pd.DataFrame:
    """Each arm at the balancing ratio (``class_weight`` as it is) against ``none`` for each
    detector, paired over (dataset, entity, fold, seed) of one scheme: mean difference, n,
    wins, losses, Wilcoxon p and the Holm-corrected p over the detectors x arms."""
    from statsmodels.stats.multitest import multipletests

    from .cv_report import _baseline_rows, ok_rows

    ok = ok_rows(runs)
    ok = ok[(ok["scheme"] == scheme) & (ok["threshold_rule"] != "label_free")]
    key = ["dataset", "entity", "fold", "seed"]
    base = _baseline_rows(ok, "none").set_index(["detector"] + key)[metric]
    arms = ok[(ok["arm"] != "none") & ok["ratio"].isin(["balance", "0"])]
    rows = []
    for (det, arm), g in arms.groupby(["detector", "arm"], sort=False):
        r = paired(g.set_index(["detector"] + key)[metric], base)
        rows.append({"detector": det, "arm": arm, **r})
    out = pd.DataFrame(rows)
    if len(out):
        p = out["p"].astype(float)
        out["p_holm"] = np.nan
        if p.notna().any():
            out.loc[p.notna(), "p_holm"] = multipletests(p[p.notna()], method="holm")[1]
    return out


def collect_arms(paper: Paper, folder: Path) -> None:
    """The study's question: does an arm beat training without synthetic data on the held-out
    future (and does the honest CV scheme say so beforehand)?"""
    from .cv_study import ARMS, FINAL, read_table, table_in

    path = table_in(folder)
    runs = read_table(path)
    src = str(path)
    cv_plan_status(paper, folder, runs)
    held = {m: arm_effects(runs, FINAL, m) for m in ("f1", "auc_pr")}
    cv = arm_effects(runs, "rolling_stratified", "f1")
    rows, gains, losses = [], [], []
    order = {a: i for i, a in enumerate(ARMS)}
    f1 = held["f1"].sort_values(["detector", "arm"], key=lambda s: s.map(order).fillna(-1)
                                if s.name == "arm" else s)
    for _, r in f1.iterrows():
        auc = held["auc_pr"].query("detector == @r.detector and arm == @r.arm")
        est = cv.query("detector == @r.detector and arm == @r.arm")
        holm = r["p_holm"]
        word = ("gain" if r["diff"] > 0 else "loss") if np.isfinite(holm) and holm < 0.05 \
            else "tie"
        if word != "tie":
            (gains if word == "gain" else losses).append(f"{r['arm']} ({r['detector']})")
        rows.append({"detector": r["detector"], "arm": r["arm"],
                     "held-out F1 (arm - none)": _arm_cell(r.to_dict()),
                     "Holm p": "-" if not np.isfinite(holm) else
                     ("< 0.01" if holm < 0.01 else f"{holm:.2f}"),
                     "held-out AUC-PR": _arm_cell(auc.iloc[0].to_dict()) if len(auc) else "-",
                     "rolling CV F1": signed(est["diff"].iloc[0]) if len(est) else "-",
                     "verdict": word})
    paper.table("arms", pd.DataFrame(rows), "Each arm against training without synthetic "
                "data (none), on the held-out future of every entity and seed: F1 at the "
                "threshold actually used (mean difference, wins, losses, Wilcoxon p) with the "
                "Holm correction over the table, the AUC-PR difference (no change: the arm "
                "only moves the threshold of an unsupervised detector), and the rolling-window "
                "CV estimate of the F1 difference made before the held-out future was seen.",
                src)
    paper.value("arm_comparisons", len(rows), src)
    paper.value("arm_gains", len(gains), src)
    paper.value("arm_losses", len(losses), src)
    paper.value("arm_gain_list", ", ".join(gains) if gains else "none", src)
    paper.value("arm_loss_list", ", ".join(losses) if losses else "none", src)
    auc = held["auc_pr"][held["auc_pr"]["detector"] == CLASSIFIER]
    if len(auc) and auc["diff"].notna().any():
        best = auc.loc[auc["diff"].idxmax()]
        paper.value("classifier_best_arm", best["arm"], src)
        paper.value("classifier_best_arm_auc", describe_pair(best.to_dict()), src)
    else:
        paper.value("classifier_best_arm", "not yet known (no held-out classifier run)", src)
        paper.value("classifier_best_arm_auc", "no pairs yet", src)
    # does the honest CV estimate point the same way as the held-out future?
    both = f1.merge(cv, on=["detector", "arm"], suffixes=("", "_cv"))
    both = both[(both["diff"] != 0) & (both["diff_cv"] != 0)]
    agree = int((np.sign(both["diff"]) == np.sign(both["diff_cv"])).sum())
    paper.value("cv_sign_agree", f"{agree} of {len(both)}", src)


def _plan_coverage(plan_path: Path, runs: pd.DataFrame) -> tuple[int, int]:
    """(finished tasks of the plan, planned tasks)."""
    from .cv_study import KEY

    plan = pd.read_csv(plan_path, dtype=str)
    done = runs[list(KEY)].astype(str).drop_duplicates()
    return len(plan.merge(done, on=list(KEY))), len(plan)


def supplement_rows(runs: pd.DataFrame) -> pd.DataFrame:
    """The supplement's table: each unsupervised detector at its label-free threshold (arm
    none) and the classifier with each arm (generators at the balancing ratio): mean F1,
    point-adjusted F1 and AUC-PR on the held-out future and over the rolling-window folds,
    and the runs they rest on."""
    from .cv_report import ok_rows
    from .cv_study import FINAL

    ok = ok_rows(runs)
    pick = ok[((ok["detector"] != CLASSIFIER) & (ok["threshold_rule"] == "label_free"))
              | ((ok["detector"] == CLASSIFIER) & ok["ratio"].isin(["0", "balance"]))]
    rows = []
    first = [CLASSIFIER, "pca", "iforest", *STATISTICAL]  # the random floor last
    order = [d for d in first if d in set(runs["detector"])] + sorted(
        set(runs["detector"]) - set(first) - {"random"}) + ["random"]
    for (det, arm), g in sorted(pick.groupby(["detector", "arm"]),
                                key=lambda kv: (order.index(kv[0][0]), kv[0][1] != "none")):
        row, runs_n = {"detector": det, "arm": arm}, []
        for scheme, label in ((FINAL, "held-out"), ("rolling_stratified", "CV")):
            part = g[g["scheme"] == scheme]
            runs_n.append(str(len(part)))
            for m, name in (("f1", "F1"), ("pa_f1", "PA-F1"), ("auc_pr", "AUC-PR")):
                v = part[m].dropna()
                row[f"{label} {name}"] = f3(v.mean()) if len(v) else "-"
        row["runs (held-out, CV)"] = ", ".join(runs_n)
        rows.append(row)
    return pd.DataFrame(rows)


def collect_cv_supplement(paper: Paper, folder: Path) -> None:
    """DoppelGANger, ARIMA and GARCH in the supplement grid (notebook 03): the table, the
    DoppelGANger arm against none and SMOTE for the classifier, and the runs that repeat the
    main table's."""
    from .cv_report import ok_rows, repeated_runs, saved_score_noise
    from .cv_study import (
        FINAL,
        KEY,
        SUPPLEMENT,
        plan_path_for,
        read_table,
        scores_dir_for,
        table_in,
    )

    path = _needs(table_in(folder, SUPPLEMENT), "03 (its supplement grid)")
    runs = read_table(path)
    src = str(path)
    done, planned = _plan_coverage(_needs(plan_path_for(path), "03"), runs)
    paper.value("sup_state", "complete" if done == planned else "partial", src)
    paper.value("sup_tasks", done, src)
    paper.value("sup_planned", planned, src)
    paper.value("sup_entities", runs["entity"].nunique(), src)
    seeds = sorted(runs["seed"].unique())
    paper.value("sup_seeds", ", ".join(map(str, seeds)), src)
    paper.table("cv_supplement", supplement_rows(runs), "The supplement grid: each "
                "unsupervised detector at its label-free threshold, the window classifier "
                "trained with each arm (generators at the balancing ratio); mean point-wise F1 "
                "beside point-adjusted F1 (PA-F1) and AUC-PR, on the held-out future and "
                "over the rolling-window CV folds, with the runs each mean rests on.", src)
    ok = ok_rows(runs)
    clf = ok[(ok["detector"] == CLASSIFIER) & (ok["scheme"] == FINAL)].set_index(
        [*KEY, "arm", "ratio"])
    key = list(KEY)
    for metric, name in (("f1", "f1"), ("auc_pr", "auc")):
        col = clf[metric]
        dg = col.xs(("doppelganger", "balance"), level=("arm", "ratio"))
        for base, ratio in (("none", "0"), ("smote", "balance")):
            other = col.xs((base, ratio), level=("arm", "ratio"))
            r = paired(dg.reorder_levels(key), other.reorder_levels(key))
            paper.value(f"dg_vs_{base}_{name}", describe_pair(r) if r["n"] else "no pairs yet",
                        src)
    main = read_table(table_in(folder))
    rep = repeated_runs(main, runs)
    pairs = int(rep["pairs"].sum()) if len(rep) else 0
    same = int(rep["identical"].sum()) if len(rep) else 0
    paper.value("sup_repeated", pairs, src)
    paper.value("sup_repeated_same", same, src)
    paper.value("sup_repeated_detectors", ", ".join(rep["detector"]) if len(rep) else "none",
                src)
    moved = rep[rep["identical"] < rep["pairs"]]
    if len(moved):
        cols = [c for c in rep.columns if c.endswith("_max_diff")]
        worst = moved[cols].max().idxmax()
        text = (f"; the other {pairs - same} differ by at most "
                f"{moved[worst].max():.1e} in {worst.removesuffix('_max_diff')} "
                f"({', '.join(moved['detector'])})")
    else:
        text = ""
    paper.value("sup_repeated_moved", text, src)
    saved = scores_dir_for(table_in(folder)), scores_dir_for(path)
    paper.value("sup_repeated_noise", score_noise_sentence(saved_score_noise(*saved))
                if all(p.is_dir() for p in saved) else "", "; ".join(map(str, saved)))


def score_noise_sentence(noise: pd.DataFrame, tolerance: float = 1e-9) -> str:
    """What the saved held-out scores of runs that both grids hold say about a moved AUC-PR
    (:func:`cv_report.saved_score_noise`). Empty when no saved scores differ."""
    moved = noise[(noise["auc_pr"] - noise["auc_pr_again"]).abs() > tolerance]
    if moved.empty:
        return ""
    worst = moved.loc[(moved["auc_pr"] - moved["auc_pr_again"]).abs().idxmax()]
    entity = "/".join(worst["file"].split("/")[:2])
    return (f" The PCA scores the two grids saved for the held-out future (as float32) differ "
            f"by at most {noise['max_rel_diff'].max():.0e} of their size. Noise that small "
            f"decides the order of points whose scores "
            f"tie, and AUC-PR moves where many do: on {entity} ({worst['points']:,} points) "
            f"the supplement's saved scores take {worst['distinct_again']:,} distinct values "
            f"and the main grid's {worst['distinct']:,}, and their AUC-PR is "
            f"{f3(worst['auc_pr_again'])} and {f3(worst['auc_pr'])}. The main table keeps "
            f"its runs as they ran.")


def collect_cv_convergence(paper: Paper, folder: Path) -> None:
    """Does synthetic data make the classifier converge faster? Per arm: seconds and epochs
    to the best validation loss over the CV fits, and the Friedman test over arms."""
    from .cv_study import read_table, table_in
    from .loss_report import convergence_ranking, convergence_summary

    path = table_in(folder)
    runs = read_table(path)
    src = str(path)
    summ = convergence_summary(runs[runs["detector"] == CLASSIFIER], by=("arm", "ratio"))
    summ = summ[summ["ratio"].isin(["balance", "0"])]
    ranking = convergence_ranking(runs, CLASSIFIER)
    rows = []
    for arm in ranking.index:
        cells = {"arm": arm, "mean rank": f"{ranking.loc[arm, 'mean_rank']:.2f}"}
        for measure, label in (("seconds_to_best", "seconds to best"),
                               ("best_epoch", "best epoch"), ("train_val_gap", "gap")):
            s = summ[(summ["arm"] == arm) & (summ["measure"] == measure)]
            cells[label] = (f"{s['mean'].iloc[0]:.2f} [{s['ci_low'].iloc[0]:.2f}, "
                            f"{s['ci_high'].iloc[0]:.2f}]") if len(s) else "-"
        rows.append(cells)
    paper.table("convergence", pd.DataFrame(rows), "Convergence of the window classifier per "
                "arm over the CV fits (generators at the balancing ratio): mean [bootstrap "
                "interval] of the seconds and epochs to the best validation loss and of the "
                "train/validation gap; the mean rank over blocks and the four measures "
                "(1 = fastest).", src)
    pvals = ranking.attrs.get("friedman_p", {})
    paper.value("convergence_friedman", "; ".join(
        f"{m.replace('_', ' ')} {p_text(p)}" for m, p in pvals.items()) or "no fits yet", src)
    paper.value("convergence_fastest", ranking.index[0] if len(ranking) else "none yet", src)
    left = ranking.attrs.get("left_out", [])
    paper.value("convergence_left_out", ", ".join(left) if left else "none", src)


def collect_confusion(paper: Paper, folder: Path, figures: Path) -> None:
    """Pooled confusion counts on the held-out future at the label-free thresholds (notebook
    05), for each detector without synthetic data and the classifier's arms, beside random."""
    path = _needs(folder / "05_confusion_pooled.csv", "05")
    t = pd.read_csv(path, dtype={"ratio": str})
    t = t[(t["threshold_rule"] != "calibrated") & t["ratio"].isin(["balance", "0"])]
    t = t[(t["arm"] == "none") | (t["detector"] == CLASSIFIER)]
    rows = [{"detector": r["detector"], "arm": r["arm"], "runs": int(r["runs"]),
             "recall": with_sd(r, "recall"), "false-positive rate": with_sd(r, "fpr"),
             "event recall": with_sd(r, "event_recall"),
             "false alarms / 10k": with_sd(r, "false_alarms_per_10k", "{:.1f}"),
             "F1": with_sd(r, "f1"), "PA-F1": with_sd(r, "pa_f1")} for _, r in t.iterrows()]
    paper.table("confusion", pd.DataFrame(rows), "Held-out future, counts pooled over "
                "entities and seeds at the thresholds actually used (label-free for the "
                "unsupervised detectors, a probability of one half for the classifier): "
                "point-wise recall and false-positive rate, event recall, false alarms per "
                "ten thousand normal points, and the mean F1 beside point-adjusted F1; ± the "
                "standard deviation over seeds of each value computed per seed.",
                str(path))
    clf = t[t["detector"] == CLASSIFIER].set_index("arm")
    paper.value("classifier_recall_cost", "", str(path))
    if "none" in clf.index and len(clf) > 1:
        top = clf.drop(index="none")["event_recall"].idxmax()
        costs = clf.loc[top, "fpr"] > clf.loc["none", "fpr"]
        paper.value("classifier_recall_cost", f"For the window classifier the arm that finds "
                    f"the most events, {top}, finds {f3(clf.loc[top, 'event_recall'])} of them "
                    f"against {f3(clf.loc['none', 'event_recall'])} without synthetic data, "
                    f"at a false-positive rate of {f3(clf.loc[top, 'fpr'])} against "
                    f"{f3(clf.loc['none', 'fpr'])}" + (": it pays in false alarms." if costs
                                                      else "."), str(path))
    rnd = t[t["detector"] == "random"]
    paper.value("heldout_random_f1", f3(rnd["f1"].iloc[0]) if len(rnd) else "-", str(path))
    paper.value("heldout_random_pa_f1", f3(rnd["pa_f1"].iloc[0]) if len(rnd) else "-",
                str(path))
    path = plot_confusion(t, figures / "confusion.png")
    paper.figure("confusion", path, "Point-wise confusion matrices on the held-out future "
                 "(the rows of the table above), each actual class normalised to one.",
                 str(path))


def plot_confusion(rows: pd.DataFrame, path, ncols: int = 5) -> Path:
    """One small normalised confusion matrix per row of a pooled table, wrapped in rows of
    ``ncols`` panels (a page's width)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    from .confusion import matrix

    n = len(rows)
    nrows = max(1, -(-n // ncols))
    fig, axes = plt.subplots(nrows, ncols, squeeze=False, figsize=(1.9 * ncols, 1.8 * nrows))
    for ax in axes.flat:
        ax.set_visible(False)
    for ax, (_, row) in zip(axes.flat, rows.iterrows()):
        m = matrix(row)
        ax.set_visible(True)
        sns.heatmap(m / np.maximum(m.sum(axis=1, keepdims=True), 1), annot=True, fmt=".2f",
                    cbar=False, vmin=0, vmax=1, cmap="Blues", ax=ax,
                    annot_kws={"fontsize": 7}, xticklabels=["normal", "anomaly"],
                    yticklabels=["normal", "anomaly"])
        ax.set_title(f"{row['detector']}\n{row['arm']}", fontsize=7)
        ax.tick_params(labelsize=6)
    fig.supxlabel("predicted", fontsize=8)
    fig.supylabel("actual", fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)


def collect_taxonomy(paper: Paper, folder: Path, figures: Path) -> None:
    """Which anomalies each detector misses (notebook 06): by kind on the synthetic benchmark,
    the false alarms by class, and what the classifier's arms fix or break."""
    path = _needs(folder / "06_missed_by_kind.csv", "06")
    kinds = pd.read_csv(path).set_index("detector")
    spread = _needs(folder / "06_missed_by_kind_seed_sd.csv", "06")
    sd = pd.read_csv(spread).set_index("detector").reindex_like(kinds)
    table = pd.DataFrame({k: [with_sd({"v": kinds.at[d, k], "v_seed_sd": sd.at[d, k]}, "v")
                              for d in kinds.index] for k in kinds.columns},
                         index=kinds.index).reset_index()
    epath = _needs(folder / "06_event_outcomes.csv", "06")
    ev = pd.read_csv(epath, keep_default_na=False, usecols=["dataset", "entity", "seed",
                                                           "start", "kind"])
    ev = ev[ev["kind"] != ""].drop_duplicates(["dataset", "entity", "seed", "start"])
    counts = ev["kind"].value_counts().reindex(kinds.columns).fillna(0).astype(int)
    table = pd.concat([table, pd.DataFrame([{"detector": "(events)", **counts.to_dict()}])
                       .astype(str)], ignore_index=True)
    paper.table("missed_by_kind", table, "Share of the held-out events each detector misses, "
                "by kind as labelled: the synthetic benchmark's kinds and the point and "
                "contextual classes of the SMAP and MSL labels (SMD and ASD events have no "
                "kind); without synthetic data, at the label-free thresholds; ± the standard "
                "deviation over seeds of the share per seed.", f"{path}; {spread}")
    mean = kinds.drop(index="random", errors="ignore").mean().sort_values()
    hard, easy = mean[mean == mean.max()], mean[mean == mean.min()]
    paper.value("hardest_kind", f"{', '.join(hard.index)} ({f3(mean.max())} of its events "
                "missed on average over the detectors)", str(path))
    paper.value("easiest_kind", f"{', '.join(easy.index)} ({f3(mean.min())})", str(path))
    apath = _needs(folder / "06_false_alarm_rates.csv", "06")
    alarms = pd.read_csv(apath)
    alarms = alarms[alarms["threshold_rule"] != "calibrated"]
    classes = [c for c in alarms.columns if c not in ("detector", "threshold_rule",
                                                      "flagged normal share")
               and not c.endswith("_seed_sd")]
    cells = {c: [with_sd(r, c, "{:.1f}") for _, r in alarms.iterrows()] for c in classes}
    cells["flagged normal share"] = [with_sd(r, "flagged normal share")
                                     for _, r in alarms.iterrows()]
    paper.table("false_alarms", pd.DataFrame({"detector": alarms["detector"].to_numpy(),
                                              **cells}),
                "False alarms per held-out run by class (near an event, a single spike, "
                "sustained, other), and the share of normal points flagged; ± the standard "
                "deviation over seeds; the classifier's row pools its arms.", str(apath))
    fpath = _needs(folder / "06_arm_fixes.csv", "06")
    fixes = pd.read_csv(fpath, dtype={"ratio": str})
    fixes = fixes[fixes["ratio"].isin(["balance", "0"])].groupby("arm")[
        ["fixed", "broken", "net"]].sum().sort_values("net", ascending=False)
    paper.value("fixes_summary", "; ".join(
        f"{arm} fixes {int(r['fixed'])} and breaks {int(r['broken'])}"
        for arm, r in fixes.iterrows()) if len(fixes) else "no arm besides none ran",
        str(fpath))
    fig = folder / "figures" / "06_taxonomy" / "missed_by_kind.png"
    if fig.is_file():
        target = figures / "missed_by_kind.png"
        shutil.copyfile(fig, target)
        paper.figure("missed_by_kind", target, "Share of held-out events missed, by detector "
                     "and anomaly kind.", str(fig))


# ---- rendering ----------------------------------------------------------------------------------
def read_references(path) -> pd.DataFrame:
    refs = pd.read_csv(path, dtype=str).fillna("")
    missing = {"key", "authors", "year", "title", "venue"} - set(refs.columns)
    if missing:
        raise ValueError(f"{path}: missing columns {sorted(missing)}")
    return refs.set_index("key")


def cite(keys: str, refs: pd.DataFrame, used: list) -> str:
    parts = []
    for key in (k.strip().lstrip("@") for k in keys.split(";")):
        if key not in refs.index:
            raise ValueError(f"unknown citation key {key!r} (add it to references.csv)")
        if key not in used:
            used.append(key)
        r = refs.loc[key]
        first = r["authors"].split(",")[0].split(" and ")[0].strip().split()[-1]
        many = "," in r["authors"] or " and " in r["authors"]
        parts.append(f"{first}{' et al.' if many else ''} {r['year']}")
    return "(" + "; ".join(parts) + ")"


def markdown_table(frame: pd.DataFrame) -> str:
    head = "| " + " | ".join(frame.columns) + " |"
    sep = "|" + "---|" * len(frame.columns)
    body = ["| " + " | ".join(str(v) for v in row) + " |" for row in frame.to_numpy()]
    return "\n".join([head, sep, *body])


def render(template: str, paper: Paper, refs: pd.DataFrame) -> tuple[str, list]:
    """The Markdown text: placeholders filled, citations resolved, a reference list added;
    and the cited keys in order. An unknown placeholder is an error naming it."""
    bad = hand_typed_numbers(template)
    if bad:
        raise ValueError("numbers typed into the template by hand (line, number): "
                         f"{bad[:10]}; take them from results instead")
    used: list = []

    def lookup(kind: str, store: dict, key: str):
        if key not in store:
            raise ValueError(f"template: no {kind} {key!r}")
        return store[key]

    def fill(match):
        kind, _, key = match.group(1).strip().rpartition(":")
        if kind == "table":
            frame, caption = lookup("table", paper.tables, key)
            return f"{markdown_table(frame)}\n\n*Table: {caption}*"
        if kind == "figure":
            path, caption = lookup("figure", paper.figures, key)
            return f"![{caption}](figures/{path.name})"
        return lookup("value", paper.values, match.group(1).strip())

    text = PLACEHOLDER.sub(fill, template)
    text = CITATION.sub(lambda m: cite(m.group(1), refs, used), text)
    lines = ["", "## References", ""]
    def last_name(key):
        return refs.loc[key, "authors"].split(",")[0].strip().split()[-1]

    for key in sorted(used, key=lambda k: (last_name(k), refs.loc[k, "year"])):
        r = refs.loc[key]
        lines.append(f"- {r['authors']} ({r['year']}). {r['title']}. *{r['venue']}*.")
    return text.rstrip() + "\n" + "\n".join(lines) + "\n", used


TYPST_SPECIAL = re.compile(r"([\\#$@<>\[\]~*_`/=+])")


def _typst_inline(text: str) -> str:
    """Markdown inline markup (**bold**, *italic*, `code`) to Typst; every other Typst markup
    character escaped."""
    out, pos = [], 0
    for m in CODE.finditer(text):
        out.append(_typst_plain(text[pos:m.start()]))
        out.append(m.group(0))
        pos = m.end()
    out.append(_typst_plain(text[pos:]))
    return "".join(out)


def _typst_plain(text: str) -> str:
    text = re.sub(r"\*\*(.+?)\*\*", "\x01\\1\x02", text)
    text = re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", "\x03\\1\x04", text)
    text = TYPST_SPECIAL.sub(r"\\\1", text)
    return (text.replace("\x01", "*").replace("\x02", "*").replace("\x03", "_")
            .replace("\x04", "_"))


def to_typst(markdown: str, title: str) -> str:
    """A Typst document from the subset of Markdown the template uses: headings, paragraphs,
    bullet lists, tables (``| a | b |``), images and inline bold, italic and code."""
    lines = markdown.splitlines()
    out = ['#set page(paper: "a4", margin: 2cm, numbering: "1")',
           '#set text(size: 10pt)', '#set par(justify: true)',
           '#show heading: set block(above: 1.2em, below: 0.6em)',
           '#show table: set text(size: 7.5pt)', "",
           f"#align(center, text(15pt, weight: \"bold\")[{_typst_plain(title)}])", ""]
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("# "):
            i += 1
            continue  # the title, set above
        if line.startswith("#"):
            level = len(line) - len(line.lstrip("#")) - 1
            out.append("=" * max(level, 1) + " " + _typst_inline(line.lstrip("#").strip()))
        elif line.startswith("|"):
            rows = []
            while i < len(lines) and lines[i].startswith("|"):
                if not re.fullmatch(r"\|(-+\|)+", lines[i].replace(" ", "")):
                    rows.append([c.strip() for c in lines[i].strip().strip("|").split("|")])
                i += 1
            n = len(rows[0])
            cells = ", ".join(f"[*{_typst_inline(c)}*]" for c in rows[0])
            body = ", ".join(f"[{_typst_inline(c)}]" for r in rows[1:] for c in r)
            out.append(f"#table(columns: {n}, align: left, stroke: 0.4pt, {cells}, {body})")
            continue
        elif line.startswith("!["):
            m = re.match(r"!\[(.*)\]\((.+)\)", line)
            out.append(f'#figure(image("{m.group(2)}", width: 100%), '
                       f"caption: [{_typst_inline(m.group(1))}])")
        elif line.startswith("- "):
            out.append("- " + _typst_inline(line[2:]))
        else:
            out.append(_typst_inline(line))
        i += 1
    return "\n".join(out) + "\n"


def collect_training(paper: Paper, loss_root: Path, figures: Path,
                     dataset: str = "smd") -> None:
    """What the detector benchmark's loss logs say about the flagship's parts on one dataset:
    the discriminator's and the adversarial losses against a guessing discriminator's, and
    the best validation epoch of each variant."""
    import math

    from .loss_report import plot_curves, read_run_logs, run_convergence, term_panels

    variants = [FLAGSHIP] + [f"{FLAGSHIP}-{v}" for v in ABLATIONS]
    logs = read_run_logs(loss_root, datasets=[dataset], detectors=variants)
    src = f"{loss_root}/{dataset}/*/{FLAGSHIP}*_seed*.csv"
    adv = logs[logs["disc_loss"].fillna(0) != 0]
    runs = adv.groupby(["entity", "detector", "seed"])
    paper.value("adv_runs", runs.ngroups, src)
    paper.value("disc_loss_mean", f3(runs["disc_loss"].mean().mean()), src)
    paper.value("adv_loss_mean", f3(runs["adv_loss"].mean().mean()), src)
    paper.value("disc_chance", f3(2 * math.log(2)), "binary cross-entropy of a guess, twice")
    paper.value("adv_chance", f3(math.log(2)), "binary cross-entropy of a guess")
    near = runs["disc_loss"].mean().mean() > 0.9 * 2 * math.log(2)  # within a tenth of a guess
    paper.value("disc_verdict", "The discriminator never learns to tell reconstructions from "
                "real windows, so it gives the autoencoder no signal" if near else
                "The discriminator does learn to tell reconstructions from real windows", src)
    panels = term_panels(logs, ["val_rec_loss", "con_loss", "adv_loss", "disc_loss"],
                         "detector", run=("entity", "detector", "seed"))
    path = plot_curves(panels, figures / "flagship_terms.png", ncols=2)
    paper.figure("flagship_terms", path, f"The flagship's loss terms per variant on "
                 f"{dataset.upper()} (mean over machines and seeds, band: bootstrap interval "
                 "of the mean); a term a variant switches off is not drawn.", src)
    conv = run_convergence(logs, ["entity", "detector", "seed"])
    best = conv.groupby("detector")["best_epoch"].mean()
    paper.value("best_epoch_frozen", f"{best[FLAGSHIP]:.1f}", src)
    parts = best.drop(FLAGSHIP)
    paper.value("best_epoch_parts", f"{parts.min():.1f} to {parts.max():.1f}", src)


def collect_settings(paper: Paper) -> None:
    """The paper profile's settings the text names (from :mod:`tsad_helpers.profiles`)."""
    from . import profiles

    s = profiles.get("paper")
    src = "tsad_helpers.profiles (paper)"
    flag = s["detectors"][FLAGSHIP]
    paper.value("threshold_q", s["evaluate"]["threshold"]["q"], src)
    paper.value("validation_share", f"{s['evaluate']['validation_fraction']:.0%}", src)
    paper.value("vus_window", s["evaluate"]["vus_window"], src)
    paper.value("window", s["window"], src)
    paper.value("flagship_epochs", flag["epochs"], src)
    paper.value("flagship_patience", flag["patience"], src)
    paper.value("stopping_rule", stopping_rule_text(s), src)
    paper.value("flagship_width", flag["d_model"], src)
    paper.value("flagship_layers", f"{flag['encoder_layers']} + {flag['decoder_layers']}", src)
    paper.value("dev_share", f"{s['cv']['share']:.0%}", src)
    paper.value("cv_folds", s["cv"]["n_splits"], src)
    paper.value("profile_seeds", ", ".join(map(str, s["seeds"])), src)
    paper.value("cv_seeds", ", ".join(map(str, s["cv"]["seeds"])), src)


def stopping_threshold(name: str, params: dict | None = None) -> float | None:
    """A detector's early-stopping ``min_rel_delta`` with ``params`` over its defaults; None
    for a detector without early stopping (the classical ones)."""
    from . import detectors

    value = detectors.make(name, **(params or {})).get_params().get("min_rel_delta")
    return None if value is None else float(value)


def stopping_rule_text(settings: dict) -> str:
    """The early-stopping rule of the flagship and of the CV grid's deep detectors (each
    profile value over the detector's default), as a clause of the Method section."""
    rule = stopping_threshold

    flag = rule(FLAGSHIP, settings["detectors"][FLAGSHIP])
    text = (f"an epoch counts as better only when it beats the best validation loss by more "
            f"than {flag:g} of it, so that improvements of rounding size decide nothing"
            if flag else "any lower validation loss counts as better")
    cv = settings["cv"]
    deep = [d for d in cv["detectors"] if stopping_threshold(d) is not None]
    cv_rules = {rule(d, {**settings["detectors"].get(d, {}),
                         **cv.get("detector_params", {}).get(d, {})}) for d in deep}
    if cv_rules == {0.0} and flag:
        text += ("; the CV grid's deep detectors, begun before this rule, keep Keras' rule "
                 "that any improvement counts")
    elif cv_rules and cv_rules != {flag}:
        text += ("; the CV grid's deep detectors use "
                 + ", ".join(f"{r:g}" for r in sorted(cv_rules)))
    return text


def collect_seeding(paper: Paper, folder: Path, benchmarks: Path) -> None:
    """How many deep runs of the benchmark tables were stored before their seeding was
    recorded (``seeding`` column of ``*_paper_runs.csv``), and what the rechecks
    (``recheck_*.csv``, benchmarks/recheck_detectors.py) found for the deep runs they redid."""
    runs = benchmark_runs(folder)
    if "seeding" not in runs:
        raise ValueError(f"{folder}: the runs tables lack the seeding column; rerun "
                         "benchmarks/bench_detectors.py --tables-only")
    deep = runs[runs["seeding"] != "not-keras"]
    src = f"{folder}/*_paper_runs.csv"
    paper.value("deep_runs", len(deep), src)
    paper.value("deep_runs_old_seeding", int((deep["seeding"] == "global-random").sum()), src)
    checks = [pd.read_csv(p) for p in sorted(benchmarks.glob("recheck_*.csv"))]
    checks = pd.concat(checks, ignore_index=True) if checks else pd.DataFrame()
    if not checks.empty:  # the deep detectors' rechecks
        checks = checks[[stopping_threshold(d) is not None for d in checks["detector"]]]
    src = f"{benchmarks}/recheck_*.csv (benchmarks/recheck_detectors.py)"
    paper.value("rechecked_deep", len(checks), src)
    paper.value("rechecked_deep_differ",
                int((checks["max_abs_diff"] > 0).sum()) if len(checks) else 0, src)
    paper.value("reruns_sentence", reruns_sentence(benchmarks / "reruns_unseeded.csv"),
                f"{benchmarks}/reruns_unseeded.csv (benchmarks/bench_detectors.py "
                "--rerun-unseeded, --log-reruns-since)")


RERUN_SAME = 1e-9  # below this every metric counts as repeated (summation-order rounding)


def reruns_sentence(path: Path, metric: str = "vus_pr_period") -> str:
    """What recomputing old-seeded deep runs in fresh processes changed (the reruns replace
    the stored results in the tables): how many came out the same in every metric, and how
    far the others moved ``metric``. Empty without a log."""
    if not Path(path).is_file():
        return ""
    t = pd.read_csv(path)
    if t.empty:
        return ""
    same = t["max_abs_diff"] < RERUN_SAME
    moved = (t[f"{metric}_now"] - t[f"{metric}_stored"]).abs()[~same]
    text = (f" Another {len(t)} runs of that time have been recomputed in fresh processes and "
            f"replaced in the tables (they are not among the ones counted above): "
            f"{int(same.sum())} came out the same in every metric")
    if len(moved):
        text += (f"; in the other {len(moved)} the VUS-PR moved by a median of "
                 f"{f3(moved.median())} (at most {f3(moved.max())})")
    return text + "."


def collect_stopping(paper: Paper, path: Path) -> None:
    """How often a stored reconstruction-loss curve held an early-stopping decision within
    1e-6 of the bar (one that rounding can flip), with Keras' rule and with the detectors'
    default threshold (benchmarks/bench_early_stopping.py)."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run benchmarks/bench_early_stopping.py")
    table = pd.read_csv(path)
    table = table[table["stored_rule_matches_log"] & table["epochs_run"].notna()
                  & (table["monitor"] == "val_rec_loss")]
    default = stopping_threshold(FLAGSHIP)
    src = f"{path.name} (benchmarks/bench_early_stopping.py)"

    def share(rule):
        rows = table[np.isclose(table["min_rel_delta"], rule)]
        if rows.empty:
            raise ValueError(f"{path}: no replay with min_rel_delta={rule:g}; rerun "
                             "benchmarks/bench_early_stopping.py")
        return rows, f"{(rows['min_margin'] < 1e-6).mean():.2%}"

    rows, keras_share = share(0.0)
    paper.value("stopping_curves", len(rows), src)
    paper.value("stopping_fragile_keras", keras_share, src)
    paper.value("stopping_fragile_ours", share(default)[1], src)
    paper.value("stopping_eps", "1e-6", src)


def collect(results=None, benchmarks=None, paper_dir=None, loss_root=None) -> Paper:
    """Every value, table and figure the template uses, from the result files."""
    results = Path(results or REPO_ROOT / "simulation_results")
    benchmarks = Path(benchmarks or REPO_ROOT / "benchmarks" / "results")
    paper_dir = Path(paper_dir or PAPER_DIR)
    figures = paper_dir / "figures"
    paper = Paper()
    published = pd.read_csv(PAPER_DIR / "published.csv", dtype={"value": str})
    for _, r in published.iterrows():
        paper.value(f"pub:{r['quantity']}", r["value"], f"paper/published.csv ({r['source']})")
    collect_settings(paper)
    collect_data(paper, results)
    collect_benchmark(paper, results / "detectors", figures)
    collect_sweep(paper, benchmarks / "flagship_sweep_asd.csv")
    collect_selection(paper, results / "detectors", benchmarks / "flagship_sweep_asd.csv")
    collect_reference(paper, benchmarks / "reference_baselines_smd.csv")
    collect_statistical(paper, results / "detectors", benchmarks / "statistical_smd.csv")
    collect_stopping(paper, benchmarks / "early_stopping.csv")
    collect_seeding(paper, results / "detectors", benchmarks)
    collect_synthesis(paper, results / "synthesis_protocol" / "protocol_paper.csv", published)
    collect_cv(paper, results, figures)
    collect_arms(paper, results / "paper")
    collect_cv_convergence(paper, results / "paper")
    collect_cv_supplement(paper, results / "paper")
    collect_confusion(paper, results / "paper", figures)
    collect_taxonomy(paper, results / "paper", figures)
    collect_training(paper, Path(loss_root or REPO_ROOT / "loss" / "paper"), figures)
    return paper


def build(out_dir=None, results=None, benchmarks=None, pdf: bool = True) -> dict:
    """Write ``paper.md``, ``paper.typ`` and (``pdf``) ``paper.pdf`` into ``out_dir`` (default
    ``paper/``) with its figures; returns {"markdown", "typst", "pdf", "paper"}."""
    out = Path(out_dir or PAPER_DIR)
    out.mkdir(parents=True, exist_ok=True)
    paper = collect(results, benchmarks, out)
    refs = read_references(PAPER_DIR / "references.csv")
    template = TEMPLATE.read_text(encoding="utf-8")
    title = template.splitlines()[0].lstrip("# ").strip()
    text, used = render(template, paper, refs)
    for key in used:
        r = refs.loc[key]
        paper.provenance[f"cite:{key}"] = "paper/references.csv"
        paper.values[f"cite:{key}"] = f"{r['year']} {r['title']} {r['venue']}"
    paths = {"markdown": out / "paper.md", "typst": out / "paper.typ", "paper": paper}
    for key, content in (("markdown", text), ("typst", to_typst(text, title))):
        with atomic_path(paths[key]) as tmp:
            tmp.write_text(content, encoding="utf-8")
    if pdf:
        import typst

        paths["pdf"] = out / "paper.pdf"
        with atomic_path(paths["pdf"]) as tmp:
            typst.compile(str(paths["typst"]), output=str(tmp), root=str(out))
    return paths
