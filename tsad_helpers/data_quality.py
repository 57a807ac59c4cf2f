"""Data-quality report for notebook 01: shapes, gaps, constant channels, train->test drift,
anomaly ratios, event lengths and types, and plots of normal and anomalous stretches."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy.stats import ks_2samp

from . import datasets, events, profiles
from .results import save_figure


def load_for_profile(settings: dict, root=None) -> tuple[list, list[str]]:
    """Every entity of the profile's datasets found under the data root.

    Returns (list of Dataset, list of dataset names not found). Real data is loaded with
    ``nonfinite="keep"`` so that missing values are counted here rather than refused, and NAB
    with ``timestamps="keep"`` (8 upstream series repeat a timestamp or step back in time; each
    Dataset's ``meta["timestamp_problems"]`` says how).
    """
    loaded, missing = [], []
    limit = settings.get("max_entities")
    for name in settings["datasets"]:
        try:
            names = datasets.entities(name, root)
        except datasets.DatasetNotFoundError:
            missing.append(name)
            continue
        options = profiles.dataset_options(settings, name) or {"nonfinite": "keep"}
        if name == "nab":
            options = {**options, "timestamps": "keep"}
        for entity in names[:limit]:
            loaded.append(datasets.load(name, entity, root, **options))
    return loaded, missing


def _constant(x: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return np.nanmax(x, axis=0) == np.nanmin(x, axis=0)


def drift(ds) -> pd.DataFrame:
    """Per channel: two-sample KS statistic and p-value between train and test values."""
    rows = []
    for c, name in enumerate(ds.channels):
        a, b = ds.train[:, c], ds.test[:, c]
        a, b = a[np.isfinite(a)], b[np.isfinite(b)]
        if len(a) == 0 or len(b) == 0:
            stat, p = np.nan, np.nan
        elif a.min() == a.max() == b.min() == b.max():
            stat, p = 0.0, 1.0
        else:
            res = ks_2samp(a, b)
            stat, p = res.statistic, res.pvalue
        rows.append({"dataset": ds.name, "entity": ds.entity, "channel": name,
                     "ks": float(stat), "p_value": float(p)})
    return pd.DataFrame(rows)


def summary(ds) -> dict:
    """One row of the QA table for one entity."""
    lens = events.lengths(ds.test_labels)
    ks = drift(ds)["ks"]
    return {
        "dataset": ds.name, "entity": ds.entity,
        "train_len": ds.train.shape[0], "test_len": ds.test.shape[0], "channels": ds.n_channels,
        "missing": int((~np.isfinite(ds.train)).sum() + (~np.isfinite(ds.test)).sum()),
        "const_train": int(_constant(ds.train).sum()),
        "const_test": int(_constant(ds.test).sum()),
        "anomaly_ratio": float(ds.test_labels.mean()),
        "events": len(lens),
        "event_len_min": int(lens.min()) if len(lens) else 0,
        "event_len_median": float(np.median(lens)) if len(lens) else 0.0,
        "event_len_max": int(lens.max()) if len(lens) else 0,
        "ks_median": float(ks.median()),
        "ks_max": float(ks.max()),
    }


def summary_table(items) -> pd.DataFrame:
    return pd.DataFrame([summary(ds) for ds in items])


def dataset_table(table: pd.DataFrame) -> pd.DataFrame:
    """Per dataset totals from :func:`summary_table`."""
    g = table.groupby("dataset", sort=False)
    out = pd.DataFrame({
        "entities": g.size(),
        "train_points": g["train_len"].sum(),
        "test_points": g["test_len"].sum(),
        "channels": g["channels"].max(),
        "missing": g["missing"].sum(),
        "entities_with_const_channels": g["const_train"].apply(lambda s: int((s > 0).sum())),
        "events": g["events"].sum(),
    })
    anomalous = table.assign(points=table["anomaly_ratio"] * table["test_len"])
    out["anomaly_ratio"] = anomalous.groupby("dataset", sort=False)["points"].sum() / out["test_points"]
    out["ks_median"] = g["ks_median"].median()
    return out


def timestamp_table(items) -> pd.DataFrame:
    """The series whose time index is not strictly increasing (NAB, loaded with
    ``timestamps="keep"``): dataset, entity and what breaks it (``meta["timestamp_problems"]``:
    duplicated stamps and steps back, counted, with the first data row of each)."""
    rows = [{"dataset": ds.name, "entity": ds.entity,
             "problems": ds.meta["timestamp_problems"]}
            for ds in items if ds.meta.get("timestamp_problems")]
    return pd.DataFrame(rows, columns=["dataset", "entity", "problems"])


def type_counts(items) -> pd.DataFrame:
    """Events and points per anomaly type, for datasets whose anomalies are typed."""
    rows = []
    for ds in items:
        if ds.anomaly_types is None:
            continue
        types = np.asarray(ds.anomaly_types)
        for start, end in events.segments(ds.test_labels):
            rows.append({"dataset": ds.name, "type": types[start], "points": end - start})
    if not rows:
        return pd.DataFrame(columns=["dataset", "type", "events", "points", "median_len"])
    frame = pd.DataFrame(rows)
    return (frame.groupby(["dataset", "type"])
            .agg(events=("points", "size"), points=("points", "sum"),
                 median_len=("points", "median")).reset_index())


def event_lengths(items) -> pd.DataFrame:
    """One row per event: dataset, entity, length."""
    rows = [{"dataset": ds.name, "entity": ds.entity, "length": int(n)}
            for ds in items for n in events.lengths(ds.test_labels)]
    return pd.DataFrame(rows, columns=["dataset", "entity", "length"])


def _blamed_channels(ds, span: slice) -> list[int]:
    """Channels that the labels blame for events overlapping ``span`` (0-based indices).

    Synthetic events and SMD/ASD interpretation labels both list ``channels`` over
    ``[start, end)``.
    """
    found = []
    for ev in ds.meta.get("events", []) + ds.meta.get("interpretation_labels", []):
        if ev["start"] < span.stop and ev["end"] > span.start:
            found += [c for c in ev["channels"] if 0 <= c < ds.n_channels]
    return list(dict.fromkeys(found))


def _pick_channels(ds, n: int, span: slice) -> list[int]:
    """Channels to plot: blamed ones first, then those varying most within ``span``."""
    spread = np.nan_to_num(np.nanstd(ds.test[span], axis=0))
    ranked = _blamed_channels(ds, span) + [int(c) for c in np.argsort(-spread)]
    return list(dict.fromkeys(ranked))[:n]


def stretches(ds, width: int) -> tuple[slice, slice | None]:
    """A normal test stretch (no labelled point) and one around the longest event.

    The normal stretch is the first label-free run of ``width`` points, or the longest
    label-free run when none is that long.
    """
    n = len(ds.test_labels)
    width = min(width, n)
    gaps = events.segments(1 - ds.test_labels)
    long_enough = gaps[gaps[:, 1] - gaps[:, 0] >= width]
    if len(long_enough):
        normal = slice(int(long_enough[0, 0]), int(long_enough[0, 0]) + width)
    elif len(gaps):
        a, b = gaps[np.argmax(gaps[:, 1] - gaps[:, 0])]
        normal = slice(int(a), int(b))
    else:
        normal = slice(0, width)
    seg = events.segments(ds.test_labels)
    if not len(seg):
        return normal, None
    a, b = seg[np.argmax(seg[:, 1] - seg[:, 0])]
    start = int(np.clip((a + b) // 2 - width // 2, 0, n - width))
    return normal, slice(start, start + width)


def plot_stretches(ds, path: Path, n_channels: int = 4, width: int = 400) -> Path:
    """Save a figure: a normal test stretch beside an anomalous one, anomalies shaded.

    The anomalous panel shows the channels blamed for its events first, where known.
    """
    normal, anomalous = stretches(ds, width)
    panels = [("normal stretch", normal)] + ([("anomalous stretch", anomalous)]
                                             if anomalous is not None else [])
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 3.2), squeeze=False)
    for ax, (title, span) in zip(axes[0], panels):
        t = np.arange(span.start, span.stop)
        for c in _pick_channels(ds, n_channels, span):
            ax.plot(t, ds.test[span, c], lw=0.9, label=ds.channels[c])
        top = ax.get_ylim()[1]
        for a, b in events.segments(ds.test_labels[span]):
            ax.axvspan(span.start + a - 0.5, span.start + b - 0.5, color="red", alpha=0.15)
            if ds.anomaly_types is not None and ds.anomaly_types[span.start + a]:
                ax.text(span.start + a, top, ds.anomaly_types[span.start + a], fontsize=7,
                        va="top", color="red")
        ax.set_title(f"{ds.name}/{ds.entity}: {title}", fontsize=9)
        ax.set_xlabel("test time index")
        ax.legend(fontsize=6, loc="lower left", ncol=2)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_examples(items, folder: Path, n_channels: int = 4) -> list[Path]:
    """:func:`plot_stretches` for every synthetic entity and, per real dataset, its first
    entity with a labelled anomaly (else its first); one PNG each in ``folder``."""
    chosen = [ds for ds in items if ds.name == "synthetic"]
    for name in dict.fromkeys(ds.name for ds in items if ds.name != "synthetic"):
        group = [ds for ds in items if ds.name == name]
        chosen.append(next((ds for ds in group if ds.test_labels.any()), group[0]))
    return [plot_stretches(ds, Path(folder) / f"stretches_{ds.name}_{ds.entity.replace('/', '_')}.png",
                           n_channels=n_channels) for ds in chosen]


def plot_drift(drift_frame: pd.DataFrame, path: Path) -> Path:
    """Box plot of the per-channel KS statistic, one box per dataset."""
    fig, ax = plt.subplots(figsize=(7, 3.2))
    order = list(dict.fromkeys(drift_frame["dataset"]))
    data = [drift_frame.loc[drift_frame["dataset"] == d, "ks"].dropna() for d in order]
    ax.boxplot(data, tick_labels=order)
    ax.set_ylabel("KS statistic, train vs test")
    ax.set_title("Per-channel distribution drift from train to test", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_event_lengths(lengths: pd.DataFrame, path: Path) -> Path:
    """Histogram (log-scaled lengths) of anomaly event lengths per dataset."""
    fig, ax = plt.subplots(figsize=(7, 3.2))
    if len(lengths):
        bins = np.logspace(0, np.log10(max(lengths["length"].max(), 2)) + 0.1, 25)
        for name, group in lengths.groupby("dataset", sort=False):
            ax.hist(group["length"], bins=bins, alpha=0.5, label=f"{name} ({len(group)})")
        ax.set_xscale("log")
        ax.legend(fontsize=7)
    ax.set_xlabel("event length (points)")
    ax.set_ylabel("events")
    ax.set_title("Anomaly event lengths", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)
