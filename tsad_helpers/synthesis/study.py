"""What is particular to notebook 02 (synthesis): which labelled series the profile names and
how finely each is windowed. The generic steps (labelled windows, fitting, sampling, saving,
loss and example plots) are :mod:`tsad_helpers.synthesis.workflow`; the fidelity table and
embeddings are :mod:`tsad_helpers.fidelity`.
"""

from __future__ import annotations

from .. import datasets, profiles


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
