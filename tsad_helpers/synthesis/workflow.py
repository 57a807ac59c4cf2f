"""Generic steps of fitting generators on labelled windows: cut the windows of a labelled
series into a training part and a held-out part, fit every generator of a settings dict
(conditional on the label, or one per class), draw samples in the real class proportions, save
and load them, and plot their loss curves and examples.

The labelled series is a dataset's test split (the only part with labels); its first
``train_share`` is the *training part* on which generators are fitted, the rest is held-out
real data. A window is anomalous (label 1) when any of its points is labelled.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

from ..preprocessing import window_starts
from ..results import atomic_path, save_figure
from . import make
from .base import CLASS_NAMES


def keeps_loss_log(name: str) -> bool:
    """Whether generator ``name`` trains by epochs and logs its losses (``loss_log``): the
    neural ones, fitted one per class with ``separate``."""
    return "loss_log" in make(name).get_params()


def labelled_windows(ds, window: int, stride: int, train_share: float):
    """Windows of ``ds.test`` cut at ``stride``: (train_x [N, L, C], train_y [N],
    holdout_x, holdout_y) split at ``train_share`` of the series (no window crosses it)."""
    if not 0 < train_share < 1:
        raise ValueError(f"train_share must be in (0, 1), got {train_share}")
    x, y = np.asarray(ds.test, dtype=np.float32), np.asarray(ds.test_labels)
    cut = int(len(x) * train_share)
    out = []
    for part_x, part_y in ((x[:cut], y[:cut]), (x[cut:], y[cut:])):
        if len(part_x) < window:
            raise ValueError(f"{ds.name}/{ds.entity}: a part of {len(part_x)} points is shorter "
                             f"than window={window}")
        starts = window_starts(len(part_x), window, stride)
        idx = starts[:, None] + np.arange(window)[None, :]
        out += [part_x[idx], part_y[idx].max(axis=1).astype(np.int64)]
    if out[1].sum() == 0:
        raise ValueError(f"{ds.name}/{ds.entity}: no anomalous window in the first "
                         f"{train_share:.0%} of the labelled series")
    return tuple(out)


class PerClass:
    """One unconditional generator per class (the "separate" way of fitting), with the
    ``sample(n, label)`` and ``history_`` (phases prefixed by the class) of one generator."""

    def __init__(self, generators: dict):
        self.generators = generators
        self.history_ = [{**row, "phase": f"class {c}: {row['phase']}"}
                         for c, g in generators.items() for row in getattr(g, "history_", [])]

    def sample(self, n: int, label: int):
        return self.generators[label].sample(n)


def fit_generators(x, y, settings: dict, seed: int, loss_dir=None, separate: bool = False):
    """Fit every generator of ``settings`` ({name: params}) on (x, y): conditional on the
    label, or with ``separate=True`` one generator per class for the neural ones (injection,
    SMOTE and oversampling work per class anyway). Returns ({name: fitted generator},
    DataFrame of fit seconds)."""
    fitted, rows = {}, []
    for name, params in settings.items():
        params, neural = {**params, "random_state": seed}, keeps_loss_log(name)
        log = Path(loss_dir) / f"{name}_seed{seed}" if loss_dir is not None else None
        start = time.perf_counter()
        if separate and neural:
            fitted[name] = PerClass({
                int(c): make(name, **params, loss_log=None if log is None
                             else f"{log}_class{int(c)}.csv").fit(x[y == c])
                for c in np.unique(y)})
        else:
            if log is not None and neural:
                params["loss_log"] = f"{log}.csv"
            fitted[name] = make(name, **params).fit(x, y)
        rows.append({"generator": name, "fit_seconds": time.perf_counter() - start})
    return fitted, pd.DataFrame(rows)


def sample_like(fitted: dict, y, ratio: float = 1.0) -> dict:
    """For each generator, ``ratio`` x as many windows per class as the real training part
    has (injection: anomalous only). Returns {name: (windows, labels)}."""
    out = {}
    counts = {int(c): int((y == c).sum()) for c in np.unique(y)}
    for name, gen in fitted.items():
        classes = [1] if name == "injection" else sorted(counts)
        xs, ys = [], []
        for c in classes:
            n = int(round(counts[c] * ratio))
            xs.append(gen.sample(n, label=c))
            ys.append(np.full(n, c, dtype=np.int64))
        out[name] = (np.concatenate(xs), np.concatenate(ys))
    return out


def plot_losses(fitted: dict, path) -> Path:
    """Loss curves of the neural generators: one panel each, every logged loss per epoch,
    training phases one after another (dashed lines between them). ``fitted``: {name: a
    fitted generator, or its ``history_`` list}; those without a history are left out."""
    import matplotlib.pyplot as plt

    histories = {k: g if isinstance(g, list) else getattr(g, "history_", None)
                 for k, g in fitted.items()}
    neural = {k: h for k, h in histories.items() if h}
    if not neural:
        raise ValueError("plot_losses: no generator with a loss history")
    fig, axes = plt.subplots(1, len(neural), figsize=(4.6 * len(neural), 3.4), squeeze=False)
    for ax, (name, history) in zip(axes[0], neural.items()):
        hist = pd.DataFrame(history)
        step = np.arange(len(hist))
        for col in [c for c in hist.columns if c not in ("phase", "epoch")]:
            values = hist[col].to_numpy(float)
            if np.isfinite(values).any():
                ax.plot(step, values, marker="." if len(hist) < 30 else None, label=col)
        for b in np.flatnonzero(hist["phase"].to_numpy()[1:] != hist["phase"].to_numpy()[:-1]):
            ax.axvline(b + 0.5, color="grey", ls="--", lw=0.8)
        ax.set_yscale("symlog", linthresh=1e-3)
        ax.set_title(f"{name} ({' / '.join(dict.fromkeys(hist['phase']))})")
        ax.set_xlabel("epoch (all phases)")
        ax.legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_examples(x, y, synthetic: dict, path, label: int = 1, n: int = 3,
                  channels: int = 3, seed: int = 0) -> Path:
    """``n`` real windows of class ``label`` (top row) and ``n`` windows of each generator
    (one row each), first ``channels`` channels, same axes per column."""
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(seed)
    rows = [("real", x[y == label])] + [(k, sx[sy == label])
                                        for k, (sx, sy) in synthetic.items()]
    rows = [(k, w) for k, w in rows if len(w)]
    fig, axes = plt.subplots(len(rows), n, figsize=(3.2 * n, 1.6 * len(rows)), sharex=True,
                             sharey="col", squeeze=False)
    for r, (name, w) in enumerate(rows):
        pick = w[rng.choice(len(w), size=min(n, len(w)), replace=False)]
        for j in range(n):
            ax = axes[r, j]
            if j < len(pick):
                ax.plot(pick[j][:, :channels], lw=1)
            if j == 0:
                ax.set_ylabel(name, fontsize=8)
    fig.suptitle(f"{CLASS_NAMES.get(label, label)} windows: real (top) and synthetic",
                 fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)


def save_synthetic(synthetic: dict, path, **meta) -> Path:
    """Every generator's windows and labels in one ``.npz`` (keys ``<name>__x``,
    ``<name>__y``, plus ``meta`` values), written atomically."""
    arrays = {}
    for name, (sx, sy) in synthetic.items():
        arrays[f"{name}__x"], arrays[f"{name}__y"] = sx, sy
    arrays.update({f"meta__{k}": np.asarray(v) for k, v in meta.items()})
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)
    return Path(path)


def load_synthetic(path) -> dict:
    """The windows written by :func:`save_synthetic`: {name: (windows, labels)}."""
    with np.load(path) as data:
        names = sorted({k.split("__")[0] for k in data.files if not k.startswith("meta__")})
        return {k: (data[f"{k}__x"], data[f"{k}__y"]) for k in names}
