"""What is particular to notebook 02 (synthesis): which labelled series the profile names and
how finely each is windowed, and :func:`synthesise`, which fits, samples and judges every
(series, generator) pair as an independent task on the Dask grid. The generic steps (labelled
windows, fitting, sampling, saving, loss and example plots) are
:mod:`tsad_helpers.synthesis.workflow`; the fidelity table and embeddings are
:mod:`tsad_helpers.fidelity`.
"""

from __future__ import annotations

import pandas as pd

from .. import datasets, fidelity, grid, profiles
from . import workflow

HOLDOUT = "real (holdout)"


def load_series(settings: dict, root=None) -> tuple[list, list[str]]:
    """The labelled series of the profile (``settings["synthesis"]["series"]``: [dataset,
    entity] pairs; the synthetic benchmark with the profile's size). Returns (list of
    Dataset, list of "dataset/entity" not found under the data root)."""
    loaded, missing = [], []
    for name, entity in settings["synthesis"]["series"]:
        try:
            loaded.append(datasets.load(name, entity, root,
                                        **profiles.dataset_options(settings, name)))
        except datasets.DatasetNotFoundError:
            missing.append(f"{name}/{entity}")
    return loaded, missing


def stride_for(cfg: dict, dataset: str) -> int:
    """The window stride of ``dataset`` in the notebook's settings: ``cfg["stride"]`` is one
    int for every series, or {dataset name: int} (a long series such as an SMD machine is cut
    more sparsely so that generator fits stay within the profile's budget)."""
    stride = cfg["stride"]
    if isinstance(stride, dict):
        if dataset not in stride:
            raise ValueError(f"synthesis settings: no stride for dataset {dataset!r} "
                             f"(strides given for {', '.join(stride)})")
        stride = stride[dataset]
    if not isinstance(stride, int) or stride < 1:
        raise ValueError(f"synthesis settings: stride for {dataset!r} must be an int >= 1, "
                         f"got {stride!r}")
    return stride


def series_task(key: str, name: str, x, y, hx, hy, cfg: dict, seed: int, loss_dir=None) -> dict:
    """One task of :func:`synthesise`: on series ``key``'s labelled windows (training part
    x, y; held-out part hx, hy), fit generator ``name`` with its settings in
    ``cfg["generators"]`` (loss log in ``loss_dir``), draw ``cfg["ratio"]`` x the training
    class counts, and compute its fidelity rows. ``name`` = :data:`HOLDOUT`: only the rows of
    the held-out real windows. Returns {"fit_seconds", "history", "synthetic": (windows,
    labels), "fidelity": DataFrame}; plain data, so it may run in another process."""
    table = {"budget": cfg["fidelity_budget"], "classes": cfg["fidelity_classes"], "seed": seed}
    if name == HOLDOUT:
        return {"fit_seconds": None, "history": [], "synthetic": None,
                "fidelity": fidelity.fidelity_table(x, y, hx, hy, {}, **table)}
    fitted, times = workflow.fit_generators(x, y, {name: cfg["generators"][name]}, seed,
                                            loss_dir, separate=cfg["separate"])
    synthetic = workflow.sample_like(fitted, y, cfg["ratio"])
    return {"fit_seconds": float(times["fit_seconds"].iloc[0]),
            "history": list(getattr(fitted[name], "history_", None) or []),
            "synthetic": synthetic[name],
            "fidelity": fidelity.fidelity_table(x, y, hx, hy, synthetic, holdout=False, **table)}


def synthesise(parts: dict, cfg: dict, seed: int, loss_dirs: dict | None = None, client=None,
               progress=None) -> dict:
    """Fit, sample and judge every generator of ``cfg["generators"]`` on every series of
    ``parts`` ({key: (x, y, hx, hy)}), one task per (series, generator) plus one per series for
    the held-out real rows, run on ``client`` (a ``distributed.Client``; None: one after
    another here), the largest series' tasks first. ``loss_dirs``: {key: folder of its loss
    logs}. Returns {"fit_times": DataFrame (generator, fit_seconds, series), "histories":
    {key: {generator: history}}, "synthetic": {key: {generator: (windows, labels)}},
    "fidelity": DataFrame with a ``series`` column}, every part in the order of ``parts`` and
    ``cfg["generators"]``, whatever order the tasks finished in."""
    names = [*cfg["generators"], HOLDOUT]
    by_size = sorted(parts, key=lambda k: -parts[k][0].size)
    # on a cluster each series' arrays go to the workers once, not inside every task
    data = {key: tuple(client.scatter(list(arrays))) if client is not None else arrays
            for key, arrays in parts.items()}
    tasks = [(key, name, *data[key], cfg, seed, (loss_dirs or {}).get(key))
             for name in names for key in by_size]
    done = {(task[0], task[1]): result
            for task, result in grid.run_tasks(client, series_task, tasks, recycle_every=None,
                                               progress=progress)}
    gens = list(cfg["generators"])
    table = [done[key, name]["fidelity"].assign(series=key)
             for key in parts for name in [HOLDOUT, *gens]]
    return {
        "fit_times": pd.DataFrame([{"generator": name, "fit_seconds": done[key, name]
                                    ["fit_seconds"], "series": key}
                                   for key in parts for name in gens]),
        "histories": {key: {n: done[key, n]["history"] for n in gens} for key in parts},
        "synthetic": {key: {n: done[key, n]["synthetic"] for n in gens} for key in parts},
        "fidelity": pd.concat(table, ignore_index=True),
    }
