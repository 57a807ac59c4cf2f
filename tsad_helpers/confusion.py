"""Confusion matrices, precision-recall and ROC curves and threshold sensitivity (notebook 05),
from the scores that the CV study's held-out refits keep (:func:`tsad_helpers.cv_study.
save_scores`: every model's scores on the held-out future of each entity and seed, with the
thresholds that were actually used).

Point-wise counts take ``score > threshold`` as anomalous (as :func:`tsad_helpers.metrics.
evaluate` does). Event-wise: an event is found when any of its points is flagged, missed
otherwise; a false alarm is a run of flagged points that touches no event.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from . import events, metrics
from .cv_study import ARMS, load_scores
from .results import seed_sd

RUN_COLUMNS = ("dataset", "entity", "seed", "detector", "threshold_rule", "arm", "ratio")
GROUP = ("detector", "threshold_rule", "arm", "ratio")
RATES = ("recall", "fpr", "event_recall", "false_alarms_per_10k", "f1", "pa_f1")
CURVE_GRID = np.linspace(0.0, 1.0, 101)


def read_held_out(root) -> list[dict]:
    """Every kept held-out file under ``root`` (``<dataset>/<entity>/final_seed<s>.npz``) as
    :func:`~tsad_helpers.cv_study.load_scores` dicts with ``dataset``, ``entity`` and ``seed``
    added, in a stable order."""
    out = []
    for path in sorted(Path(root).glob("*/*/final_seed*.npz")):
        kept = load_scores(path)
        kept.update(dataset=path.parent.parent.name, entity=path.parent.name,
                    seed=int(path.stem.rsplit("seed", 1)[1]))
        out.append(kept)
    return out


def _runs(kept_list):
    """(kept, run) for every judged run of every kept file."""
    for kept in kept_list:
        for run in kept["runs"].to_dict("records"):
            yield kept, run


def counts(pred, labels) -> dict:
    """Point-wise tp, fp, fn, tn and event-wise found, missed and false alarms (runs of
    flagged points touching no event) of one binary prediction."""
    pred, labels = np.asarray(pred, bool), np.asarray(labels) == 1
    seg = events.segments(labels)
    found = sum(bool(pred[a:b].any()) for a, b in seg)
    alarms = events.segments(pred)
    false = sum(not labels[a:b].any() for a, b in alarms)
    return {"tp": int((pred & labels).sum()), "fp": int((pred & ~labels).sum()),
            "fn": int((~pred & labels).sum()), "tn": int((~pred & ~labels).sum()),
            "events_found": found, "events_missed": len(seg) - found,
            "false_alarms": false}


def confusion_table(kept_list) -> pd.DataFrame:
    """One row per held-out run: its keys, threshold, point-wise and event-wise counts
    (:func:`counts`), point-wise F1 and point-adjusted F1 at that threshold."""
    rows = []
    for kept, run in _runs(kept_list):
        scores, labels = kept["scores"][run["model"]], kept["labels"]
        pred = scores > run["threshold"]
        c = counts(pred, labels)
        adjusted = metrics.point_adjust(pred, labels)
        tp_pa = int((adjusted & (labels == 1)).sum())
        rows.append({**{k: kept[k] for k in ("dataset", "entity", "seed")},
                     **{k: run[k] for k in GROUP}, "threshold": run["threshold"], **c,
                     "f1": metrics._pr(c["tp"], c["tp"] + c["fp"], c["tp"] + c["fn"])[2],
                     "pa_f1": metrics._pr(tp_pa, int(adjusted.sum()), int(labels.sum()))[2]})
    return pd.DataFrame(rows)


def pooled(table: pd.DataFrame, by=GROUP) -> pd.DataFrame:
    """Counts summed over entities and seeds per group, with the rates a reader looks for:
    recall (tp / anomalous points), false-positive rate (fp / normal points), event recall,
    false alarms per 10,000 normal points, and the mean F1 and PA-F1 over the runs; with a
    ``seed`` column, also each rate's spread over seeds (``<rate>_seed_sd``: the rate pooled
    per seed, then the standard deviation over seeds; NaN with one seed)."""
    cols = ["tp", "fp", "fn", "tn", "events_found", "events_missed", "false_alarms"]
    g = table.groupby(list(by), sort=True)
    out = g[cols].sum()
    out["runs"] = g.size()
    out["recall"] = out["tp"] / (out["tp"] + out["fn"]).replace(0, np.nan)
    out["fpr"] = out["fp"] / (out["fp"] + out["tn"]).replace(0, np.nan)
    out["event_recall"] = out["events_found"] / (out["events_found"] + out["events_missed"]
                                                 ).replace(0, np.nan)
    out["false_alarms_per_10k"] = 1e4 * out["false_alarms"] / (out["fp"] + out["tn"]
                                                               ).replace(0, np.nan)
    out["f1"], out["pa_f1"] = g["f1"].mean(), g["pa_f1"].mean()
    if "seed" in table and "seed" not in by:
        out = out.join(seed_sd(pooled, table, list(by), RATES))
    return out


def matrix(row) -> np.ndarray:
    """The 2 x 2 point-wise confusion matrix of a pooled row: rows actual (normal,
    anomalous), columns predicted (normal, anomalous)."""
    return np.array([[row["tn"], row["fp"]], [row["fn"], row["tp"]]], dtype=float)


def plot_matrices(pooled_table: pd.DataFrame, path, normalise: bool = True,
                  title: str | None = None):
    """A grid of seaborn heatmaps, one per pooled row: detectors down; across, the
    label-free threshold first, then each arm and ratio (the arm's calibrated threshold for
    an unsupervised detector, the classifier trained with the arm); counts, or each actual
    class normalised to 1 (row shares)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    from .results import save_figure

    if pooled_table.empty:
        raise ValueError("no held-out run to draw")
    flat = pooled_table.reset_index()
    flat["column"] = [("", "label-free", "") if rule == "label_free" else
                      (ARMS.index(arm) if arm in ARMS else len(ARMS), arm, ratio)
                      for rule, arm, ratio in zip(flat["threshold_rule"], flat["arm"],
                                                  flat["ratio"])]
    down = sorted(flat["detector"].unique())
    across = sorted(flat["column"].unique(), key=lambda c: (c[0] != "", str(c[0]), c[1:]))
    fig, axes = plt.subplots(len(down), len(across), squeeze=False,
                             figsize=(1.9 * len(across) + 1.2, 1.7 * len(down) + 0.6))
    for ax in axes.flat:
        ax.set_visible(False)
    for _, row in flat.iterrows():
        i, j = down.index(row["detector"]), across.index(row["column"])
        m = matrix(row)
        shown = m / np.maximum(m.sum(axis=1, keepdims=True), 1) if normalise else m
        ax = axes[i, j]
        ax.set_visible(True)
        sns.heatmap(shown, annot=True, fmt=".2f" if normalise else ".0f", cbar=False,
                    vmin=0, vmax=1 if normalise else None, cmap="Blues", ax=ax,
                    annot_kws={"fontsize": 7}, xticklabels=["norm", "anom"],
                    yticklabels=["norm", "anom"])
        ax.set_title(f"{row['detector']}\n" + ("label-free" if row["threshold_rule"] ==
                     "label_free" else f"{row['arm']} r={row['ratio']}"), fontsize=7)
        ax.tick_params(labelsize=7)
    fig.supxlabel("predicted", fontsize=8)
    fig.supylabel("actual", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)


def curves(kept_list, kind: str = "pr", by=("model",)) -> pd.DataFrame:
    """Precision-recall (``kind="pr"``: interpolated precision, the best precision at a recall
    at least r) or ROC (``"roc"``: true-positive rate at each false-positive rate) of every
    held-out model, on a common grid, averaged over the entities and seeds of each group:
    columns ``x``, ``mean``, ``low``/``high`` (the 25th/75th percentile over runs), ``n`` and
    the mean area under the run curves (``auc``, average precision for PR). A model judged at
    several thresholds (an unsupervised detector: label-free and calibrated per arm) has
    one curve: the curves do not depend on the threshold."""
    from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score
    from sklearn.metrics import roc_curve

    if kind not in ("pr", "roc"):
        raise ValueError(f"kind must be 'pr' or 'roc', not {kind!r}")
    rows = []
    seen = set()
    for kept, run in _runs(kept_list):
        key = (kept["dataset"], kept["entity"], kept["seed"], run["model"])
        labels, scores = kept["labels"], kept["scores"][run["model"]].astype(np.float64)
        if key in seen or labels.min() == labels.max():
            continue
        seen.add(key)
        if kind == "pr":
            precision, recall, _ = precision_recall_curve(labels, scores)
            y = np.array([precision[recall >= r].max() for r in CURVE_GRID])
            area = average_precision_score(labels, scores)
        else:
            fpr, tpr, _ = roc_curve(labels, scores)
            y = np.interp(CURVE_GRID, fpr, tpr)
            area = roc_auc_score(labels, scores)
        rows.append({**{k: run[k] for k in by}, "y": y, "auc": area})
    if not rows:
        return pd.DataFrame()
    frame = pd.DataFrame(rows)
    out = []
    for key, group in frame.groupby(list(by), sort=True):
        ys = np.vstack(group["y"].to_numpy())
        out.append(pd.DataFrame({**dict(zip(by, key)), "x": CURVE_GRID, "mean": ys.mean(0),
                                 "low": np.quantile(ys, 0.25, axis=0),
                                 "high": np.quantile(ys, 0.75, axis=0), "n": len(ys),
                                 "auc": group["auc"].mean()}))
    return pd.concat(out, ignore_index=True)


def plot_curves(curve_table: pd.DataFrame, path, kind: str = "pr", line=("model",),
                title: str | None = None, floor: float | None = None):
    """One line per ``line`` group of :func:`curves` (the mean, a band of the middle half of
    the runs), its mean area in the legend; ``floor``: the precision of random scores (the
    anomalous share) or the ROC diagonal is drawn dashed."""
    import matplotlib.pyplot as plt

    if curve_table.empty:
        raise ValueError("no curve to draw")
    fig, ax = plt.subplots(figsize=(8.4, 4.2))
    for key, g in curve_table.groupby(list(line), sort=True):
        label = " · ".join(map(str, key if isinstance(key, tuple) else (key,)))
        (ln,) = ax.plot(g["x"], g["mean"], lw=1.5,
                        label=f"{label} ({'AP' if kind == 'pr' else 'AUC'} "
                              f"{g['auc'].iloc[0]:.3f}, n={g['n'].iloc[0]})")
        ax.fill_between(g["x"], g["low"], g["high"], color=ln.get_color(), alpha=0.15, lw=0)
    if kind == "roc":
        ax.plot([0, 1], [0, 1], "k--", lw=0.8, label="random")
        ax.set_xlabel("false-positive rate")
        ax.set_ylabel("true-positive rate")
    else:
        if floor is not None:
            ax.axhline(floor, color="k", ls="--", lw=0.8, label=f"random ({floor:.3f})")
        ax.set_xlabel("recall")
        ax.set_ylabel("precision (interpolated)")
    ax.set_xlim(0, 1)
    return _finish(fig, ax, path, title)


def sensitivity(kept_list, detector: str) -> pd.DataFrame:
    """F1 and point-adjusted F1 on the held-out future against the threshold, per run of an
    unsupervised ``detector`` (threshold = the q-quantile of its normal inner-validation
    scores, for every kept q; the label-free rule uses q = 0.99) or of the supervised
    classifier (threshold = a probability from 0.05 to 0.95; each arm and ratio apart). Also
    ``oracle_f1``: the best F1 over every threshold on the held-out scores themselves (uses
    the test labels: an upper bound, never a result)."""
    rows = []
    seen = set()
    for kept, run in _runs(kept_list):
        if run["detector"] != detector:
            continue
        key = (kept["dataset"], kept["entity"], kept["seed"], run["model"])
        if key in seen:
            continue
        seen.add(key)
        labels, scores = kept["labels"], kept["scores"][run["model"]].astype(np.float64)
        if detector in kept["sources"]:
            xs, ths, xname = kept["source_quantiles"], kept["sources"][detector], "quantile"
        else:
            xs = ths = np.round(np.linspace(0.05, 0.95, 19), 2)
            xname = "probability"
        oracle = _oracle_f1(scores, labels)
        for x, th in zip(xs, ths):
            pred = scores > th
            tp = int((pred & (labels == 1)).sum())
            adjusted = metrics.point_adjust(pred, labels)
            tp_pa = int((adjusted & (labels == 1)).sum())
            rows.append({"dataset": kept["dataset"], "entity": kept["entity"],
                         "seed": kept["seed"], "model": run["model"], "arm": run["arm"],
                         "ratio": run["ratio"], "axis": xname, "x": float(x),
                         "f1": metrics._pr(tp, int(pred.sum()), int(labels.sum()))[2],
                         "pa_f1": metrics._pr(tp_pa, int(adjusted.sum()),
                                              int(labels.sum()))[2],
                         "oracle_f1": oracle})
    return pd.DataFrame(rows)


def _oracle_f1(scores, labels) -> float:
    from sklearn.metrics import precision_recall_curve

    if labels.min() == labels.max():
        return np.nan
    p, r, _ = precision_recall_curve(labels, scores)
    f = np.where(p + r > 0, 2 * p * r / np.maximum(p + r, 1e-300), 0.0)
    return float(f.max())


def plot_sensitivity(table: pd.DataFrame, path, chosen: float, title: str | None = None,
                     line: str = "model"):
    """Mean F1 (solid) and PA-F1 (dotted) against the threshold axis (for a quantile rule:
    1 - q on a log scale, stricter to the right; ``chosen`` is given as q), one colour per
    ``line`` value, the threshold rule's choice marked (vertical line) and each line's mean
    oracle F1 (the best threshold chosen with the test labels) dashed, labelled as such."""
    import matplotlib.pyplot as plt

    if table.empty:
        raise ValueError("no sensitivity curve to draw")
    fig, ax = plt.subplots(figsize=(9.0, 4.0))
    axis = table["axis"].iloc[0]
    if axis == "quantile":  # drawn as 1 - q on a log scale: the maximum (q = 1) is off it
        table = table[table["x"] < 1].assign(x=lambda t: 1 - t["x"])
        label, chosen = f"chosen threshold (q = {chosen:g})", 1 - chosen
    else:
        label = f"chosen threshold ({chosen:g})"
    for name, g in table.groupby(line, sort=True):
        mean = g.groupby("x")[["f1", "pa_f1"]].mean()
        oracle = g.drop_duplicates(["dataset", "entity", "seed", "model"])["oracle_f1"].mean()
        (ln,) = ax.plot(mean.index, mean["f1"], lw=1.5,
                        label=f"{name}: F1 (oracle F1 {oracle:.3f})")
        ax.plot(mean.index, mean["pa_f1"], lw=1.0, ls=":", color=ln.get_color(),
                label=f"{name}: PA-F1")
        ax.axhline(oracle, color=ln.get_color(), lw=0.7, ls="--", alpha=0.6)
    ax.plot([], [], color="grey", lw=0.7, ls="--",
            label="dashed: oracle F1 (best threshold picked with the test labels; not a result)")
    ax.axvline(chosen, color="k", lw=0.9, label=label)
    if axis == "quantile":
        ax.set_xscale("log")
        ax.invert_xaxis()  # stricter thresholds to the right
        ax.set_xlabel("threshold: share of normal inner-validation scores above it (1 - q)")
    else:
        ax.set_xlabel("threshold: predicted probability")
    ax.set_ylabel("F1 on the held-out future")
    return _finish(fig, ax, path, title)


def _finish(fig, ax, path, title):
    """A rate axis from 0 to 1, the legend outside on the right, the title; saved."""
    from .results import save_figure

    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=6.5, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)
