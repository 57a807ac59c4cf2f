"""The central study (notebook 03): does synthetic data improve detection, under
cross-validation that respects time?

One *task* is (dataset, entity, scheme, fold, seed); it returns one row per *run* (arm, ratio,
detector, threshold) of that fold. The design:

- **Development and held-out future.** The labelled series of an entity (its test split) is
  cut at about ``share`` (70 %) into a development part and a held-out future part that no CV
  touches; the cut never falls inside an event and both parts hold at least one whole event
  (:func:`development_cut`; entities where that is impossible raise :class:`NoDevelopmentCut`
  and are listed by :func:`plan`).
- **CV schemes over the development part** (:func:`folds`): ``kfold`` and
  ``stratified_kfold`` shuffle the windows (cut every ``stride`` points) into folds (the leaky
  schemes of the study we reproduce: overlapping neighbours of a validation window train the
  model); ``time_series_split`` (scikit-learn's ``TimeSeriesSplit``) and
  ``rolling_stratified`` (:class:`~tsad_helpers.cv.RollingWindowStratifiedSplit`, whole events,
  one or more per validation block) use contiguous blocks with a gap of ``window - 1`` points.
  Fold ``-1`` of the pseudo-scheme ``final`` refits on the whole development part and is judged
  on the held-out future.
- **Inside a training fold**, the windows are split once more in time: the first
  ``1 - inner_validation`` (by position) are trained on (the *fit* windows), the windows that
  start after them are the *inner validation* (early stopping, label-free thresholds); no
  fit window overlaps them. Scalers are fitted on the points of the fit windows; generators on
  the fit windows (both classes, the label as condition); nothing sees the validation fold.
- **Arms** (what is added to the fit windows): ``none``; ``class_weight`` (the classifier
  weighs classes "balanced"); ``oversample``, ``smote``, ``injection``, ``vae``, ``wgan_gp``,
  ``timegan`` add ``ratio x |fit windows|`` synthetic *anomalous* windows (ratios of the
  profile, plus ``balance``: as many as make the classes equal). A generator is fitted once per
  fold and sampled once; smaller ratios take the first windows of that sample.
- **Detectors**: ``window_classifier`` is trained once per (arm, ratio) and judged at its
  probability 0.5 (``threshold_rule="probability"``). The unsupervised detectors (``pca``,
  ``iforest``, ``lstm_ae``, ``transformer_ae_gan``, ``random``) never learn from anomalous
  windows, so adding synthetic anomalies cannot change what they learn: each is fitted once
  per fold, and an arm changes only its *calibrated* threshold
  (:func:`tsad_helpers.thresholds.calibrated` between the inner-validation normal windows and
  the real anomalous fit windows plus the arm's synthetic ones, tuned for the real share of
  anomalous fit windows, not the share the ratio implies); ``threshold_rule="label_free"``
  is the 0.99-quantile of the inner-validation normal windows' scores (the rows of arm
  ``none``).
- **Per run**: every metric of :func:`tsad_helpers.metrics.evaluate` on the validation fold
  (the points its windows cover: the whole block for block schemes) or on the held-out future;
  convergence of the Keras models (epochs run, epoch and seconds of the best validation loss,
  convergence efficiency = validation-loss decrease per epoch up to it, train/validation gap
  there); generator fit seconds, the synthetic windows' diversity relative to the real
  anomalous windows and a ``collapsed`` flag (diversity < 10 %: samples nearly identical).

Tasks run on :mod:`tsad_helpers.grid` (Dask); the driver alone writes the tidy table, after
each task, atomically, and skips finished tasks when restarted (:func:`run`). Its floats keep
``TABLE_DIGITS`` significant digits (:func:`compact`): a third smaller than full precision.
"""

from __future__ import annotations

import os
import time
import uuid
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import pandas as pd

from . import detectors, events, metrics, profiles, thresholds
from .detectors.base import window_labels
from .preprocessing import window_starts
from .results import loss_dir, save_table

SCHEMES = ("kfold", "stratified_kfold", "time_series_split", "rolling_stratified")
TIME_RESPECTING = ("time_series_split", "rolling_stratified")
FINAL = "final"
ARMS = ("none", "class_weight", "oversample", "smote", "injection", "vae", "wgan_gp",
        "doppelganger", "timegan")
GENERATOR_ARMS = ARMS[2:]
SUPERVISED = ("window_classifier",)
UNSUPERVISED = ("pca", "iforest", "lstm_ae", "transformer_ae_gan", "arima", "garch",
                "random")
KEY = ("dataset", "entity", "scheme", "fold", "seed")
RUN = KEY + ("arm", "ratio", "detector", "threshold_rule")
COLLAPSE_DIVERSITY = 0.1
TABLE_DIGITS = 10  # significant digits of the table's floats (metrics are printed with 3)
# the runs table in a results folder, gzip-compressed (the paper profile's is ~20 MB as text)
TABLE = "03_cv_runs.csv.gz"
# a second, smaller grid of a profile (``settings["cv_supplement"]``): systems added after the
# main table was run, in a table of their own (adding them to the main grid would change its
# settings, so it could not be continued)
SUPPLEMENT = "supplement"


class NoDevelopmentCut(ValueError):
    """The labels of an entity leave no cut with whole events on both sides."""


# ---- the split of a labelled series ------------------------------------------------------------
def development_cut(labels, share: float = 0.7, slack: float = 0.15, window: int = 1) -> int:
    """The index that ends the development part: the position nearest ``share`` of the series,
    within ``share +- slack``, that is not inside an event and leaves at least one whole event
    and ``2 * window`` points on each side. Raises :class:`NoDevelopmentCut` saying why."""
    y = np.asarray(labels)
    n = len(y)
    seg = events.segments(y)
    if len(seg) < 2:
        raise NoDevelopmentCut(f"{len(seg)} event(s): both parts need a whole event")
    p = np.arange(n + 1)
    inside = np.zeros(n + 1, dtype=bool)
    for start, end in seg:
        inside[start + 1:end] = True
    before = np.searchsorted(np.sort(seg[:, 1]), p, side="right")  # events ending <= p
    after = len(seg) - np.searchsorted(np.sort(seg[:, 0]), p, side="left")  # starting >= p
    ok = (~inside & (before >= 1) & (after >= 1) & (p >= 2 * window) & (n - p >= 2 * window)
          & (np.abs(p - share * n) <= slack * n))
    if not ok.any():
        raise NoDevelopmentCut(f"no cut within {share - slack:.0%}-{share + slack:.0%} of "
                               f"{n} points leaves a whole event on both sides "
                               f"({len(seg)} events)")
    candidates = p[ok]
    return int(candidates[np.argmin(np.abs(candidates - share * n))])


def folds(scheme: str, y_dev, window: int, stride: int, n_splits: int, seed: int) -> list:
    """[(train_starts, val_starts)] of ``scheme`` over a development part with point labels
    ``y_dev``: window start positions. Shuffled schemes: windows every ``stride`` points dealt
    into folds; block schemes: training windows (every ``stride``) that end before the gap,
    validation windows of stride 1 covering the block."""
    from sklearn.model_selection import KFold, StratifiedKFold, TimeSeriesSplit

    from .cv import RollingWindowStratifiedSplit

    y = np.asarray(y_dev)
    n = len(y)
    starts = window_starts(n, window, stride)
    if scheme in ("kfold", "stratified_kfold"):
        labels = window_labels(y, n, window, stride)
        if scheme == "kfold":
            split = KFold(n_splits, shuffle=True, random_state=seed).split(starts)
        else:
            if labels.sum() < n_splits:
                raise ValueError(f"stratified_kfold: {int(labels.sum())} anomalous windows "
                                 f"for {n_splits} folds")
            split = StratifiedKFold(n_splits, shuffle=True, random_state=seed).split(starts,
                                                                                     labels)
        return [(starts[tr], starts[va]) for tr, va in split]
    gap = window - 1
    if scheme == "time_series_split":
        blocks = TimeSeriesSplit(n_splits, gap=gap).split(np.zeros(n))
    elif scheme == "rolling_stratified":
        blocks = RollingWindowStratifiedSplit(n_splits, gap=gap, min_events=1).split(None, y)
    else:
        raise ValueError(f"unknown CV scheme {scheme!r}; known: {', '.join(SCHEMES)}")
    out = []
    for train, val in blocks:
        if len(val) < window:
            raise ValueError(f"{scheme}: a validation block of {len(val)} points is shorter "
                             f"than window={window}")
        tr = starts[(starts >= train[0]) & (starts + window <= train[-1] + 1)]
        out.append((tr, np.arange(val[0], val[-1] + 2 - window)))
    return out


def inner_split(starts: np.ndarray, window: int, share: float):
    """(fit_starts, inner_validation_starts): the training windows before and after the
    position that leaves ``share`` of them for validation; no fit window reaches into the
    validation windows."""
    starts = np.sort(starts)
    cut = starts[int(round(len(starts) * (1 - share)))] if share > 0 else starts[-1] + window
    return starts[starts + window <= cut], starts[starts >= cut]


def _windows(x: np.ndarray, starts: np.ndarray, window: int) -> np.ndarray:
    return x[starts[:, None] + np.arange(window)[None, :]]


# ---- one fold ----------------------------------------------------------------------------------
def load_entity(dataset: str, entity: str, settings: dict):
    """(development series, labels, held-out series, labels, cut) of one entity."""
    from . import datasets

    ds = datasets.load(dataset, entity, **profiles.dataset_options(settings, dataset))
    x, y = np.asarray(ds.test, dtype=np.float64), np.asarray(ds.test_labels, dtype=np.int64)
    cut = development_cut(y, settings["cv"]["share"], window=settings["window"])
    return x[:cut], y[:cut], x[cut:], y[cut:], cut


def run_fold(dataset: str, entity: str, scheme: str, fold: int, seed: int, profile: str,
             loss_root=None, settings: dict | None = None, scores_root=None) -> list[dict]:
    """Every run of one fold (``scheme=FINAL``, ``fold=-1``: the refit on the whole
    development part, judged on the held-out future): a list of row dicts. Importable by
    grid workers. loss_root: folder of the loss logs (default ``loss/<profile>/03_cv``):
    one CSV per task, ``<dataset>/<entity>/<scheme>_fold<k>_seed<s>.csv``, every model's
    losses per epoch with a ``model`` column (:func:`merge_loss_logs`). scores_root: where
    the held-out refit keeps its scores (:func:`save_scores`; None: not kept)."""
    started = time.perf_counter()
    settings = settings or profiles.get(profile)
    cv = settings["cv"]
    window = settings["window"]
    x_dev, y_dev, x_out, y_out, _ = load_entity(dataset, entity, settings)
    stride = cv["stride"].get(dataset, cv["stride"]["default"])
    if scheme == FINAL:
        train = window_starts(len(x_dev), window, stride)
        series, val_labels, val = x_out, y_out, None
    else:
        train, val = folds(scheme, y_dev, window, stride, cv["n_splits"], seed)[fold]
        series, val_labels = x_dev, y_dev
    fit, inner = inner_split(train, window, cv["inner_validation"])
    base = {"dataset": dataset, "entity": entity, "scheme": scheme, "fold": fold, "seed": seed}
    root = Path(loss_root) if loss_root else loss_dir(profile, "03_cv")
    target = root / dataset / entity / f"{scheme}_fold{fold}_seed{seed}.csv"
    # one CSV per model while the task runs; a folder of its own, so that a second run of the
    # same task (a second driver, a retried task) cannot merge or delete this one's logs
    logs = target.parent / f".{target.stem}.{os.getpid()}-{uuid.uuid4().hex[:8]}.parts"
    data = _FoldData(x_dev, y_dev, fit, inner, window, series, val_labels, val)
    if scheme == FINAL and scores_root is not None:
        data.keep()
    cv = {**cv, "arms": arms_for(cv, dataset, entity, scheme)}
    synthetic = _synthetic(data, cv, settings, seed, logs)
    rows = []
    for name in cv["detectors"]:
        params = {**settings["detectors"].get(name, {}), **cv.get("detector_params", {})
                  .get(name, {})}
        if "window" in params:  # one window length for every detector of the study
            params["window"] = window
        runner = _supervised if name in SUPERVISED else _unsupervised
        rows += runner(name, params, data, synthetic, cv, seed, logs, settings)
    merge_loss_logs(logs, target)
    if data.kept is not None:
        save_scores(scores_path(scores_root, dataset, entity, seed), data.labels, data.kept)
    base["task_seconds"] = time.perf_counter() - started
    return [{**base, **row} for row in rows]


class _FoldData:
    """The windows of one fold: fit, inner validation (with labels), and what is judged.
    Windows are cut at the fold's start positions for the profile's window, or for a
    detector's own window length (the random baseline scores single points)."""

    def __init__(self, x_dev, y_dev, fit, inner, window, series, series_labels, val_starts):
        if not len(fit) or not len(inner):
            raise ValueError(f"a training fold of {len(fit) + len(inner)} windows is too "
                             "small to split into fit and inner-validation windows")
        self.x_dev, self.y_dev, self.starts, self.window = x_dev, y_dev, (fit, inner), window
        self.fit_x, self.fit_y = self.windows(0, window)
        self.inner_x, self.inner_y = self.windows(1, window)
        covered = np.unique((fit[:, None] + np.arange(window)).ravel())
        self.scale_on = x_dev[covered]  # the points of the fit windows
        self.series, self.labels, self.val_starts = series, series_labels, val_starts
        self.kept = None  # {"scores": {model: scores}, "runs": [...], ...} when keeping them

    def windows(self, part: int, length: int):
        """(windows [N, length, C], labels [N]) of the fit (0) or inner-validation (1) part."""
        starts = self.starts[part]
        if length != self.window:  # the points of the profile's windows, cut anew
            starts = _starts_within(starts, self.window, length)
        return (_windows(self.x_dev, starts, length),
                _windows(self.y_dev, starts, length).max(axis=1).astype(np.int64))

    def judge(self, det, threshold: float, vus_window: int, run: dict | None = None) -> dict:
        """Metrics of ``det`` on the validation fold (or the held-out future); the scores of
        a fitted detector are computed once and reused for its other thresholds. With
        :meth:`keep` on, the scores (once per fitted model) and ``run`` (detector, arm,
        ratio, threshold rule, model) with its threshold are kept for :func:`save_scores`."""
        if getattr(self, "_scored", (None,))[0] is not det:
            self._scored = (det, *self._scores(det))
        _, scores, labels = self._scored
        if self.kept is not None and run is not None:
            self.kept["scores"].setdefault(run["model"], scores)
            self.kept["runs"].append({**run, "threshold": float(threshold)})
        out = metrics.evaluate(scores, labels, threshold, vus_window=min(vus_window,
                                                                         len(labels) // 4))
        out.pop("pa_k_f1")  # the curve (101 values); its area pa_k_auc is kept
        out.update(val_points=len(labels), val_anomalous_points=int(labels.sum()),
                   val_events=len(events.segments(labels)))
        return out

    def keep(self) -> None:
        """Keep every judged model's scores from now on (the held-out refit: notebooks 05
        and 06 draw curves, confusion matrices and failures from them)."""
        self.kept = {"scores": {}, "runs": [], "sources": {}}

    def _scores(self, det):
        if self.val_starts is None:
            return det.decision_function(self.series), self.labels
        starts = self.val_starts if det.window == self.window else _starts_within(
            self.val_starts, self.window, det.window)
        scores = det.score_points(self.series, starts)
        keep = np.isfinite(scores)
        return scores[keep], self.labels[keep]


def _starts_within(starts: np.ndarray, window: int, length: int) -> np.ndarray:
    """Starts of the windows of ``length`` lying inside the points that windows of ``window``
    at ``starts`` cover."""
    covered = np.zeros(starts.max() + window + 1, dtype=np.int64)
    covered[np.unique((starts[:, None] + np.arange(window)).ravel())] = 1
    run = np.concatenate([[0], np.cumsum(covered)])
    cand = np.arange(len(covered) - length + 1)
    return cand[run[cand + length] - run[cand] == length]


def arms_for(cv: dict, dataset: str, entity: str, scheme: str | None = None) -> list:
    """The arms run on an entity (and scheme): all of the profile's, except an arm that
    ``arm_entities`` ({arm: {dataset: [entities]}}) or ``arm_schemes`` ({arm: [schemes]})
    limits to other entities or schemes (for the costliest generators)."""
    limits, schemes = cv.get("arm_entities", {}), cv.get("arm_schemes", {})
    return [a for a in cv["arms"]
            if (a not in limits or entity in limits[a].get(dataset, [entity]))
            and (scheme is None or a not in schemes or scheme in schemes[a])]


# quantiles of a detector's normal inner-validation scores kept with the held-out scores: the
# label-free threshold is one of them (0.99), the others show what another quantile would do
SOURCE_QUANTILES = np.concatenate([np.linspace(0.5, 0.98, 25), np.linspace(0.99, 1.0, 11)])
SCORES_DIR = "03_cv_scores"


def scores_path(root, dataset: str, entity: str, seed: int) -> Path:
    """The held-out scores of one (dataset, entity, seed): ``<root>/<dataset>/<entity>/
    final_seed<s>.npz`` (a '/' in an entity name becomes '__')."""
    return Path(root) / dataset / str(entity).replace("/", "__") / f"{FINAL}_seed{seed}.npz"


def save_scores(path, labels, kept: dict) -> Path:
    """Write the held-out refit's scores (compressed, atomically): ``labels`` int8[T],
    ``score:<model>`` float32[T] per fitted model, ``source:<detector>`` the quantiles
    ``source_quantiles`` of its normal inner-validation scores (unsupervised detectors), and
    ``runs``, JSON: one entry per judged run (detector, arm, ratio, threshold_rule, model,
    threshold)."""
    import json

    from .results import atomic_path

    arrays = {"labels": np.asarray(labels, dtype=np.int8),
              "source_quantiles": SOURCE_QUANTILES,
              "runs": np.array(json.dumps(kept["runs"]))}
    arrays.update({f"score:{m}": np.asarray(v, dtype=np.float32)
                   for m, v in kept["scores"].items()})
    arrays.update({f"source:{d}": np.asarray(v, dtype=np.float64)
                   for d, v in kept["sources"].items()})
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(fh, **arrays)
    return Path(path)


def load_scores(path) -> dict:
    """:func:`save_scores`' file as {"labels", "scores": {model: float32[T]}, "sources":
    {detector: quantiles}, "source_quantiles", "runs": DataFrame}; a file of another layout
    is an error naming it."""
    import json

    try:
        with np.load(path, allow_pickle=False) as z:
            files = dict(z.items())
        runs = pd.DataFrame(json.loads(str(files.pop("runs"))))
        out = {"labels": files.pop("labels"), "source_quantiles": files.pop("source_quantiles"),
               "runs": runs}
    except (OSError, ValueError, KeyError) as exc:
        raise ValueError(f"{path}: not a held-out scores file ({exc})") from None
    out["scores"] = {k[len("score:"):]: v for k, v in files.items() if k.startswith("score:")}
    out["sources"] = {k[len("source:"):]: v for k, v in files.items() if k.startswith("source:")}
    missing = set(runs["model"]) - set(out["scores"]) if len(runs) else set()
    if missing:
        raise ValueError(f"{path}: runs without scores: {sorted(missing)}")
    return out


def merge_loss_logs(parts: Path, target: Path) -> Path | None:
    """The per-model loss logs of one task (``parts/<model>.csv``) as one long CSV with a
    ``model`` column (e.g. ``window_classifier_vae_rbalance``, ``generator_timegan``),
    written atomically; the parts are removed."""
    import shutil

    files = sorted(Path(parts).glob("*.csv"))
    if not files:
        shutil.rmtree(parts, ignore_errors=True)
        return None
    frames = [pd.read_csv(f).assign(model=f.stem) for f in files]
    table = pd.concat(frames, ignore_index=True)
    save_table(table[["model"] + [c for c in table.columns if c != "model"]], target,
               index=False)
    shutil.rmtree(parts, ignore_errors=True)
    return target


def _synthetic(data: _FoldData, cv: dict, settings: dict, seed: int, logs: Path) -> dict:
    """{arm: {"windows": [n_max, L, C] anomalous windows, "ratios": {label: n}, info...}} for
    every generator arm of the profile (fitted on the fit windows), or {"error": reason}."""
    from . import synthesis
    from .synthesis.workflow import keeps_loss_log

    n_fit = len(data.fit_x)
    n1 = int(data.fit_y.sum())
    counts = {f"{r:g}": int(round(r * n_fit)) for r in cv["ratios"]}
    if n_fit - 2 * n1 > 0:
        counts["balance"] = n_fit - 2 * n1
    out = {}
    for arm in cv["arms"]:
        if arm not in GENERATOR_ARMS:
            continue
        if not counts:
            out[arm] = {"error": f"{arm}: no ratio to run (anomalous windows are already half "
                                 "of the fit windows or more)"}
            continue
        needed = 0 if arm == "injection" else 2 if arm == "smote" else 1
        if n1 < needed:  # known before fitting: do not spend the fit
            out[arm] = {"error": f"{arm}: {n1} anomalous fit window(s); it needs {needed} to "
                                 "learn the anomalous class from"}
            continue
        params = {**settings["synthesis"]["generators"].get(arm, {}),
                  **cv.get("generator_params", {}).get(arm, {}), "random_state": seed}
        if keeps_loss_log(arm):  # the neural generators
            params["loss_log"] = str(logs / f"generator_{arm}.csv")
        start = time.perf_counter()
        try:
            gen = synthesis.make(arm, **params).fit(data.fit_x, data.fit_y)
            fit_seconds = time.perf_counter() - start
            windows = gen.sample(max(counts.values()), label=1) if counts else None
        except ValueError as exc:  # e.g. no or too few anomalous fit windows
            out[arm] = {"error": f"{arm}: {exc}"}
            continue
        out[arm] = {"windows": windows, "counts": counts, "generator_seconds": fit_seconds,
                    **_diversity(windows, data.fit_x[data.fit_y == 1])}
    return {"arms": out, "counts": counts}


def _diversity(synthetic: np.ndarray, real: np.ndarray) -> dict:
    """Spread of the synthetic windows (mean per-entry standard deviation across windows)
    over that of the real anomalous windows; ``collapsed`` when under 10 %."""
    if synthetic is None or len(synthetic) < 2 or len(real) < 2:
        return {"diversity": np.nan, "collapsed": False}
    ratio = float(synthetic.std(axis=0).mean() / max(real.std(axis=0).mean(), 1e-12))
    return {"diversity": ratio, "collapsed": ratio < COLLAPSE_DIVERSITY}


def _arm_runs(arms: list, synthetic: dict):
    """(arm, ratio label, synthetic windows or None, info) for every run of the arms."""
    for arm in arms:
        if arm in ("none", "class_weight"):
            yield arm, "0", None, {}
            continue
        entry = synthetic["arms"][arm]
        if "error" in entry:
            yield arm, "-", None, {"status": entry["error"]}
            continue
        info = {k: entry[k] for k in ("generator_seconds", "diversity", "collapsed")}
        for label, n in entry["counts"].items():
            yield arm, label, entry["windows"][:n], {**info, "n_synthetic": n}


def _make(name: str, params: dict, seed: int, log: Path):
    det = detectors.make(name, **params)
    p = det.get_params()
    if "random_state" in p:
        det.set_params(random_state=seed)
    if "loss_log" in p:
        det.set_params(loss_log=str(log))
    if "verbose" in p:
        det.set_params(verbose=0)
    return det


def _fit(det, x, y, data: _FoldData, inner=None):
    start = time.perf_counter()
    validation = (inner or (data.inner_x, data.inner_y)) if det.uses_validation else None
    det.fit_windows(x, y, validation=validation, scale_on=data.scale_on)
    return time.perf_counter() - start


def _supervised(name, params, data, synthetic, cv, seed, logs, settings) -> list[dict]:
    rows = []
    vus = settings["evaluate"]["vus_window"]
    for arm, ratio, extra, info in _arm_runs(cv["arms"], synthetic):
        row = {"arm": arm, "ratio": ratio, "detector": name, "threshold_rule": "probability",
               "n_fit_windows": len(data.fit_x), "n_fit_anomalous": int(data.fit_y.sum()),
               **info}
        if "status" in info:
            rows.append(row)
            continue
        x, y = data.fit_x, data.fit_y
        if extra is not None:
            x = np.concatenate([x, extra])
            y = np.concatenate([y, np.ones(len(extra), dtype=np.int64)])
        det = _make(name, {**params, "class_weight": "balanced" if arm == "class_weight"
                           else None}, seed, logs / f"{name}_{arm}_r{ratio}.csv")
        try:
            row["fit_seconds"] = _fit(det, x, y, data)
        except ValueError as exc:  # one class only in the fit windows
            rows.append({**row, "status": f"{name}: {exc}"})
            continue
        run = {"detector": name, "arm": arm, "ratio": ratio, "threshold_rule": "probability",
               "model": f"{name}_{arm}_r{ratio}"}
        rows.append({**row, "status": "ok", **convergence(det),
                     **data.judge(det, 0.5, vus, run)})
    return rows


def _unsupervised(name, params, data, synthetic, cv, seed, logs, settings) -> list[dict]:
    vus = settings["evaluate"]["vus_window"]
    det = _make(name, params, seed, logs / f"{name}.csv")
    fit_x, fit_y = data.windows(0, det.window)
    inner_x, inner_y = data.windows(1, det.window)
    # anomalous fit windows are set aside by the detector (never learned from)
    try:
        fit_seconds = _fit(det, fit_x, fit_y, data, (inner_x, inner_y))
    except ValueError as exc:  # a fold it cannot fit (a statistical model's short series)
        return [{"arm": "none", "ratio": "0", "threshold_rule": "label_free", "detector": name,
                 "n_fit_windows": len(fit_x), "status": f"{name}: {exc}"}]
    normal = det.score_windows(inner_x[inner_y == 0])
    real_anomalous = fit_x[fit_y == 1]
    real_scores = det.score_windows(real_anomalous) if len(real_anomalous) else np.zeros(0)
    common = {"detector": name, "n_fit_windows": len(fit_x),
              "n_fit_anomalous": len(real_anomalous), "fit_seconds": fit_seconds,
              **convergence(det)}
    free = thresholds.quantile(normal, settings["evaluate"]["threshold"].get("q", 0.99))
    if data.kept is not None:  # what the label-free threshold is a quantile of
        data.kept["sources"][name] = np.quantile(normal, SOURCE_QUANTILES)
    run = {"detector": name, "model": name}
    # the share of anomalous windows the threshold is tuned for: the real one of the fit
    # windows (not the synthetic share an arm's ratio would imply)
    prior = min(max(len(real_anomalous), 1) / len(fit_x), 0.5)
    rows = [{"arm": "none", "ratio": "0", "threshold_rule": "label_free", "status": "ok", **common,
             **data.judge(det, free, vus, {**run, "arm": "none", "ratio": "0",
                                           "threshold_rule": "label_free"})}]
    if det.window != data.window:  # synthetic windows have the profile's length
        return rows
    for arm, ratio, extra, info in _arm_runs([a for a in cv["arms"] if a != "class_weight"],
                                             synthetic):
        row = {"arm": arm, "ratio": ratio, "threshold_rule": "calibrated", **common, **info}
        anomalous = real_scores if extra is None else np.concatenate(
            [real_scores, det.score_windows(extra)])
        if "status" in info or not len(anomalous):
            rows.append({**row, "status": info.get("status", "no anomalous window to "
                                                   "calibrate on")})
            continue
        thr = thresholds.calibrated(normal, anomalous, prior=prior)
        rows.append({**row, "status": "ok",
                     **data.judge(det, thr, vus, {**run, "arm": arm, "ratio": ratio,
                                                  "threshold_rule": "calibrated"})})
    return rows


def convergence(det) -> dict:
    """Epochs run, the epoch (1-based) and seconds of the lowest validation loss, the
    validation-loss decrease per epoch up to it, and the validation minus training loss there
    (empty for models without a training history)."""
    hist = getattr(det, "history_", None)
    if not hist:
        return {}
    key = "rec_loss" if "val_rec_loss" in hist else "loss"
    val, train = np.asarray(hist.get(f"val_{key}", [])), np.asarray(hist.get(key, []))
    if not len(val) or not np.isfinite(val).any():
        return {"epochs_run": det.epochs_run_}
    best = int(np.nanargmin(val))
    seconds = getattr(det, "epoch_seconds_", [])
    return {"epochs_run": det.epochs_run_, "best_epoch": best + 1,
            "seconds_to_best": seconds[best] if len(seconds) > best else np.nan,
            "convergence_efficiency": float((val[0] - val[best]) / (best + 1)),
            "train_val_gap": float(val[best] - train[best]) if len(train) > best else np.nan,
            "best_val_loss": float(val[best])}


# ---- the grid ----------------------------------------------------------------------------------
def plan(settings: dict, data_dir=None) -> tuple[list[tuple], pd.DataFrame]:
    """(tasks, skipped): every (dataset, entity, scheme, fold, seed) of the profile, seed by
    seed (so a partial run covers every entity at the first seed first), and the entities (or
    schemes of an entity) that cannot be run, with the reason."""
    from . import datasets

    cv = settings["cv"]
    found, skipped = [], []
    for name in cv["datasets"]:
        try:
            entities = datasets.entities(name, root=data_dir)
        except (FileNotFoundError, ValueError) as exc:
            skipped.append({"dataset": name, "entity": "*", "scheme": "*", "reason": str(exc)})
            continue
        limit = cv.get("max_entities", {}).get(name)  # entities with a valid cut
        for entity in entities:
            if limit is not None and sum(f[0] == name for f in found) >= limit:
                break
            schemes, reasons = _entity_folds(name, entity, settings, data_dir)
            if schemes is not None:
                found.append((name, entity, schemes))
                skipped += [{"dataset": name, "entity": entity, "scheme": "*",
                             "reason": f"arm {a} not run on this entity (profile's "
                                       "arm_entities)"}
                            for a in cv["arms"] if a not in arms_for(cv, name, entity)]
            skipped += reasons
    tasks = [(name, entity, scheme, fold, seed) for seed in cv.get("seeds", settings["seeds"])
             for name, entity, schemes in found
             for scheme, n in [(FINAL, None)] + list(schemes.items())
             for fold in ([-1] if n is None else range(n))]
    return tasks, pd.DataFrame(skipped, columns=["dataset", "entity", "scheme", "reason"])


def _entity_folds(name, entity, settings, data_dir):
    """({scheme: number of folds} or None when the entity has no valid cut, [skip reasons])."""
    from . import datasets

    cv, window = settings["cv"], settings["window"]
    ds = datasets.load(name, entity, root=data_dir, **profiles.dataset_options(settings, name))
    y = np.asarray(ds.test_labels, dtype=np.int64)
    try:
        cut = development_cut(y, cv["share"], window=window)
    except NoDevelopmentCut as exc:
        return None, [{"dataset": name, "entity": entity, "scheme": "*", "reason": str(exc)}]
    stride = cv["stride"].get(name, cv["stride"]["default"])
    schemes, skipped = {}, []
    for scheme in cv["schemes"]:
        try:  # fold counts do not depend on the seed (only which windows go where)
            schemes[scheme] = len(folds(scheme, y[:cut], window, stride, cv["n_splits"], 0))
        except ValueError as exc:
            skipped.append({"dataset": name, "entity": entity, "scheme": scheme,
                            "reason": str(exc)})
    return schemes, skipped


def run(settings: dict, profile: str, table_path, data_dir=None, scheduler=None,
        workers=None, loss_root=None, serial: bool = False, progress=None,
        scores_root=None) -> pd.DataFrame:
    """Run every task of the profile not yet in ``table_path`` (CSV, gzip-compressed if its
    name ends in ``.gz``) and return the whole table. Tasks run on a Dask cluster
    (``scheduler`` address, else a LocalCluster of ``workers`` processes), or in this process
    with ``serial=True``. The table is rewritten
    atomically after each task; a failed task is listed in ``<table>.failed.csv`` (rewritten
    at the end) with its key and error, and the others go on. ``data_dir`` is set as
    ``TSAD_DATA_DIR`` for the workers. The planned tasks go to :func:`plan_path_for` the
    table (what a partial table is part of). The held-out refits keep their scores under
    ``scores_root`` (default: :func:`scores_dir_for` the table; :func:`save_scores`)."""
    import os

    from .grid import cluster, run_tasks

    if data_dir is not None:
        os.environ["TSAD_DATA_DIR"] = str(Path(data_dir).resolve())
    table_path = Path(table_path)
    _check_settings(settings, table_path)
    done = compact(pd.read_csv(table_path, keep_default_na=True, dtype={"ratio": str})) \
        if table_path.is_file() else pd.DataFrame(columns=list(RUN))
    tasks, _ = plan(settings, data_dir)
    save_table(pd.DataFrame(tasks, columns=list(KEY)), plan_path_for(table_path), index=False)
    scores_root = Path(scores_root) if scores_root else scores_dir_for(table_path)
    finished = set(map(tuple, done[list(KEY)].astype(str).to_numpy())) if len(done) else set()
    # a held-out refit is finished only with its scores kept (tables from before they were
    # kept): it is run again and its earlier rows replaced
    rerun = {tuple(map(str, t)) for t in tasks if t[2] == FINAL
             and tuple(map(str, t)) in finished
             and not scores_path(scores_root, t[0], t[1], t[4]).is_file()}
    if rerun:
        keys = done[list(KEY)].astype(str).apply(tuple, axis=1)
        done = done[~keys.isin(rerun)]
    todo = [t for t in tasks if tuple(map(str, t)) not in finished - rerun]
    failed = []
    parts = [done] if len(done) else []

    def on_error(task, exc):
        failed.append({**dict(zip(KEY, task)), "error": f"{type(exc).__name__}: {exc}"})

    args = [(*t, profile, loss_root, settings, str(scores_root)) for t in todo]
    if todo:
        with (nullcontext() if serial else cluster(scheduler, workers)) as client:
            for _, rows in run_tasks(client, run_fold, args, progress=progress,
                                     on_error=on_error):
                parts.append(compact(pd.DataFrame(rows)))
                save_table(_ordered(pd.concat(parts, ignore_index=True)), table_path,
                           index=False, float_format=f"%.{TABLE_DIGITS}g")
    save_table(pd.DataFrame(failed, columns=[*KEY, "error"]),
               _beside(table_path, ".failed.csv"), index=False)
    table = _ordered(pd.concat(parts, ignore_index=True)) if parts else done
    return table


def compact(table: pd.DataFrame, digits: int = TABLE_DIGITS) -> pd.DataFrame:
    """``table`` with its float columns rounded to ``digits`` significant digits, so that
    writing it (shortest round-trip text) and reading it back gives the same numbers."""
    table = table.copy()
    for col in table.columns[[pd.api.types.is_float_dtype(t) for t in table.dtypes]]:
        table[col] = [float(f"{v:.{digits}g}") for v in table[col].to_numpy()]
    return table


def table_in(folder, part: str | None = None) -> Path:
    """The runs table of a results folder (:data:`TABLE`; ``part=SUPPLEMENT``: the
    supplement's, ``03_cv_supplement_runs.csv.gz``). A table left uncompressed by an earlier
    version (``03_cv_runs.csv``) is an error that says how to convert it."""
    name = TABLE if part is None else TABLE.replace("03_cv_", f"03_cv_{_part(part)}_")
    path = Path(folder) / name
    old = Path(folder) / name.removesuffix(".gz")
    if not path.is_file() and old.is_file():
        raise FileExistsError(f"{old} is an uncompressed runs table from an earlier version; "
                              f"compress it to {path.name} (gzip {old}) to read or continue it")
    return path


def _part(part: str) -> str:
    if part != SUPPLEMENT:
        raise ValueError(f"unknown part of the CV study {part!r}; known: {SUPPLEMENT!r}")
    return part


def supplement_settings(settings: dict) -> dict | None:
    """The profile's settings for its supplement grid (None when it has none): the main
    ``cv`` with the keys of ``settings["cv_supplement"]`` replaced, except
    ``generator_params`` and ``detector_params``, which are merged into the main ones (a
    system the main grid also runs keeps its settings there)."""
    extra = settings.get("cv_supplement")
    if not extra:
        return None
    cv = dict(settings["cv"])
    for key, value in extra.items():
        merged = key in ("generator_params", "detector_params")
        cv[key] = {**cv.get(key, {}), **value} if merged else value
    return {**settings, "cv": cv}


def scores_dir_for(table_path) -> Path:
    """Where the held-out refit of a table keeps its scores: ``03_cv_scores`` beside
    ``03_cv_runs.csv.gz`` (:data:`SCORES_DIR`), ``03_cv_supplement_scores`` beside the
    supplement's table; ``<table>_scores`` beside any other."""
    return _named(table_path, "_scores")


def plan_path_for(table_path) -> Path:
    """The planned tasks of a table, written by :func:`run`: ``03_cv_plan.csv`` beside
    ``03_cv_runs.csv.gz``, ``03_cv_supplement_plan.csv`` beside the supplement's."""
    return _named(table_path, "_plan.csv")


def _named(table_path, suffix: str) -> Path:
    table_path = Path(table_path)
    stem = table_path.name.removesuffix(".gz").removesuffix(".csv")
    return table_path.with_name(stem.removesuffix("_runs") + suffix)


def _beside(table_path, suffix: str) -> Path:
    """A file kept next to a table: ``03_cv_runs.csv.gz`` -> ``03_cv_runs<suffix>``."""
    table_path = Path(table_path)
    return table_path.with_name(
        table_path.name.removesuffix(".gz").removesuffix(".csv") + suffix)


def _settings_path(table_path: Path) -> Path:
    return _beside(table_path, ".settings.json")


def fingerprint(settings: dict) -> dict:
    """What a table's runs depend on: the study's settings, the window, seeds, detector,
    generator and evaluation settings (compared as JSON)."""
    import json

    keys = ("cv", "window", "seeds", "detectors", "evaluate", "synthetic")
    picked = {k: settings.get(k) for k in keys}
    picked["generators"] = settings.get("synthesis", {}).get("generators")
    return json.loads(json.dumps(picked, sort_keys=True, default=str))


def _relevant(fp: dict) -> dict:
    """A fingerprint without the settings of detectors and generators the study does not
    run (adding one to the package, or to notebook 02's generators, must not stop a table
    from being continued)."""
    cv = fp.get("cv") or {}
    used, arms = set(cv.get("detectors") or []), set(cv.get("arms") or [])
    out = {**fp, "detectors": {k: v for k, v in (fp.get("detectors") or {}).items()
                               if k in used}}
    if fp.get("generators") is not None:
        out["generators"] = {k: v for k, v in fp["generators"].items() if k in arms}
    return out


def _check_settings(settings: dict, table_path: Path) -> None:
    """A table is only continued with the settings that began it (recorded next to it)."""
    import json

    from .results import save_json

    path = _settings_path(table_path)
    current = fingerprint(settings)
    if table_path.is_file():
        recorded = json.loads(path.read_text()) if path.is_file() else None
        if recorded is None or _relevant(recorded) != _relevant(current):
            raise ValueError(f"{table_path} holds runs made with other settings (recorded in "
                             f"{path.name}); move it away or choose another output folder "
                             "to start a new table")
    else:
        save_json(current, path)


def read_table(table_path) -> pd.DataFrame:
    """The runs written so far by :func:`run` (ratios kept as text: "0.25", "balance")."""
    return _ordered(pd.read_csv(table_path, dtype={"ratio": str}))


def failed_tasks(table_path) -> pd.DataFrame:
    """The tasks of the last :func:`run` into ``table_path`` that raised, with their errors."""
    path = _beside(table_path, ".failed.csv")
    return pd.read_csv(path) if path.is_file() else pd.DataFrame(columns=[*KEY, "error"])


def _ordered(table: pd.DataFrame) -> pd.DataFrame:
    first = [c for c in RUN if c in table.columns] + ["status"]
    rest = [c for c in table.columns if c not in first]
    table = table[first + rest].copy()
    table["ratio"] = table["ratio"].astype(str)
    return table.sort_values(list(RUN), kind="stable").reset_index(drop=True)
