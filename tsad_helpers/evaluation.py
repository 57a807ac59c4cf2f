"""The unsupervised protocol, end to end: fit on training data, pick a label-free threshold,
score the test split, compute every metric. Used by ``python -m tsad_helpers evaluate`` and
by the benchmarks.

Protocol (README, "Evaluation"): the detector is fitted on the first ``1 - validation_fraction`` of the
training split; the threshold rule sees only its scores on the remaining tail (still training
data, never labels); the test split is scored once and judged at that threshold. The oracle
best F1 is reported beside it, under keys that say so.
"""

from __future__ import annotations

import platform
import time
from pathlib import Path
from importlib import metadata


from . import detectors, metrics, profiles, thresholds
from .results import REPO_ROOT, loss_log_path


def package_versions() -> dict:
    names = ("tsad_helpers", "numpy", "scipy", "scikit-learn", "pandas", "tensorflow", "keras")
    out = {"python": platform.python_version()}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


PROTOCOLS = ("train", "transductive")


def evaluate_detector(ds, detector: str, settings: dict, profile: str, seed: int = 0,
                      params: dict | None = None, threshold_rule: str | None = None,
                      name: str | None = None, protocol: str = "train",
                      loss_log=None) -> dict:
    """Run the protocol for one Dataset and detector; returns a JSON-ready dict.

    settings: a profile's settings (``profiles.get(profile)``: its ``evaluate`` and
    ``detectors`` parts are used); profile: the profile's name, which names the run in the
    result and its loss log (``loss/<profile>/<dataset>/<entity>/<name>_seed<seed>.csv``);
    threshold_rule: a key of ``profiles.THRESHOLD_RULES`` (default: the settings' rule);
    name: what the run is called in its loss-log file (default ``detector``; ablations pass
    their variant name so that their logs do not overwrite the full model's);
    protocol: "train" (the default, the module's protocol) or "transductive", TSB-AD's
    unsupervised track: the detector is fitted on the test series itself (no labels) and the
    threshold rule is applied to its scores there; the result says which;
    loss_log: where a deep detector's loss log goes (a path; False: none; None: the run
    folder ``loss/<profile>/...`` above, which the benchmarks update on purpose).
    A test part without anomalies is refused: its precision, recall and curves are undefined."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; known: {', '.join(PROTOCOLS)}")
    if not ds.test_labels.any():
        raise ValueError(f"{ds.name}/{ds.entity}: the test part has no labelled anomaly, so "
                         "its metrics are undefined; pick an entity with anomalies")
    ev = dict(settings["evaluate"])
    if threshold_rule is not None:
        if threshold_rule not in profiles.THRESHOLD_RULES:
            raise ValueError(f"unknown threshold rule {threshold_rule!r}; known: "
                             f"{', '.join(profiles.THRESHOLD_RULES)}")
        ev["threshold"] = dict(profiles.THRESHOLD_RULES[threshold_rule])
    det_params = {**settings["detectors"].get(detector, {}), **(params or {})}
    model = detectors.make(detector, **det_params)
    if model.uses_labels:
        raise ValueError(f"{detector} learns from labels, and this is the unsupervised "
                         "protocol (the training split has none): use it where labelled "
                         "windows are given, as in the cross-validation study")
    if "random_state" in model.get_params():
        model.set_params(random_state=seed)
    if "loss_log" in model.get_params() and model.get_params()["loss_log"] is None:
        if loss_log is None:
            loss_log = loss_log_path(profile, ds.name, ds.entity,
                                     f"{name or detector}_seed{seed}")
        model.set_params(loss_log=str(loss_log) if loss_log else None)
    split = int(round(len(ds.train) * (1 - ev["validation_fraction"])))
    fit_part, tail = ds.train[:split], ds.train[split:]
    if protocol == "transductive":
        fit_part, tail = ds.test, ds.test
    if len(tail) == 0 or len(fit_part) == 0:
        raise ValueError(f"{ds.name}/{ds.entity}: train of {len(ds.train)} points is too short "
                         f"for validation_fraction={ev['validation_fraction']}")
    start = time.perf_counter()
    model.fit(fit_part)
    fit_seconds = time.perf_counter() - start
    rule = dict(ev["threshold"])
    window = int(model.get_params().get("window") or 1)
    # detectors that predict from time (Prophet) are told where each scored series starts on
    # the clock of the series they were fitted on: the tail follows the fit part, the test
    # split the whole training split; fitted on the test series itself, it starts at 0
    timed = getattr(model, "uses_time", False)
    at_tail = {"start": 0 if protocol == "transductive" else len(fit_part)} if timed else {}
    at_test = {"start": 0 if protocol == "transductive" else len(ds.train)} if timed else {}
    context = 0  # a tail shorter than one window is scored with the fit data before it
    if protocol == "train" and len(tail) < window <= len(ds.train):
        context = window - len(tail)
        tail_scores = model.decision_function(ds.train[split - context:])[context:]
    else:
        tail_scores = model.decision_function(tail, **at_tail)
    threshold = thresholds.make(rule.pop("rule"), **rule)(tail_scores)
    start = time.perf_counter()
    scores = model.decision_function(ds.test, **at_test)
    score_seconds = time.perf_counter() - start
    result = metrics.evaluate(scores, ds.test_labels, threshold, vus_window=ev["vus_window"],
                              period_series=ds.test)
    params = model.get_params()
    if params.get("loss_log"):  # recorded relative to the repository, not this machine
        log = Path(params["loss_log"])
        params["loss_log"] = str(log.relative_to(REPO_ROOT)) if log.is_relative_to(REPO_ROOT) \
            else str(log)
    return {
        "dataset": ds.name, "entity": ds.entity, "detector": detector,
        "detector_params": params, "profile": profile, "seed": seed,
        "protocol": protocol, "threshold_rule": ev["threshold"],
        "threshold_from": "scores on the last "
        f"{ev['validation_fraction']:.0%} of the training split (no labels)"
        + (f", scored with the {context} points before them as context (the tail is "
           "shorter than one window)" if context else "")
        if protocol == "train" else "scores on the test series (no labels)",
        "metrics": result, "fit_seconds": round(fit_seconds, 3),
        "score_seconds": round(score_seconds, 3),
        "epochs_run": getattr(model, "epochs_run_", None), "train_points": len(ds.train),
        "test_points": len(ds.test), "versions": package_versions(),
        "seeding": getattr(model, "seeding_", None),  # deep detectors: how Keras was seeded
    }


def evaluate_entity(dataset: str, entity: str, detector: str, profile: str, seed: int = 0,
                    params: dict | None = None, name: str | None = None,
                    protocol: str = "train") -> dict:
    """:func:`evaluate_detector` on ``dataset``/``entity`` under the data root, with the
    settings of ``profile``: one task of a batch grid (importable by grid workers)."""
    from . import datasets

    settings = profiles.get(profile)
    ds = datasets.load(dataset, entity, **profiles.dataset_options(settings, dataset))
    return evaluate_detector(ds, detector, settings, profile, seed, params=params, name=name,
                             protocol=protocol)
