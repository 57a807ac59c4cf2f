"""Loss and convergence analysis (notebook 04): the loss logs of the CV study
(``loss/<profile>/03_cv/<dataset>/<entity>/<scheme>_fold<k>_seed<s>.csv``, one per task with a
``model`` column) and of the detector benchmark
(``loss/<profile>/<dataset>/<entity>/<detector>_seed<s>.csv``), read into long tables; curves
with a mean and a band over runs; convergence per arm with bootstrap intervals; a ranking of
the arms by convergence within paired blocks (Friedman's test).

Model names in the CV logs say what was trained: ``generator_<arm>`` (a generator fitted on the
fold's training windows), ``<detector>_<arm>_r<ratio>`` (a supervised detector trained with the
arm's synthetic windows at that ratio) and ``<detector>`` (an unsupervised detector, fitted
once per fold whatever the arm: it never learns from anomalous windows).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from .cv_report import BLOCK, bootstrap_ci, ok_rows
from .cv_study import FINAL

TASK_FILE = re.compile(r"^(?P<scheme>.+)_fold(?P<fold>-?\d+)_seed(?P<seed>\d+)$")
RUN_FILE = re.compile(r"^(?P<detector>.+)_seed(?P<seed>\d+)$")
SUPERVISED_MODEL = re.compile(r"^(?P<detector>window_classifier)_(?P<arm>.+)_r(?P<ratio>[^_]+)$")
# (training column, validation column) in the order they are looked for
LOSS_PAIRS = (("loss", "val_loss"), ("rec_loss", "val_rec_loss"),
              ("forecast_loss", "val_forecast_loss"))
CONVERGENCE = ("epochs_run", "best_epoch", "seconds_to_best", "convergence_efficiency",
               "train_val_gap", "best_val_loss")
LOWER_IS_FASTER = {"epochs_run": True, "best_epoch": True, "seconds_to_best": True,
                   "convergence_efficiency": False, "train_val_gap": True,
                   "best_val_loss": True}


def parse_model(name: str) -> dict:
    """What a CV loss log's ``model`` names: {"kind", "detector", "arm", "ratio"}; kind is
    ``generator``, ``supervised`` or ``unsupervised`` (arm ``(any)``: one fit per fold)."""
    if name.startswith("generator_"):
        return {"kind": "generator", "detector": "", "arm": name[len("generator_"):],
                "ratio": ""}
    m = SUPERVISED_MODEL.match(name)
    if m:
        return {"kind": "supervised", **m.groupdict()}
    return {"kind": "unsupervised", "detector": name, "arm": "(any)", "ratio": ""}


def _read_log(path: Path) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not a loss log ({exc})") from None
    if "epoch" not in frame.columns:
        raise ValueError(f"{path}: no 'epoch' column (columns: {list(frame.columns)})")
    return frame


def read_cv_logs(root) -> pd.DataFrame:
    """Every CV loss log under ``root`` (``<dataset>/<entity>/<scheme>_fold<k>_seed<s>.csv``)
    as one long table: dataset, entity, scheme, fold, seed, model, kind, detector, arm,
    ratio, phase (``train`` where the model has a single phase), epoch and the loss
    columns. An empty frame when there is none; a file in another layout is an error."""
    root = Path(root)
    frames = []
    for path in sorted(root.glob("*/*/*.csv")):
        m = TASK_FILE.match(path.stem)
        if not m:
            raise ValueError(f"{path}: not named <scheme>_fold<k>_seed<s>.csv")
        frame = _read_log(path)
        if "model" not in frame.columns:
            raise ValueError(f"{path}: no 'model' column (a CV task's log names its models)")
        parsed = pd.DataFrame([parse_model(n) for n in frame["model"]], index=frame.index)
        frame = pd.concat([frame, parsed], axis=1)
        frame.insert(0, "dataset", path.parent.parent.name)
        frame.insert(1, "entity", path.parent.name)
        frame.insert(2, "scheme", m["scheme"])
        frame.insert(3, "fold", int(m["fold"]))
        frame.insert(4, "seed", int(m["seed"]))
        frames.append(frame)
    if not frames:
        return pd.DataFrame()
    logs = pd.concat(frames, ignore_index=True)
    if "phase" not in logs.columns:
        logs["phase"] = "train"
    logs["phase"] = logs["phase"].fillna("train")
    return logs


def read_run_logs(root, datasets=None, detectors=None) -> pd.DataFrame:
    """The detector benchmark's loss logs under ``root`` (``<dataset>/<entity>/<detector>_seed
    <s>.csv``; the CV study's ``03_cv`` and notebook 02's ``02_synthesis`` folders are not
    read) as one long table: dataset, entity, detector, seed, epoch and the loss columns."""
    root = Path(root)
    frames = []
    for path in sorted(root.glob("*/*/*.csv")):
        dataset = path.parent.parent.name
        if dataset[:2].isdigit() or (datasets is not None and dataset not in datasets):
            continue
        m = RUN_FILE.match(path.stem)
        if not m or (detectors is not None and m["detector"] not in detectors):
            continue
        frame = _read_log(path)
        frame.insert(0, "dataset", dataset)
        frame.insert(1, "entity", path.parent.name)
        frame.insert(2, "detector", m["detector"])
        frame.insert(3, "seed", int(m["seed"]))
        frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def loss_columns(logs: pd.DataFrame) -> tuple[str, str | None]:
    """(training loss column, validation loss column or None) of a log: ``loss``/``val_loss``
    (e.g. the classifier), ``rec_loss``/``val_rec_loss`` (the autoencoders, whose total
    loss may hold extra terms) or ``forecast_loss``/``val_forecast_loss`` (the forecaster),
    the first pair with values."""
    for train, val in LOSS_PAIRS:
        if val in logs and logs[val].notna().any() and logs[train].notna().any():
            return train, val
    for train, _ in LOSS_PAIRS:  # no validation split (e.g. too short a series)
        if train in logs and logs[train].notna().any():
            return train, None
    raise ValueError(f"no training loss column among {list(logs.columns)}")


RUN_KEY = ("dataset", "entity", "scheme", "fold", "seed", "model", "phase")


def curve_band(logs: pd.DataFrame, column: str, by, run=RUN_KEY) -> pd.DataFrame:
    """Per group ``by`` and epoch: the mean of ``column`` over the runs (``run`` identifies
    one training run), its 95 % percentile-bootstrap interval (``low``, ``high``: inside the
    values, so it can be drawn on a log scale) and ``n``, the runs still training at that
    epoch (early stopping ends runs at different epochs: the tail of a curve rests on fewer
    runs)."""
    by = list(by)
    if column not in logs:
        raise ValueError(f"no column {column!r} in the logs")
    part = logs[logs[column].notna()]
    run = [c for c in run if c in part.columns]
    # one value per run and epoch (a run logged twice would otherwise count twice)
    part = part.groupby(list(dict.fromkeys(by + run + ["epoch"])), dropna=False)[column].mean()
    part = part.reset_index()
    grouped = part.groupby(by + ["epoch"], dropna=False)[column]
    out = grouped.agg(mean="mean", n="size").reset_index()
    bands = np.array([bootstrap_ci(v, resamples=500) for _, v in grouped], dtype=float)
    out["low"], out["high"] = bands[:, 0], bands[:, 1]
    return out


def plot_curves(panels: dict, path, ylabel: str = "loss", logy: bool = True,
                ncols: int = 3, title: str | None = None, sharey: bool = False):
    """One panel per entry of ``panels`` ({panel title: {line label: band frame}}, band frames
    from :func:`curve_band`): mean lines with their bands, epochs from 1 (a log scale where
    the values span a decade or more; ``sharey``: one y scale for every panel, to compare
    them). Saved to ``path``."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    from .results import save_figure

    if not panels:
        raise ValueError("no curve to plot")
    ncols = min(ncols, len(panels))
    nrows = int(np.ceil(len(panels) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.0 * nrows), squeeze=False,
                             sharey=sharey)
    for ax, (name, lines) in zip(axes.flat, panels.items()):
        for label, band in lines.items():
            epoch = band["epoch"].to_numpy() + 1
            (line,) = ax.plot(epoch, band["mean"], label=label, lw=1.4,
                              marker="o" if len(epoch) <= 10 else None, ms=3)
            ax.fill_between(epoch, band["low"], band["high"], color=line.get_color(),
                            alpha=0.18, lw=0)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        low = min(b["low"].min() for b in lines.values())
        high = max(b["high"].max() for b in lines.values())
        if logy and low > 0 and high / low > 10:  # a log scale only over a decade or more
            ax.set_yscale("log")
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)


def fits(table: pd.DataFrame) -> pd.DataFrame:
    """One row per Keras fit of the CV study (folds only, not the held-out refit): the runs
    table's ok rows with a training history, an unsupervised detector's one fit per fold
    counted once (under arm ``(any)``), not once per arm."""
    ok = ok_rows(table)
    if "epochs_run" not in ok:
        return ok.iloc[0:0]
    ok = ok[(ok["scheme"] != FINAL) & ok["epochs_run"].notna()].copy()
    unsup = ok["threshold_rule"] != "probability"
    ok.loc[unsup, "arm"] = "(any)"
    ok.loc[unsup, "ratio"] = ""
    return ok.drop_duplicates(list(BLOCK) + ["scheme", "detector", "arm", "ratio"])


def convergence_summary(table: pd.DataFrame, by=("detector", "arm"),
                        columns=CONVERGENCE) -> pd.DataFrame:
    """Per group: mean [95 % bootstrap interval] and n of each convergence measure over the
    CV fits (:func:`fits`); one row per group and measure."""
    rows = []
    for key, group in fits(table).groupby(list(by), sort=True):
        key = key if isinstance(key, tuple) else (key,)
        for col in columns:
            v = group[col].to_numpy(float)
            v = v[np.isfinite(v)]
            low, high = bootstrap_ci(v)
            rows.append({**dict(zip(by, key)), "measure": col, "n": len(v),
                         "mean": v.mean() if len(v) else np.nan, "ci_low": low,
                         "ci_high": high})
    return pd.DataFrame(rows)


def convergence_ranking(table: pd.DataFrame, detector: str = "window_classifier",
                        measures=("seconds_to_best", "best_epoch", "best_val_loss",
                                  "train_val_gap"), min_share: float = 0.5) -> pd.DataFrame:
    """The arms of one supervised detector ranked by convergence: within each block (dataset,
    entity, scheme, fold, seed) where every ranked arm has a value, arms are ranked (1 =
    fastest, lowest loss or smallest gap); per measure the mean rank of each arm, the blocks
    it rests on and Friedman's p over the arms (``attrs["friedman_p"]``; NaN with fewer than 2
    blocks or 3 arms). Arms run in fewer than ``min_share`` of the blocks (e.g. pTimeGAN, run
    on a few entities only) are left out (``attrs["left_out"]``) rather than shrinking every
    arm's blocks to theirs. Ratios are pooled per arm (its fits at every ratio averaged within
    a block). Sorted by the mean of the mean ranks."""
    from scipy.stats import friedmanchisquare

    f = fits(table)
    f = f[f["detector"] == detector]
    out, pvalues, left_out = {}, {}, set()
    for measure in measures:
        blocks = f.groupby(list(BLOCK) + ["scheme", "arm"])[measure].mean().unstack("arm")
        share = blocks.notna().mean()
        left_out |= set(share.index[share < min_share])
        blocks = blocks.loc[:, share >= min_share].dropna()
        if blocks.empty:
            continue
        ranks = blocks.rank(axis=1, ascending=LOWER_IS_FASTER[measure])
        out[measure] = ranks.mean()
        ok = len(blocks) >= 2 and blocks.shape[1] >= 3
        pvalues[measure] = (float(friedmanchisquare(*blocks.to_numpy().T).pvalue)
                            if ok and blocks.nunique(axis=1).gt(1).any() else np.nan)
        out[f"{measure}_blocks"] = pd.Series(len(blocks), index=blocks.columns)
    if not out:
        return pd.DataFrame()
    ranking = pd.DataFrame(out)
    rank_cols = [m for m in measures if m in ranking]
    ranking["mean_rank"] = ranking[rank_cols].mean(axis=1)
    ranking = ranking.sort_values("mean_rank")
    ranking.attrs["friedman_p"] = pvalues
    ranking.attrs["left_out"] = sorted(left_out)
    return ranking


def plot_gap(table: pd.DataFrame, path, detector: str = "window_classifier"):
    """Train/validation gap at the best epoch (validation minus training loss: above 0 the
    model fits its training windows better than unseen ones) per arm, as a box plot over the
    CV fits of one detector, with the unsupervised detectors' fits beside them."""
    import matplotlib.pyplot as plt

    from .results import save_figure

    f = fits(table)
    f = f[f["train_val_gap"].notna()]
    if f.empty:
        raise ValueError("no fit with a train/validation gap")
    f = f.assign(model=np.where(f["detector"] == detector, f["arm"], f["detector"]))
    order = list(f[f["detector"] == detector].groupby("arm")["train_val_gap"].median()
                 .sort_values().index) + sorted(set(f["model"]) - set(f["arm"][
                     f["detector"] == detector]))
    fig, ax = plt.subplots(figsize=(max(5.5, 0.8 * len(order)), 3.8))
    ax.boxplot([f.loc[f["model"] == m, "train_val_gap"].to_numpy() for m in order],
               tick_labels=order, patch_artist=True, boxprops={"facecolor": "#9ecae1"},
               medianprops={"color": "black"}, flierprops={"markersize": 2})
    ax.axhline(0, color="grey", lw=0.8, ls="--")
    ax.set_xlabel(f"{detector} arm (left) | unsupervised detectors (right)")
    ax.set_ylabel("validation - training loss\nat the best epoch")
    plt.setp(ax.get_xticklabels(), rotation=30, ha="right")
    fig.tight_layout()
    return save_figure(fig, path)


def train_val_panels(logs: pd.DataFrame, panel: str, run=RUN_KEY) -> dict:
    """{value of ``panel``: {"training": band, "validation": band}} of each model's own loss
    pair (:func:`loss_columns`), for :func:`plot_curves`."""
    out = {}
    for name, part in logs.groupby(panel, sort=True):
        train, val = loss_columns(part)
        lines = {f"training ({train})": curve_band(part, train, [panel], run)}
        if val:
            lines[f"validation ({val})"] = curve_band(part, val, [panel], run)
        out[str(name)] = lines
    return out


def term_panels(logs: pd.DataFrame, terms, line: str, run=RUN_KEY,
                prefix: str = "") -> dict:
    """{term: {value of ``line``: band}} for every loss term (column) with values, e.g. the
    flagship's reconstruction, contrastive, adversarial and discriminator losses per
    variant, or a generator's losses per training phase. A line whose term is 0 throughout
    (a part that is switched off) is left out."""
    out = {}
    for term in terms:
        if term not in logs:
            continue
        part = logs[logs[term].notna()]
        lines = {str(k): curve_band(g, term, [line], run)
                 for k, g in part.groupby(line, sort=True) if g[term].ne(0).any()}
        if lines:
            out[f"{prefix}{term}"] = lines
    return out


def run_convergence(logs: pd.DataFrame, run) -> pd.DataFrame:
    """Convergence of each training run of a long loss table (``run``: the columns naming
    one run), from its own log: epochs run, the epoch (1-based) of the lowest validation
    loss, that loss, the decrease per epoch up to it and the validation minus training loss
    there; runs without a validation loss get only the epochs."""
    rows = []
    for key, part in logs.groupby(list(run), sort=True):
        part = part.sort_values("epoch")
        train, val = loss_columns(part)
        row = dict(zip(run, key if isinstance(key, tuple) else (key,)))
        row["epochs_run"] = int(part["epoch"].max()) + 1
        if val:
            v, t = part[val].to_numpy(float), part[train].to_numpy(float)
            best = int(np.nanargmin(v))
            row.update(best_epoch=best + 1, best_val_loss=v[best],
                       convergence_efficiency=(v[0] - v[best]) / (best + 1),
                       train_val_gap=v[best] - t[best])
        rows.append(row)
    return pd.DataFrame(rows)


ID_COLUMNS = {"dataset", "entity", "scheme", "fold", "seed", "model", "kind", "detector", "arm",
              "ratio", "phase", "epoch"}


def read_study(out, loss_root) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(runs table, CV loss logs) of notebook 03's run for one profile: ``out`` is its
    results folder, ``loss_root`` the profile's loss folder. A missing table is an error that
    says how to make it."""
    from .cv_study import read_table, table_in

    path = table_in(out)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: run notebook 03 for this profile "
                                "first (python -m tsad_helpers run --profile P --only 03)")
    return read_table(path), read_cv_logs(Path(loss_root) / "03_cv")


def generator_panels(logs: pd.DataFrame, arm: str, line: str = "dataset") -> dict:
    """Panels of one generator's CV loss logs: every loss it logs (per training phase for
    generators trained in phases, e.g. TimeGAN's embedding, supervised and joint phases),
    one line per ``line`` value, mean and band over the folds."""
    part = logs[(logs["kind"] == "generator") & (logs["arm"] == arm)]
    out = {}
    phases = part["phase"].unique()
    for phase, group in part.groupby("phase", sort=False):
        terms = [c for c in group.columns if c not in ID_COLUMNS and group[c].notna().any()]
        prefix = f"{phase} · " if len(phases) > 1 else ""
        out.update(term_panels(group, terms, line, prefix=prefix))
    return out


def readable(summary: pd.DataFrame, index=("detector", "arm"), digits: int = 3) -> pd.DataFrame:
    """:func:`convergence_summary` as text cells ``mean [low, high]`` (one column per measure)
    with the fits each group rests on."""
    s = summary.copy()
    fmt = f"{{:.{digits}f}}"
    s["cell"] = [fmt.format(m) + f" [{fmt.format(lo)}, {fmt.format(hi)}]" if np.isfinite(m)
                 else "-" for m, lo, hi in zip(s["mean"], s["ci_low"], s["ci_high"])]
    text = s.pivot_table(index=list(index), columns="measure", values="cell", aggfunc="first")
    text = text[[c for c in CONVERGENCE if c in text.columns]]
    text["fits"] = s.groupby(list(index))["n"].max()
    return text
