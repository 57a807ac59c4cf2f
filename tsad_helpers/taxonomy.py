"""Failure taxonomy (notebook 06): which anomalies each detector finds, finds late or misses,
by anomaly kind (the synthetic benchmark's 8 kinds), event length, magnitude and the number
of channels involved (SMD/ASD interpretation labels), and what its false alarms are; from the
scores the CV study's held-out refits keep (:func:`tsad_helpers.cv_study.save_scores`).

Definitions (one threshold per run: the one it actually used):

- an event is **found** when a flagged point (``score > threshold``) falls inside it within
  the first ``late_share`` (10 %) of its length (at least its first point), **late** when the
  first flagged point inside it comes after that, **missed** when none of its points is
  flagged;
- its **magnitude** is the largest, over channels, mean absolute z-score of its points
  (z-scores from the entity's normal training split);
- a **false alarm** is a run of flagged points touching no event; its class is ``near event``
  (within one window of an event, before or after), ``spike`` (at most 3 points),
  ``sustained`` (at least one window long: drift or a regime the model has not seen) or
  ``other``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import events
from .results import seed_sd

LENGTH_BINS = ((1, 1, "1"), (2, 10, "2-10"), (11, 100, "11-100"), (101, np.inf, ">100"))
OUTCOMES = ("found", "late", "missed")
ALARM_CLASSES = ("near event", "spike", "sustained", "other")
RUN_KEYS = ("dataset", "entity", "seed", "detector", "threshold_rule", "arm", "ratio")


def length_bin(length: int) -> str:
    return next(name for low, high, name in LENGTH_BINS if low <= length <= high)


def context(dataset: str, entity: str, settings: dict, root=None) -> dict:
    """What the taxonomy needs about one entity's held-out future: the series ``x`` [T, C],
    its labels, the per-point anomaly kinds (``types``; None where not known), the
    interpretation labels shifted to held-out positions (``interpretation``: start, end,
    channels; None where the dataset has none) and the normal training split's channel means
    and standard deviations (``mean``, ``std``). root: the data root (None: the default)."""
    from . import datasets, profiles
    from .cv_study import development_cut

    ds = datasets.load(dataset, entity, root=root,
                       **profiles.dataset_options(settings, dataset))
    labels = np.asarray(ds.test_labels, dtype=np.int64)
    cut = development_cut(labels, settings["cv"]["share"], window=settings["window"])
    types = None if ds.anomaly_types is None else np.asarray(ds.anomaly_types)[cut:]
    interp = ds.meta.get("interpretation_labels")
    if interp is not None:
        interp = [{"start": s["start"] - cut, "end": s["end"] - cut, "channels": s["channels"]}
                  for s in interp if s["end"] > cut]
    train = np.asarray(ds.train, dtype=np.float64)
    return {"x": np.asarray(ds.test, dtype=np.float64)[cut:], "labels": labels[cut:],
            "types": types, "interpretation": interp, "mean": train.mean(axis=0),
            "std": np.where(train.std(axis=0) > 1e-12, train.std(axis=0), 1.0),
            "window": settings["window"]}


def describe_events(ctx: dict) -> pd.DataFrame:
    """One row per event of the held-out future: start, end, length, length bin, kind (the
    most frequent kind among its points; '' where unknown), magnitude, channels involved
    (from the interpretation labels overlapping it; NaN where none)."""
    rows = []
    z = np.abs((ctx["x"] - ctx["mean"]) / ctx["std"])
    for a, b in events.segments(ctx["labels"]):
        kind = ""
        if ctx["types"] is not None:
            kinds = pd.Series(ctx["types"][a:b])
            kinds = kinds[kinds != ""]
            kind = kinds.mode().iloc[0] if len(kinds) else ""
        channels = np.nan
        if ctx["interpretation"] is not None:
            hit = [set(s["channels"]) for s in ctx["interpretation"]
                   if s["start"] < b and s["end"] > a]
            channels = len(set().union(*hit)) if hit else np.nan
        rows.append({"start": int(a), "end": int(b), "length": int(b - a),
                     "length_bin": length_bin(int(b - a)), "kind": kind,
                     "magnitude": float(z[a:b].mean(axis=0).max()), "channels": channels})
    return pd.DataFrame(rows, columns=["start", "end", "length", "length_bin", "kind",
                                       "magnitude", "channels"])


def event_outcome(pred: np.ndarray, start: int, end: int, late_share: float = 0.1):
    """("found" | "late" | "missed", delay in points or NaN) of one event."""
    hits = np.flatnonzero(pred[start:end])
    if not len(hits):
        return "missed", np.nan
    on_time = max(1, int(np.ceil(late_share * (end - start))))
    return ("found" if hits[0] < on_time else "late"), int(hits[0])


def classify_alarm(start: int, end: int, event_segments: np.ndarray, window: int) -> str:
    """The class of one false-alarm run [start, end) (see the module's definitions)."""
    for a, b in event_segments:
        if start < b + window and end > a - window:
            return "near event"
    if end - start <= 3:
        return "spike"
    if end - start >= window:
        return "sustained"
    return "other"


def outcomes(kept_list, contexts: dict, late_share: float = 0.1) -> tuple:
    """(events, alarms, runs) over every held-out run: ``events`` has one row per run and
    event (:func:`describe_events` columns plus outcome and delay), ``alarms`` one row per
    false alarm (run keys, start, length, class), ``runs`` one row per run with the share of
    normal points it flags (a run flagging nearly everything finds every event and has no
    false-alarm run: this share shows it). contexts: {(dataset, entity): :func:`context`}."""
    ev_rows, alarm_rows, run_rows = [], [], []
    for kept in kept_list:
        ctx = contexts[(kept["dataset"], kept["entity"])]
        if len(ctx["labels"]) != len(kept["labels"]) or (ctx["labels"] != kept["labels"]).any():
            raise ValueError(f"{kept['dataset']}/{kept['entity']}: the kept labels differ from "
                             "the dataset's held-out labels (another profile or data version?)")
        described = describe_events(ctx)
        seg = events.segments(ctx["labels"])
        for run in kept["runs"].to_dict("records"):
            keys = {"dataset": kept["dataset"], "entity": kept["entity"], "seed": kept["seed"],
                    **{k: run[k] for k in RUN_KEYS[3:]}}
            pred = kept["scores"][run["model"]] > run["threshold"]
            normal = ctx["labels"] == 0
            run_rows.append({**keys, "flagged_normal_share": float(pred[normal].mean())
                             if normal.any() else np.nan})
            for ev in described.to_dict("records"):
                outcome, delay = event_outcome(pred, ev["start"], ev["end"], late_share)
                ev_rows.append({**keys, **ev, "outcome": outcome, "delay": delay})
            for a, b in events.segments(pred.astype(np.int8)):
                if ctx["labels"][a:b].any():
                    continue
                alarm_rows.append({**keys, "start": int(a), "length": int(b - a),
                                   "class": classify_alarm(a, b, seg, ctx["window"])})
    return (pd.DataFrame(ev_rows),
            pd.DataFrame(alarm_rows, columns=[*RUN_KEYS, "start", "length", "class"]),
            pd.DataFrame(run_rows))


def rates(event_table: pd.DataFrame, by) -> pd.DataFrame:
    """Share of found, late and missed events per group ``by``, with the events counted."""
    counts = (event_table.groupby(list(by) + ["outcome"]).size().unstack("outcome")
              .reindex(columns=list(OUTCOMES)).fillna(0))
    total = counts.sum(axis=1)
    out = counts.div(total, axis=0)
    out["events"] = total.astype(int)
    return out


def missed_by(event_table: pd.DataFrame, column: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The share of events each detector misses per ``column`` group (detector x group), and
    its spread over seeds (the share per seed, then the standard deviation over seeds; NaN
    with one seed or where a seed has no such event)."""
    by = ["detector", column]
    share = rates(event_table, by)["missed"].unstack(column)
    sd = seed_sd(rates, event_table, by, ["missed"])["missed_seed_sd"].unstack(column)
    return share, sd.reindex(index=share.index, columns=share.columns)


def magnitude_bins(event_table: pd.DataFrame, q: int = 3) -> pd.Series:
    """Magnitude terciles (over the distinct events) as labels ``low``/``mid``/``high``."""
    distinct = event_table.drop_duplicates(["dataset", "entity", "start"])["magnitude"]
    edges = np.unique(np.quantile(distinct, np.linspace(0, 1, q + 1)))
    names = ["low", "mid", "high"][:max(len(edges) - 1, 1)] if q == 3 else None
    if len(edges) < 2:
        return pd.Series("all", index=event_table.index)
    return pd.cut(event_table["magnitude"], edges, labels=names, include_lowest=True
                  ).astype(str)


def alarm_rates(alarm_table: pd.DataFrame, run_table: pd.DataFrame, by=("detector",)):
    """False alarms per class and group ``by``, per held-out run (mean count), and the mean
    share of normal points the runs flag; with a ``seed`` column, also each one's spread over
    seeds (``<column>_seed_sd``, NaN with one seed)."""
    runs = run_table.groupby(list(by))
    counts = (alarm_table.groupby(list(by) + ["class"]).size().unstack("class")
              .reindex(columns=list(ALARM_CLASSES)).fillna(0))
    out = counts.reindex(runs.size().index).fillna(0).div(runs.size(), axis=0)
    out["flagged normal share"] = runs["flagged_normal_share"].mean()
    if "seed" in run_table and "seed" not in by:
        out = out.join(seed_sd(lambda runs_, by_: alarm_rates(alarm_table, runs_, by_),
                               run_table, list(by), [*ALARM_CLASSES, "flagged normal share"]))
    return out


def arm_fixes(event_table: pd.DataFrame, detector: str = "window_classifier",
              baseline: str = "none", by: str = "kind") -> pd.DataFrame:
    """Which arm fixes which failure: per arm (at each ratio) and ``by`` group, the events
    the ``detector`` trained with ``baseline`` missed (or found late) that the arm finds, and
    those the baseline found that the arm misses, paired on (dataset, entity, seed, event)."""
    part = event_table[event_table["detector"] == detector]
    key = ["dataset", "entity", "seed", "start"]
    base = part[part["arm"] == baseline].set_index(key)["outcome"]
    rows = []
    for (arm, ratio), g in part[part["arm"] != baseline].groupby(["arm", "ratio"]):
        g = g.set_index(key)
        common = g.index.intersection(base.index)
        b, a = base.loc[common], g.loc[common, "outcome"]
        for name, grp in g.loc[common].groupby(by):
            idx = grp.index
            rows.append({"arm": arm, "ratio": ratio, by: name, "events": len(idx),
                         "fixed": int(((b.loc[idx] != "found") & (a.loc[idx] == "found")).sum()),
                         "broken": int(((b.loc[idx] == "found") & (a.loc[idx] != "found")).sum())})
    out = pd.DataFrame(rows, columns=["arm", "ratio", by, "events", "fixed", "broken"])
    out["net"] = out["fixed"] - out["broken"]
    return out


def plot_heatmap(table: pd.DataFrame, path, title: str, fmt: str = ".2f", cmap: str = "Reds",
                 vmax: float | None = 1.0):
    """A seaborn heatmap of a 2-d table (e.g. the missed share, detectors x kinds)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    from .results import save_figure

    if table.empty:
        raise ValueError("nothing to draw")
    fig, ax = plt.subplots(figsize=(1.0 * table.shape[1] + 3.2, 0.42 * table.shape[0] + 1.6))
    sns.heatmap(table.astype(float), annot=True, fmt=fmt, cmap=cmap, vmin=0, vmax=vmax,
                ax=ax, annot_kws={"fontsize": 7}, cbar_kws={"shrink": 0.7})
    ax.set_title(title, fontsize=9)
    ax.set_xlabel(table.columns.name or "")
    ax.set_ylabel(" / ".join(n for n in table.index.names if n) if table.index.names else "")
    ax.tick_params(labelsize=7)
    plt.setp(ax.get_xticklabels(), rotation=30, ha="right")
    fig.tight_layout()
    return save_figure(fig, path)


def plot_example(kept: dict, ctx: dict, run: dict, focus: tuple, path, title: str,
                 channels: int = 3, margin: int | None = None):
    """One failure mode, drawn: the held-out stretch around ``focus`` (start, end), the
    ``channels`` channels deviating most there (z-scores), the true events shaded, and the
    run's scores with its threshold and flagged points."""
    import matplotlib.pyplot as plt

    from .results import save_figure

    a, b = focus
    margin = margin if margin is not None else max(3 * ctx["window"], 2 * (b - a))
    lo, hi = max(0, a - margin), min(len(ctx["labels"]), b + margin)
    z = (ctx["x"][lo:hi] - ctx["mean"]) / ctx["std"]
    top = np.argsort(-np.abs(z[a - lo:b - lo]).mean(axis=0))[:channels]
    scores = kept["scores"][run["model"]][lo:hi]
    t = np.arange(lo, hi)
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(8, 4.2), sharex=True,
                                   gridspec_kw={"height_ratios": [1.4, 1]})
    for c in top:
        ax1.plot(t, z[:, c], lw=0.9, label=f"channel {c}")
    for s, e in events.segments(ctx["labels"][lo:hi]):
        for ax in (ax1, ax2):
            ax.axvspan(lo + s, lo + e, color="red", alpha=0.15, lw=0)
    ax1.set_ylabel("z-score")
    ax1.legend(fontsize=7, loc="upper left")
    ax2.plot(t, scores, color="k", lw=0.9, label="score")
    ax2.axhline(run["threshold"], color="tab:orange", ls="--", lw=1, label="threshold")
    flagged = scores > run["threshold"]
    ax2.scatter(t[flagged], scores[flagged], s=6, color="tab:orange", zorder=3,
                label="flagged")
    ax2.set_ylabel("score")
    ax2.set_xlabel("held-out position")
    ax2.legend(fontsize=7, loc="upper left")
    ax1.set_title(title, fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)


def examples(event_table: pd.DataFrame, alarm_table: pd.DataFrame, detector: str,
             threshold_rule: str = "label_free") -> list[dict]:
    """One example per failure mode of ``detector`` at ``threshold_rule`` (arm ``none``): a
    found, a late and a missed event (the longest of each), and a false alarm of each class
    (the longest); dicts with the run keys, ``mode`` and ``focus`` (start, end)."""
    sel = (event_table["detector"] == detector) & (event_table["threshold_rule"]
                                                   == threshold_rule) & (event_table["arm"]
                                                                         == "none")
    out = []
    for mode in OUTCOMES:
        g = event_table[sel & (event_table["outcome"] == mode)]
        if len(g):
            r = g.sort_values(["length", "entity"], ascending=[False, True]).iloc[0]
            out.append({**{k: r[k] for k in RUN_KEYS}, "mode": f"{mode} event",
                        "focus": (int(r["start"]), int(r["end"]))})
    sel = (alarm_table["detector"] == detector) & (alarm_table["threshold_rule"]
                                                   == threshold_rule) & (alarm_table["arm"]
                                                                         == "none")
    for cls in ALARM_CLASSES:
        g = alarm_table[sel & (alarm_table["class"] == cls)]
        if len(g):
            r = g.sort_values(["length", "entity"], ascending=[False, True]).iloc[0]
            out.append({**{k: r[k] for k in RUN_KEYS}, "mode": f"false alarm: {cls}",
                        "focus": (int(r["start"]), int(r["start"] + r["length"]))})
    return out
