"""Tables and figures of the CV study (notebook 03) from its tidy table of runs
(:func:`tsad_helpers.cv_study.run`): summaries with bootstrap intervals, paired Wilcoxon tests
of each arm against ``none`` and against SMOTE (Holm-corrected), the optimism of each CV
scheme (its estimate minus the held-out result), a critical-difference diagram of the arms,
and plots of the folds, of a metric against the integration ratio and of the optimism.

Only rows with ``status == "ok"`` are used; a metric that is undefined on a fold (a
validation block without anomalies has no AUC-PR) is NaN and left out of that metric's
statistics, and ``n`` says how many values each statistic rests on.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .cv_study import ARMS, FINAL, GENERATOR_ARMS, RUN

METRICS = ("f1", "pa_f1", "auc_pr", "vus_pr")
BLOCK = ("dataset", "entity", "fold", "seed")  # what a paired comparison pairs over


def ok_rows(table: pd.DataFrame) -> pd.DataFrame:
    return table[table["status"] == "ok"].copy()


def bootstrap_ci(values, level: float = 0.95, resamples: int = 2000, seed: int = 0):
    """Percentile bootstrap interval of the mean of ``values`` (NaN dropped): (low, high)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return np.nan, np.nan
    if len(v) == 1:
        return float(v[0]), float(v[0])
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, len(v), size=(resamples, len(v)))].mean(axis=1)
    alpha = (1 - level) / 2
    return float(np.quantile(means, alpha)), float(np.quantile(means, 1 - alpha))


def summary(table: pd.DataFrame, metrics=METRICS,
            by=("dataset", "scheme", "detector", "threshold_rule", "arm", "ratio")):
    """Mean, standard deviation, n and 95 % bootstrap interval of each metric over folds x
    entities x seeds, per group ``by``; ``collapsed`` when any run of the group used a
    collapsed generator. One row per group and metric."""
    rows = []
    for key, group in ok_rows(table).groupby(list(by), sort=True):
        collapsed = bool(group.get("collapsed", pd.Series(dtype=bool)).fillna(False)
                         .astype(bool).any())
        for m in metrics:
            v = group[m].to_numpy(float)
            v = v[np.isfinite(v)]
            low, high = bootstrap_ci(v)
            rows.append({**dict(zip(by, key)), "metric": m, "n": len(v),
                         "mean": v.mean() if len(v) else np.nan,
                         "std": v.std(ddof=1) if len(v) > 1 else np.nan,
                         "ci_low": low, "ci_high": high, "collapsed": collapsed})
    return pd.DataFrame(rows)


def _baseline_rows(ok: pd.DataFrame, baseline: str) -> pd.DataFrame:
    """The rows each arm is compared with: arm ``baseline`` judged by the same threshold rule
    as the arms (``probability`` for the classifier, ``calibrated`` for the others)."""
    return ok[(ok["arm"] == baseline) & (ok["threshold_rule"] != "label_free")]


def paired_tests(table: pd.DataFrame, metric: str, baseline: str = "none",
                 by=("dataset", "scheme", "detector", "arm", "ratio")) -> pd.DataFrame:
    """Each arm (at each ratio) against ``baseline`` (``none``: its one row per fold;
    ``smote``: the same ratio), paired over (entity, fold, seed): n pairs, mean and median
    difference (arm minus baseline), share of pairs the arm wins, Wilcoxon signed-rank p
    (two-sided; 1.0 when every difference is 0) and the Holm-corrected p over every
    comparison in the table."""
    from scipy.stats import wilcoxon
    from statsmodels.stats.multitest import multipletests

    ok = ok_rows(table)
    arms = ok[(ok["arm"] != baseline) & (ok["threshold_rule"] != "label_free")]
    base = _baseline_rows(ok, baseline)
    pair_on = [c for c in BLOCK if c not in by] + [c for c in ("dataset", "scheme", "detector")
                                                   if c in by]
    if baseline != "none":
        pair_on.append("ratio")
    merged = arms.merge(base[pair_on + [metric]], on=pair_on, suffixes=("", "_base"))
    rows = []
    for key, group in merged.groupby(list(by), sort=True):
        d = (group[metric] - group[f"{metric}_base"]).to_numpy(float)
        d = d[np.isfinite(d)]
        if not len(d):
            continue
        p = 1.0 if not np.any(d != 0) else float(wilcoxon(d).pvalue) if len(d) > 1 else np.nan
        rows.append({**dict(zip(by, key)), "baseline": baseline, "metric": metric, "n": len(d),
                     "mean_diff": d.mean(), "median_diff": float(np.median(d)),
                     "wins": float((d > 0).mean()), "p": p})
    out = pd.DataFrame(rows)
    if len(out):
        finite = out["p"].notna()
        out["p_holm"] = np.nan
        if finite.any():
            out.loc[finite, "p_holm"] = multipletests(out.loc[finite, "p"], method="holm")[1]
    return out


def repeated_runs(main: pd.DataFrame, other: pd.DataFrame, metrics=("f1", "auc_pr"),
                  tolerance: float = 1e-9) -> pd.DataFrame:
    """The runs of ``other`` (a supplement's table) that repeat a run of ``main`` (the same
    dataset, entity, scheme, fold, seed, arm, ratio, detector and threshold rule, ``ok`` in
    both), per detector: pairs, the pairs identical in every metric, and for each metric the
    largest absolute difference and the share of pairs that agree within ``tolerance``. A
    supplement shares the main grid's folds and settings, so a difference means a run that
    does not repeat from its seed."""
    key = list(RUN)
    both = ok_rows(main)[key + list(metrics)].merge(ok_rows(other)[key + list(metrics)],
                                                     on=key, suffixes=("", "_again"))
    rows = []
    for det, g in both.groupby("detector", sort=True):
        row = {"detector": det, "pairs": len(g)}
        every = np.ones(len(g), dtype=bool)
        for m in metrics:
            d = (g[m] - g[f"{m}_again"]).abs().to_numpy(float)
            same = np.isclose(g[m], g[f"{m}_again"], rtol=0, atol=tolerance, equal_nan=True)
            every &= same
            row[f"{m}_max_diff"] = float(np.nanmax(d)) if np.isfinite(d).any() else 0.0
            row[f"{m}_same"] = float(same.mean())
        row["identical"] = int(every.sum())
        rows.append(row)
    return pd.DataFrame(rows, columns=["detector", "pairs", "identical"] + [
        f"{m}_{k}" for m in metrics for k in ("max_diff", "same")])


def saved_score_noise(root, other_root, model: str = "pca") -> pd.DataFrame:
    """Why a repeated held-out run can move in AUC-PR while its thresholded metrics do not: for
    every held-out refit whose scores both grids saved (``<root>/<dataset>/<entity>/*.npz``,
    :func:`cv_study.save_scores`), the largest difference between the two score series of
    ``model`` relative to the scores' size, the AUC-PR (average precision) of each, and the
    number of distinct values in each (fewer than points: ties, which rounding noise breaks
    one way or the other)."""
    from pathlib import Path

    from sklearn.metrics import average_precision_score

    from .cv_study import load_scores

    for folder in (root, other_root):
        if not Path(folder).is_dir():
            raise FileNotFoundError(f"no saved scores folder {folder}")
    rows = []
    for path in sorted(Path(root).glob("*/*/*.npz")):
        again = Path(other_root) / path.relative_to(root)
        if not again.exists():
            continue
        a, b = load_scores(path), load_scores(again)
        if model not in a["scores"] or model not in b["scores"]:
            continue
        if not np.array_equal(a["labels"], b["labels"]):
            raise ValueError(f"{path} and {again}: the saved labels differ, so these are not "
                             "the same held-out series")
        x, z = (s["scores"][model].astype(np.float64) for s in (a, b))
        y = a["labels"]
        if y.min() == y.max():
            continue
        size = np.maximum(np.abs(x), np.abs(z))
        rel = np.abs(x - z) / np.where(size > 0, size, 1.0)
        rows.append({"file": str(path.relative_to(root)), "points": len(x),
                     "max_rel_diff": float(rel.max()),
                     "auc_pr": average_precision_score(y, x),
                     "auc_pr_again": average_precision_score(y, z),
                     "distinct": len(np.unique(x)), "distinct_again": len(np.unique(z))})
    return pd.DataFrame(rows, columns=["file", "points", "max_rel_diff", "auc_pr",
                                       "auc_pr_again", "distinct", "distinct_again"])


def optimism(table: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per (dataset, entity, seed, arm, ratio, detector, threshold rule) and CV scheme: the
    scheme's estimate (mean over its folds) minus the held-out result of the same setup refitted
    on the whole development part. Positive: the scheme promised more than the future gave."""
    ok = ok_rows(table)
    setup = ["dataset", "entity", "seed", "arm", "ratio", "detector", "threshold_rule"]
    cv = (ok[ok["scheme"] != FINAL].groupby(setup + ["scheme"])[metric].mean()
          .rename("cv_estimate").reset_index())
    held = ok[ok["scheme"] == FINAL][setup + [metric]].rename(columns={metric: "held_out"})
    out = cv.merge(held, on=setup)
    out["optimism"] = out["cv_estimate"] - out["held_out"]
    out["metric"] = metric
    # arms that cannot change the metric (an unsupervised detector's AUC-PR) give identical
    # setups: count each once, so they do not outweigh the others
    same = ["dataset", "entity", "seed", "scheme", "detector", "cv_estimate", "held_out"]
    return out.drop_duplicates(same).reset_index(drop=True)


def optimism_summary(opt: pd.DataFrame, by=("scheme",)) -> pd.DataFrame:
    """Mean optimism with its 95 % bootstrap interval and the share of setups it is > 0."""
    rows = []
    for key, group in opt.groupby(list(by), sort=True):
        v = group["optimism"].dropna().to_numpy(float)
        low, high = bootstrap_ci(v)
        rows.append({**dict(zip(by, key if isinstance(key, tuple) else (key,))),
                     "metric": group["metric"].iloc[0], "n": len(v),
                     "mean": v.mean() if len(v) else np.nan, "ci_low": low, "ci_high": high,
                     "share_optimistic": float((v > 0).mean()) if len(v) else np.nan})
    return pd.DataFrame(rows)


def arm_blocks(table: pd.DataFrame, metric: str, scheme: str, detector: str,
               ratio: str = "balance") -> pd.DataFrame:
    """Blocks (dataset, entity, fold, seed) x arms of ``metric`` for one scheme and detector:
    the generator arms at ``ratio``, ``none`` and ``class_weight`` as they are; arms missing
    from half the blocks or more are dropped, then blocks with a missing arm."""
    ok = ok_rows(table)
    sel = ok[(ok["scheme"] == scheme) & (ok["detector"] == detector)
             & (ok["threshold_rule"] != "label_free")
             & (ok["ratio"].isin([ratio, "0"]))]
    wide = sel.pivot_table(index=list(BLOCK), columns="arm", values=metric, aggfunc="first")
    # an arm run on few entities (a profile's arm_entities) would cut the blocks to those
    wide = wide.loc[:, wide.notna().mean() >= 0.5]
    return wide.dropna()


def critical_difference(table: pd.DataFrame, metric: str, scheme: str, detector: str,
                        ratio: str = "balance", path=None):
    """Average ranks of the arms (1 = best ``metric``) over blocks, Friedman's test and the
    Nemenyi post-hoc p-values, drawn as a critical-difference diagram (scikit-posthocs) when
    ``path`` is given. Returns (ranks Series, Friedman p, Nemenyi p DataFrame, figure path)."""
    import matplotlib.pyplot as plt
    import scikit_posthocs as sp
    from scipy.stats import friedmanchisquare

    wide = arm_blocks(table, metric, scheme, detector, ratio)
    if wide.shape[1] < 3 or len(wide) < 2:
        raise ValueError(f"critical difference: {wide.shape[1]} arms over {len(wide)} blocks; "
                         "needs 3 arms and 2 blocks")
    ranks = wide.rank(axis=1, ascending=False).mean().sort_values()
    friedman = float(friedmanchisquare(*[wide[c] for c in wide.columns]).pvalue)
    nemenyi = sp.posthoc_nemenyi_friedman(wide.reset_index(drop=True))
    if path is None:
        return ranks, friedman, nemenyi, None
    from .results import save_figure

    fig, ax = plt.subplots(figsize=(9, 0.35 * len(ranks) + 1.8))
    sp.critical_difference_diagram(ranks, nemenyi, ax=ax)
    ax.set_title(f"{metric}, {detector}, {scheme} (generators at ratio {ratio}): mean rank "
                 f"over {len(wide)} blocks, Friedman p = {friedman:.3g}\nbars join the arms "
                 "that the Nemenyi test cannot separate (p >= .05)", fontsize=8, pad=18)
    fig.subplots_adjust(left=0.2, right=0.8, top=0.8)
    return ranks, friedman, nemenyi, save_figure(fig, path)


def readable(summ: pd.DataFrame, index=("detector", "threshold_rule", "arm", "ratio"),
             digits: int = 3) -> pd.DataFrame:
    """A summary as "mean [ci_low, ci_high] (n)" per metric (columns), for reading."""
    text = summ.assign(cell=[f"{m:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}] ({n})"
                             if np.isfinite(m) else f"nan ({n})"
                             for m, lo, hi, n in zip(summ["mean"], summ["ci_low"],
                                                     summ["ci_high"], summ["n"])])
    return text.pivot_table(index=list(index), columns="metric", values="cell",
                            aggfunc="first")


def convergence_table(table: pd.DataFrame, by=("detector", "arm")) -> pd.DataFrame:
    """Mean convergence of the Keras models over the CV folds: epochs run, epoch and seconds of
    the best validation loss, convergence efficiency, train/validation gap; n fits."""
    ok = ok_rows(table)
    ok = ok[(ok["scheme"] != FINAL) & ok.get("epochs_run", pd.Series(np.nan, ok.index)).notna()]
    # an unsupervised model is fitted once per fold: count it once, not once per arm
    ok = ok.drop_duplicates(list(BLOCK) + ["scheme", "detector", "arm", "ratio"])
    cols = ["epochs_run", "best_epoch", "seconds_to_best", "convergence_efficiency",
            "train_val_gap"]
    out = ok.groupby(list(by))[cols].mean()
    out["n"] = ok.groupby(list(by)).size()
    return out


def generator_table(table: pd.DataFrame) -> pd.DataFrame:
    """Per generator arm: fits (folds), mean fit seconds, mean diversity of its anomalous
    windows relative to the real ones, and the share of folds where it collapsed; folds where
    it could not be fitted (status) are counted apart."""
    rows = table[table["arm"].isin(GENERATOR_ARMS)]
    one = rows.drop_duplicates(list(BLOCK) + ["scheme", "arm"])
    out = one.groupby("arm").agg(folds=("status", "size"),
                                 failed=("status", lambda s: int((s != "ok").sum())),
                                 fit_seconds=("generator_seconds", "mean"),
                                 diversity=("diversity", "mean"),
                                 collapsed_share=("collapsed", lambda s: float(
                                     s.fillna(False).astype(bool).mean())))
    return out


def cost_table(table: pd.DataFrame) -> pd.DataFrame:
    """Where the grid's time goes, per arm: generator fits (once per fold) plus the fits of
    the classifier trained with the arm, in seconds and as a share of the summed task time
    (every task counted once; the unsupervised detectors' one fit per fold is under
    ``(shared)``)."""
    total = table.drop_duplicates(list(BLOCK) + ["scheme"])["task_seconds"].sum()
    gen = (table[table["arm"].isin(GENERATOR_ARMS)]
           .drop_duplicates(list(BLOCK) + ["scheme", "arm"])
           .groupby("arm")["generator_seconds"].sum())
    clf = table[table["threshold_rule"] == "probability"].groupby("arm")["fit_seconds"].sum()
    shared = (table[table["threshold_rule"] == "label_free"]["fit_seconds"].sum())
    out = pd.DataFrame({"generator_seconds": gen, "classifier_seconds": clf}).fillna(0.0)
    out.loc["(shared)", "classifier_seconds"] = 0.0
    out.loc["(shared)", "generator_seconds"] = 0.0
    out["unsupervised_seconds"] = 0.0
    out.loc["(shared)", "unsupervised_seconds"] = shared
    out["seconds"] = out.sum(axis=1)
    out["share"] = out["seconds"] / total if total else np.nan
    return out.sort_values("seconds", ascending=False)


def significant(tests: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """The comparisons whose Holm-corrected p is below ``alpha``, largest effect first."""
    if not len(tests):
        return tests
    return tests[tests["p_holm"] < alpha].sort_values("mean_diff", ascending=False)


# ---- figures -----------------------------------------------------------------------------------
def plot_scheme_folds(y_dev, window: int, stride: int, n_splits: int, seed: int, path,
                      schemes=None):
    """One panel per CV scheme: per fold, which points training windows cover (blue), which
    validation windows cover (orange) and which both (red: the leak of shuffled windows)."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    from . import cv_study
    from .results import save_figure

    y = np.asarray(y_dev)
    schemes = schemes or cv_study.SCHEMES
    fig, axes = plt.subplots(len(schemes), 1, figsize=(10, 1.15 * len(schemes) + 0.8),
                             sharex=True, squeeze=False)
    cmap = ListedColormap(["white", "tab:blue", "tab:orange", "tab:red", "black"])
    offsets = np.arange(window)
    for ax, scheme in zip(axes[:, 0], schemes):
        grid = []
        for train, val in cv_study.folds(scheme, y, window, stride, n_splits, seed):
            tr = np.zeros(len(y), bool)
            va = np.zeros(len(y), bool)
            tr[(train[:, None] + offsets).ravel()] = True
            va[(val[:, None] + offsets).ravel()] = True
            grid.append(tr * 1 + va * 2)
        grid.append(np.where(y == 1, 4, 0))
        ax.imshow(np.array(grid), aspect="auto", cmap=cmap, vmin=0, vmax=4,
                  interpolation="nearest")
        ax.set_yticks(range(len(grid)))
        ax.set_yticklabels([f"fold {k + 1}" for k in range(len(grid) - 1)] + ["labels"],
                           fontsize=7)
        ax.set_title(scheme, fontsize=9, loc="left")
    axes[-1, 0].set_xlabel("time index of the development part")
    fig.suptitle("points covered by training windows (blue), validation windows (orange), "
                 "both (red: the leak); bottom row: anomaly labels (black)", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_ratio(summ: pd.DataFrame, metric: str, scheme: str, detector: str, path):
    """``metric`` (mean and 95 % interval) against the integration ratio, one line per arm;
    ``none`` and ``class_weight`` as horizontal bands."""
    import matplotlib.pyplot as plt

    from .results import save_figure

    sel = summ[(summ["metric"] == metric) & (summ["scheme"] == scheme)
               & (summ["detector"] == detector) & (summ["threshold_rule"] != "label_free")]
    sel = sel.groupby(["arm", "ratio"], as_index=False)[["mean", "ci_low", "ci_high"]].mean()
    order = sorted({r for r in sel["ratio"] if r not in ("0", "balance")}, key=float)
    order += ["balance"] if (sel["ratio"] == "balance").any() else []
    pos = {r: i for i, r in enumerate(order)}
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    colors = dict(zip(ARMS, plt.get_cmap("tab10").colors))
    for arm, group in sel.groupby("arm"):
        color = colors.get(arm, "grey")
        if (group["ratio"] == "0").all():
            row = group.iloc[0]
            ax.axhline(row["mean"], ls="--", lw=1, color=color, label=f"{arm}")
            ax.axhspan(row["ci_low"], row["ci_high"], color=color, alpha=0.08)
            continue
        group = group[group["ratio"].isin(order)].sort_values("ratio", key=lambda s: s.map(pos))
        x = group["ratio"].map(pos).to_numpy()
        ax.errorbar(x, group["mean"], yerr=[group["mean"] - group["ci_low"],
                                            group["ci_high"] - group["mean"]],
                    marker="o", capsize=3, color=color, label=arm)
    ax.set_xticks(range(len(order)))
    ax.set_xticklabels(order)
    ax.set_xlabel("integration ratio |synthetic| / |real fit windows|")
    ax.set_ylabel(f"{metric} (validation folds)")
    ax.set_title(f"{detector}, {scheme}: mean and 95 % bootstrap interval", fontsize=9)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_optimism(opt: pd.DataFrame, path):
    """Optimism (CV estimate minus held-out result) per scheme: box plot with the points."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    from .results import save_figure

    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    order = sorted(opt["scheme"].unique())
    sns.boxplot(data=opt, x="scheme", y="optimism", order=order, ax=ax, color="whitesmoke",
                fliersize=0, width=0.5)
    sns.stripplot(data=opt, x="scheme", y="optimism", order=order, ax=ax, size=3.5, alpha=0.7,
                  hue="detector", jitter=0.2)
    ax.axhline(0, color="black", lw=0.8)
    ax.set_title(f"{opt['metric'].iloc[0]}: CV estimate minus held-out future "
                 "(> 0: the scheme was optimistic)", fontsize=9)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1), title="detector",
              title_fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path)


__all__ = ["METRICS", "summary", "paired_tests", "optimism", "optimism_summary",
           "critical_difference", "plot_scheme_folds", "plot_ratio", "plot_optimism", "RUN"]
