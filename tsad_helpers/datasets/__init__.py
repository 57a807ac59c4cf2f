"""Datasets: one loader per benchmark, all returning :class:`Dataset`.

>>> from tsad_helpers import datasets
>>> ds = datasets.load("synthetic", "syn-1")          # embedded, no files needed
>>> ds = datasets.load("smd", "machine-1-3")           # reads <data root>/SMD/...
>>> datasets.entities("smap")                          # channels found under the data root

The data root is the ``root`` argument, else the ``TSAD_DATA_DIR`` environment variable, else
``<repository>/data``. Real files are read in their upstream layouts, plain or gzip-compressed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import real, synthetic
from ._io import DataFormatError, DatasetNotFoundError, check_finite, find_file, read_numeric_table

__all__ = ["Dataset", "DataFormatError", "DatasetNotFoundError", "NAMES", "REAL_NAMES",
           "data_root", "entities", "load", "read_table"]

REPO_ROOT = Path(__file__).resolve().parents[2]

_LOADERS = {
    "smd": real.SMD,
    "asd": real.ASD,
    "smap": real.SMAP,
    "msl": real.MSL,
    "nab": real.NAB,
    "ucr": real.UCR,
    "psm": real.PSM,
}
REAL_NAMES = tuple(_LOADERS)
NAMES = ("synthetic",) + REAL_NAMES


@dataclass
class Dataset:
    """One entity of one benchmark.

    train: float32[T_train, C]; test: float32[T_test, C]; test_labels: int8[T_test] (1 = anomaly);
    channels: list of C names; anomaly_types: object[T_test] of strings ('' = normal) or None
    where the benchmark does not type its anomalies; meta: source files and extra labels.
    """

    name: str
    entity: str
    train: np.ndarray
    test: np.ndarray
    test_labels: np.ndarray
    channels: list[str]
    anomaly_types: np.ndarray | None = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        self.train = np.ascontiguousarray(self.train, dtype=np.float32)
        self.test = np.ascontiguousarray(self.test, dtype=np.float32)
        self.test_labels = np.asarray(self.test_labels, dtype=np.int8)
        where = f"{self.name}/{self.entity}"
        if self.train.ndim != 2 or self.test.ndim != 2:
            raise ValueError(f"{where}: train and test must be 2-D [T, C], got "
                             f"{self.train.shape} and {self.test.shape}")
        if self.train.shape[1] != self.test.shape[1] or len(self.channels) != self.test.shape[1]:
            raise ValueError(f"{where}: channel counts differ: train {self.train.shape[1]}, "
                             f"test {self.test.shape[1]}, names {len(self.channels)}")
        if self.test_labels.shape != (self.test.shape[0],):
            raise ValueError(f"{where}: test_labels shape {self.test_labels.shape} does not "
                             f"match test length {self.test.shape[0]}")
        if self.anomaly_types is not None and len(self.anomaly_types) != len(self.test_labels):
            raise ValueError(f"{where}: anomaly_types length {len(self.anomaly_types)} does "
                             f"not match test length {len(self.test_labels)}")

    @property
    def n_channels(self) -> int:
        return self.train.shape[1]

    def __repr__(self) -> str:
        return (f"Dataset({self.name!r}, {self.entity!r}, train={self.train.shape}, "
                f"test={self.test.shape}, anomalies={int(self.test_labels.sum())})")


def data_root(root: str | os.PathLike | None = None) -> Path:
    """The data root: ``root``, else env ``TSAD_DATA_DIR``, else ``<repo>/data``."""
    if root is not None:
        return Path(root)
    env = os.environ.get("TSAD_DATA_DIR")
    return Path(env) if env else REPO_ROOT / "data"


def _check_name(name: str) -> str:
    key = name.lower()
    if key not in NAMES:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(NAMES)}")
    return key


def entities(name: str, root: str | os.PathLike | None = None) -> list[str]:
    """Entity names of ``name`` (machines, channels, series) found under the data root.

    Raises :class:`DatasetNotFoundError` when the dataset's folder or label file is missing.
    """
    key = _check_name(name)
    if key == "synthetic":
        return synthetic.entities()
    return _LOADERS[key](data_root(root)).entities()


def load(name: str, entity: str | None = None, root: str | os.PathLike | None = None,
         **options) -> Dataset:
    """Load one entity of a dataset (the first one, in sorted order, when ``entity`` is None).

    ``options`` go to the loader: every real loader takes ``nonfinite`` in
    ``{"error", "keep", "interpolate"}`` (default ``"error"``); ``nab`` takes
    ``train_fraction`` and ``timestamps`` (``"error"``, the default, refuses a series whose
    timestamps repeat or step back; ``"keep"`` loads its rows in file order); ``synthetic``
    takes ``seed``, ``n_channels``, ``train_length``, ``test_length`` and ``events_per_type``
    (see :mod:`tsad_helpers.datasets.synthetic`).
    """
    key = _check_name(name)
    if key == "synthetic":
        fields = synthetic.generate(entity or synthetic.entities()[0], **options)
    else:
        loader = _LOADERS[key](data_root(root))
        if entity is None:
            found = loader.entities()
            if not found:
                raise DatasetNotFoundError(f"{loader.base}: no {key} entity found under the "
                                           "data root")
            entity = found[0]
        fields = loader.load(entity, **options)
    return Dataset(name=key, **fields)


def read_table(relative_path: str, columns: list[str], root=None) -> np.ndarray:
    """A numeric CSV table with a header under the data root (plain or ``.gz``), checked: the
    header must be exactly ``columns`` and every value finite. Returns float64[rows, columns].
    For files that are not one of the benchmarks (e.g. TimeGAN's ``stock_data.csv``)."""
    path = find_file(data_root(root), relative_path)
    frame = read_numeric_table(path, header=True, expected_columns=len(columns))
    if list(frame.columns) != list(columns):
        raise DataFormatError(f"{path}: expected columns {list(columns)}, found "
                              f"{list(frame.columns)}")
    return check_finite(path, frame.to_numpy(dtype=np.float64), list(columns), "error")
