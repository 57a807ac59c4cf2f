"""Loaders for the real benchmarks, each reading its upstream layout under a data root.

Layouts (relative to the data root; every data file may also be gzip-compressed, ``.gz``):

- SMD: ``SMD/{train,test,test_label}/machine-G-I.txt`` headerless CSV (38 columns; labels one
  0/1 per line) and ``SMD/interpretation_label/machine-G-I.txt`` (``start-end:d1,d2``).
- ASD: ``ASD/omi-N_{train,test,test_label}.csv`` headerless CSV (19 columns) and
  ``ASD/interpretation_label/omi-N.txt``.
- SMAP, MSL: ``SMAP_MSL/{train,test}/<chan>.npy`` and ``SMAP_MSL/labeled_anomalies.csv``.
- NAB: ``NAB/data/<category>/<name>.csv`` (``timestamp,value``) and
  ``NAB/labels/combined_windows.json``.
- UCR/KDD21: ``UCR/<id>_UCR_Anomaly_<name>_<trainEnd>_<begin>_<end>.txt``.
- PSM: ``PSM/{train,test,test_label}.csv`` with a ``timestamp_(min)`` column.
"""

from __future__ import annotations

import ast
import io
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from ._io import (DataFormatError, DatasetNotFoundError, check_finite, check_labels,
                  check_rectangular, check_rows, check_same_columns, check_same_length, find_file, read_npy,
                  read_numeric_table, read_text, strip_gz)


def _stems(folder: Path, suffix: str) -> list[str]:
    """Sorted file names in ``folder`` ending in ``suffix`` or ``suffix.gz``, suffix removed."""
    if not folder.is_dir():
        raise DatasetNotFoundError(f"{folder}: folder not found under the data root")
    entries = list(folder.iterdir())
    for p in entries:
        if p.is_symlink() and not p.exists():
            raise DatasetNotFoundError(f"{p}: a broken or looping symbolic link")
    names = {strip_gz(p.name) for p in entries if p.is_file()}
    return sorted(n[: -len(suffix)] for n in names if n.endswith(suffix))


def _natural_key(text: str):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text)]


def check_interpretation_labels(path: Path, segments: list[dict], n_rows: int,
                                n_channels: int) -> list[dict]:
    """Interpretation labels must lie inside the test series and name existing channels."""
    for seg in segments:
        if seg["end"] > n_rows:
            raise DataFormatError(f"{path}: {seg['raw']!r} ends past the {n_rows} test rows")
        if max(seg["channels"]) >= n_channels:
            raise DataFormatError(f"{path}: {seg['raw']!r} names channel "
                                  f"{max(seg['channels']) + 1} of {n_channels}")
    return segments


def parse_interpretation_labels(path: Path, end_inclusive: bool) -> list[dict]:
    """Parse ``start-end:d1,d2,...`` lines (SMD/ASD interpretation labels).

    Returns one dict per segment with ``start`` and ``end`` as 0-based test positions, end
    exclusive (like :func:`tsad_helpers.events.segments`), ``channels`` as 0-based channel
    indices, and the ``raw`` line. Upstream conventions differ: SMD's ``end`` is exclusive,
    ASD's inclusive (checked against the point labels), hence ``end_inclusive``.
    """
    segments = []
    for lineno, line in enumerate(read_text(path).splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        match = re.fullmatch(r"(\d+)-(\d+):([\d,\s]+)", line)
        if not match:
            raise DataFormatError(f"{path}: line {lineno} is not 'start-end:d1,d2,...': {line!r}")
        dims = [int(d) for d in match.group(3).split(",") if d.strip()]
        if int(match.group(2)) + int(end_inclusive) <= int(match.group(1)):
            raise DataFormatError(f"{path}: line {lineno}: reversed or empty range {line!r}")
        if not dims or min(dims) < 1:
            raise DataFormatError(f"{path}: line {lineno}: channels are numbered from 1, "
                                  f"got {line!r}")
        segments.append({"start": int(match.group(1)),
                         "end": int(match.group(2)) + int(end_inclusive),
                         "channels": [d - 1 for d in dims], "raw": line})
    return segments


class _Loader:
    """A benchmark's files under one data root. Subclasses set ``folder``."""

    folder = ""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.base = self.root / self.folder

    def entities(self) -> list[str]:
        raise NotImplementedError

    def _check_entity(self, entity: str) -> None:
        known = self.entities()
        if entity not in known:
            shown = ", ".join(known[:8]) + (" ..." if len(known) > 8 else "")
            raise DatasetNotFoundError(
                f"{self.base}: no entity {entity!r}; found {len(known)}: {shown}")


class _ServerLoader(_Loader):
    """SMD and ASD: headerless train/test/label tables plus interpretation labels."""

    n_columns = 0
    interpretation_end_inclusive = False
    # where an entity's files lie, relative to the data root ({entity} is filled in); the
    # entities are the files named by the "train" template
    templates: dict[str, str] = {}

    def entities(self):
        folder, _, name = self.templates["train"].rpartition("/")
        return sorted(_stems(self.root / folder, name.replace("{entity}", "")),
                      key=_natural_key)

    def paths(self, entity: str) -> dict[str, str]:
        return {k: v.format(entity=entity) for k, v in self.templates.items()}

    def load(self, entity: str, nonfinite: str = "error") -> dict:
        self._check_entity(entity)
        rel = self.paths(entity)
        p = {k: find_file(self.root, v) for k, v in rel.items() if k != "interpretation"}
        train = read_numeric_table(p["train"], header=False, expected_columns=self.n_columns)
        test = read_numeric_table(p["test"], header=False, expected_columns=self.n_columns)
        labels = read_numeric_table(p["labels"], header=False, expected_columns=1)
        check_same_length(p["labels"], len(labels), p["test"], len(test))
        channels = [f"m{i + 1:02d}" for i in range(self.n_columns)]
        meta = {"files": {k: str(v) for k, v in p.items()}}
        interp = self.root / rel["interpretation"]
        if interp.is_file() or interp.with_name(interp.name + ".gz").is_file():
            path = find_file(self.root, rel["interpretation"])
            meta["interpretation_labels"] = check_interpretation_labels(
                path, parse_interpretation_labels(path, self.interpretation_end_inclusive),
                len(test), self.n_columns)
        return {
            "entity": entity,
            "train": check_finite(p["train"], train.to_numpy(), channels, nonfinite),
            "test": check_finite(p["test"], test.to_numpy(), channels, nonfinite),
            "test_labels": check_labels(p["labels"], labels[0].to_numpy()),
            "channels": channels,
            "meta": meta,
        }


class SMD(_ServerLoader):
    folder = "SMD"
    n_columns = 38
    templates = {"train": "SMD/train/{entity}.txt", "test": "SMD/test/{entity}.txt",
                 "labels": "SMD/test_label/{entity}.txt",
                 "interpretation": "SMD/interpretation_label/{entity}.txt"}


class ASD(_ServerLoader):
    folder = "ASD"
    n_columns = 19
    interpretation_end_inclusive = True
    templates = {"train": "ASD/{entity}_train.csv", "test": "ASD/{entity}_test.csv",
                 "labels": "ASD/{entity}_test_label.csv",
                 "interpretation": "ASD/interpretation_label/{entity}.txt"}


class _NasaLoader(_Loader):
    """SMAP or MSL channels: .npy arrays and the telemanom label table."""

    folder = "SMAP_MSL"
    spacecraft = ""

    def _label_rows(self) -> pd.DataFrame:
        path = find_file(self.root, "SMAP_MSL/labeled_anomalies.csv")
        table = read_label_table(path)
        needed = {"chan_id", "spacecraft", "anomaly_sequences", "num_values"}
        if not needed <= set(table.columns):
            raise DataFormatError(f"{path}: missing columns {sorted(needed - set(table.columns))}")
        counts = pd.to_numeric(table["num_values"], errors="coerce")
        bad = counts.isna() | (counts != counts.round())
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataFormatError(f"{path}: num_values {table['num_values'].iloc[row]!r} of "
                                  f"{table['chan_id'].iloc[row]} (data row {row}) is not a "
                                  "whole number")
        rows = table[table["spacecraft"] == self.spacecraft]
        self._label_path = path
        return rows

    def entities(self):
        rows = self._label_rows()
        have = set(_stems(self.base / "test", ".npy"))
        return sorted((c for c in rows["chan_id"].unique() if c in have), key=_natural_key)

    def load(self, entity: str, nonfinite: str = "error") -> dict:
        self._check_entity(entity)
        p_train = find_file(self.root, f"SMAP_MSL/train/{entity}.npy")
        p_test = find_file(self.root, f"SMAP_MSL/test/{entity}.npy")
        train, test = read_npy(p_train), read_npy(p_test)
        for path, arr, part in ((p_train, train, "train"), (p_test, test, "test")):
            if arr.ndim != 2:
                raise DataFormatError(f"{path}: expected a 2-D array, got shape {arr.shape}")
            check_rows(path, len(arr), part)
        check_same_columns(p_train, train.shape[1], p_test, test.shape[1])
        rows = self._label_rows()
        rows = rows[rows["chan_id"] == entity]
        labels = np.zeros(len(test), dtype=np.int8)
        types = np.full(len(test), "", dtype=object)
        for _, row in rows.iterrows():
            if int(row["num_values"]) != len(test):
                raise DataFormatError(f"{self._label_path}: {entity} num_values "
                                      f"{row['num_values']} but {p_test} has {len(test)} rows")
            seqs = _parse_list(self._label_path, entity, row["anomaly_sequences"])
            classes = _parse_classes(row.get("class"), len(seqs))
            for (start, end), kind in zip(seqs, classes):
                if start > end:
                    raise DataFormatError(f"{self._label_path}: {entity} sequence "
                                          f"[{start}, {end}] is reversed")
                if not 0 <= start <= end < len(test):
                    raise DataFormatError(f"{self._label_path}: {entity} sequence "
                                          f"[{start}, {end}] outside the {len(test)} test rows")
                labels[start:end + 1] = 1
                types[start:end + 1] = kind
        channels = ["telemetry"] + [f"cmd{i}" for i in range(1, train.shape[1])]
        return {
            "entity": entity,
            "train": check_finite(p_train, train, channels, nonfinite),
            "test": check_finite(p_test, test, channels, nonfinite),
            "test_labels": labels,
            "channels": channels,
            "anomaly_types": types,
            "meta": {"files": {"train": str(p_train), "test": str(p_test),
                               "labels": str(self._label_path)},
                     "label_rows": len(rows),
                     "note": "labels are the union of all label rows of the channel"},
        }


def read_label_table(path: Path) -> pd.DataFrame:
    """A CSV label table (telemanom's ``labeled_anomalies.csv``) with parse errors that name
    the file."""
    text = read_text(path)
    if not text.strip():
        raise DataFormatError(f"{path}: file is empty")
    try:
        return pd.read_csv(io.StringIO(text))
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataFormatError(f"{path}: not a readable CSV table ({exc})") from exc


def _parse_list(path, entity, text) -> list[tuple[int, int]]:
    try:
        seqs = ast.literal_eval(text)
        return [(int(a), int(b)) for a, b in seqs]
    except (ValueError, SyntaxError, TypeError) as exc:
        raise DataFormatError(f"{path}: {entity} anomaly_sequences not a list of "
                              f"[start, end] pairs: {text!r}") from exc


def _parse_classes(text, n: int) -> list[str]:
    if not isinstance(text, str):
        return ["anomaly"] * n
    names = [t.strip() for t in text.strip("[]").split(",") if t.strip()]
    return names if len(names) == n else ["anomaly"] * n


class SMAP(_NasaLoader):
    spacecraft = "SMAP"


class MSL(_NasaLoader):
    spacecraft = "MSL"


class NAB(_Loader):
    """NAB series: no train/test split upstream, so the first ``train_fraction`` of each series
    (default 0.15, NAB's own probationary period) is the training part and the rest the test
    part. Labels mark every timestamp inside a ``combined_windows.json`` window (inclusive)."""

    folder = "NAB"

    def _windows(self) -> dict:
        path = find_file(self.root, "NAB/labels/combined_windows.json")
        try:
            windows = json.loads(read_text(path))
        except json.JSONDecodeError as exc:
            raise DataFormatError(f"{path}: not valid JSON ({exc})") from exc
        self._windows_path = path
        return windows

    def _entity_windows(self, key: str, stamps: pd.Series) -> list:
        """The label windows of one series as Timestamps, checked: each a [start, end] pair
        of parseable times, start <= end, inside the series' time range."""
        windows = self._windows()
        where = f"{self._windows_path}: {key}"
        if not isinstance(windows, dict):
            raise DataFormatError(f"{self._windows_path}: expected a JSON object of series -> "
                                  f"windows, found {type(windows).__name__}")
        if key not in windows:
            raise DataFormatError(f"{where}: no entry for this series")
        if not isinstance(windows[key], list):
            raise DataFormatError(f"{where}: windows must be a list of [start, end] pairs")
        out = []
        for i, pair in enumerate(windows[key]):
            if not (isinstance(pair, list) and len(pair) == 2
                    and all(isinstance(t, str) for t in pair)):
                raise DataFormatError(f"{where}: window {i} is not a [start, end] pair of "
                                      f"times: {pair!r}")
            try:
                start, end = (pd.Timestamp(t) for t in pair)
            except (ValueError, TypeError) as exc:
                raise DataFormatError(f"{where}: window {i} has an unparseable time: "
                                      f"{pair!r}") from exc
            if start > end:
                raise DataFormatError(f"{where}: window {i} is reversed: {pair!r}")
            if start < stamps.min() or end > stamps.max():
                raise DataFormatError(f"{where}: window {i} {pair!r} is outside the series "
                                      f"({stamps.min()} to {stamps.max()})")
            out.append((start, end))
        return out

    def entities(self):
        data = self.base / "data"
        if not data.is_dir():
            raise DatasetNotFoundError(f"{data}: folder not found under the data root")
        found = []
        for category in sorted(p for p in data.iterdir() if p.is_dir()):
            found += [f"{category.name}/{s}" for s in _stems(category, ".csv")]
        return found

    def load(self, entity: str, nonfinite: str = "error", train_fraction: float = 0.15,
             timestamps: str = "error") -> dict:
        if not 0 < train_fraction < 1:
            raise ValueError(f"train_fraction must be in (0, 1), got {train_fraction}")
        if timestamps not in TIMESTAMP_OPTIONS:
            raise ValueError(f"timestamps must be one of {TIMESTAMP_OPTIONS}, got "
                             f"{timestamps!r}")
        self._check_entity(entity)
        path = find_file(self.root, f"NAB/data/{entity}.csv")
        text = read_text(path)
        check_rectangular(path, text)
        try:
            frame = pd.read_csv(io.StringIO(text))
        except pd.errors.ParserError as exc:
            raise DataFormatError(f"{path}: inconsistent number of columns ({exc})") from exc
        if list(frame.columns) != ["timestamp", "value"]:
            raise DataFormatError(f"{path}: expected columns ['timestamp', 'value'], "
                                  f"found {list(frame.columns)}")
        numeric = pd.to_numeric(frame["value"], errors="coerce")
        if (numeric.isna() & frame["value"].notna()).any():
            row = int(np.flatnonzero((numeric.isna() & frame["value"].notna()).to_numpy())[0])
            raise DataFormatError(f"{path}: non-numeric value {frame['value'].iloc[row]!r} in "
                                  f"column 'value', data row {row}")
        values = numeric.to_numpy(dtype=np.float64)[:, None]
        stamps = pd.to_datetime(frame["timestamp"], errors="coerce")
        if stamps.isna().any():
            row = int(np.flatnonzero(stamps.isna().to_numpy())[0])
            raise DataFormatError(f"{path}: unparseable timestamp "
                                  f"{frame['timestamp'].iloc[row]!r} at data row {row}")
        problems = timestamp_problems(stamps)
        if problems and timestamps == "error":
            raise DataFormatError(f"{path}: timestamps not strictly increasing: {problems}; "
                                  "pass timestamps='keep' (--timestamps keep) to load the rows "
                                  "in file order")
        key = f"{entity}.csv"
        labels = np.zeros(len(frame), dtype=np.int8)
        for start, end in self._entity_windows(key, stamps):
            labels[((stamps >= start) & (stamps <= end)).to_numpy()] = 1
        values = check_finite(path, values, ["value"], nonfinite)
        split = int(round(len(frame) * train_fraction))
        if not 0 < split < len(frame):
            raise DataFormatError(f"{path}: {len(frame)} rows leave an empty train or test "
                                  f"part with train_fraction {train_fraction}")
        return {
            "entity": entity,
            "train": values[:split],
            "test": values[split:],
            "test_labels": labels[split:],
            "channels": ["value"],
            "meta": {"files": {"data": str(path), "labels": str(self._windows_path)},
                     "train_fraction": train_fraction,
                     "labelled_points_in_train": int(labels[:split].sum()),
                     "timestamp_problems": problems,
                     "test_timestamps": stamps.iloc[split:].to_numpy()},
        }


TIMESTAMP_OPTIONS = ("error", "keep")


def timestamp_problems(stamps: pd.Series) -> str:
    """What breaks a strictly increasing time index ("" when nothing): duplicated stamps and
    steps back in time, counted, with the first data row of each."""
    step = stamps.diff().iloc[1:]
    parts = []
    for name, bad in (("duplicated", step == pd.Timedelta(0)),
                      ("back in time", step < pd.Timedelta(0))):
        if bad.any():
            parts.append(f"{int(bad.sum())} {name} (first at data row {int(bad.idxmax())})")
    return "; ".join(parts)


_UCR_NAME = re.compile(r"(\d+)_UCR_Anomaly_(.+)_(\d+)_(\d+)_(\d+)")


class UCR(_Loader):
    """UCR/KDD21 series. File name numbers: the first ``trainEnd`` values are training data,
    one anomaly at positions ``begin..end`` (1-based, inclusive, over the whole series)."""

    folder = "UCR"

    def entities(self):
        found = sorted((s for s in _stems(self.base, ".txt") if _UCR_NAME.fullmatch(s)),
                       key=_natural_key)
        ids: dict[int, str] = {}
        for stem in found:
            other = ids.setdefault(int(stem.split("_", 1)[0]), stem)
            if other != stem:
                raise DataFormatError(f"{self.base}: two files claim UCR id "
                                      f"{stem.split('_', 1)[0]}: {other}.txt and {stem}.txt")
        return found

    def _resolve(self, entity: str) -> str:
        """Accept the full file stem or just its numeric id (``"135"``)."""
        for stem in self.entities():
            if entity == stem or entity == stem.split("_", 1)[0]:
                return stem
        self._check_entity(entity)
        return entity

    def load(self, entity: str, nonfinite: str = "error") -> dict:
        entity = self._resolve(entity)
        path = find_file(self.root, f"UCR/{entity}.txt")
        match = _UCR_NAME.fullmatch(entity)
        train_end, begin, end = (int(match.group(i)) for i in (3, 4, 5))
        tokens = read_text(path).split()
        try:
            values = np.array(tokens, dtype=np.float64)
        except ValueError:
            bad = next(t for t in tokens if not _is_float(t))
            raise DataFormatError(f"{path}: non-numeric value {bad!r} at position "
                                  f"{tokens.index(bad)}") from None
        if not 0 < train_end < begin <= end <= len(values):
            raise DataFormatError(f"{path}: name says train 1..{train_end}, anomaly "
                                  f"{begin}..{end}, but the series has {len(values)} values")
        values = check_finite(path, values[:, None], ["value"], nonfinite)
        labels = np.zeros(len(values) - train_end, dtype=np.int8)
        labels[begin - 1 - train_end:end - train_end] = 1
        return {
            "entity": entity,
            "train": values[:train_end],
            "test": values[train_end:],
            "test_labels": labels,
            "channels": ["value"],
            "meta": {"files": {"data": str(path)}, "train_end": train_end,
                     "anomaly_1based_inclusive": (begin, end)},
        }


def _is_float(token: str) -> bool:
    try:
        float(token)
        return True
    except ValueError:
        return False


class PSM(_Loader):
    """PSM (eBay): ``train.csv``/``test.csv`` with ``timestamp_(min)`` and 25 features,
    ``test_label.csv`` with ``timestamp_(min),label``. Upstream train has NaN cells: load it
    with ``nonfinite="interpolate"`` (or ``"keep"``)."""

    folder = "PSM"
    time_column = "timestamp_(min)"

    def entities(self):
        for rel in ("PSM/train.csv", "PSM/test.csv", "PSM/test_label.csv"):
            find_file(self.root, rel)
        return ["psm"]

    def load(self, entity: str = "psm", nonfinite: str = "error") -> dict:
        self._check_entity(entity)
        p = {k: find_file(self.root, f"PSM/{k}.csv") for k in ("train", "test", "test_label")}
        tables = {k: read_numeric_table(v, header=True) for k, v in p.items()}
        for key, table in tables.items():
            if table.columns[0] != self.time_column:
                raise DataFormatError(f"{p[key]}: first column must be {self.time_column!r}, "
                                      f"found {table.columns[0]!r}")
        train, test, lab = tables["train"], tables["test"], tables["test_label"]
        if list(train.columns) != list(test.columns):
            raise DataFormatError(f"{p['test']}: columns differ from {p['train']}")
        if list(lab.columns) != [self.time_column, "label"]:
            raise DataFormatError(f"{p['test_label']}: expected columns "
                                  f"[{self.time_column!r}, 'label'], found {list(lab.columns)}")
        check_same_length(p["test_label"], len(lab), p["test"], len(test))
        if not np.array_equal(lab[self.time_column].to_numpy(), test[self.time_column].to_numpy()):
            raise DataFormatError(f"{p['test_label']}: timestamps do not match {p['test']}")
        channels = [str(c) for c in train.columns[1:]]
        return {
            "entity": "psm",
            "train": check_finite(p["train"], train[channels].to_numpy(), channels, nonfinite),
            "test": check_finite(p["test"], test[channels].to_numpy(), channels, nonfinite),
            "test_labels": check_labels(p["test_label"], lab["label"].to_numpy()),
            "channels": channels,
            "meta": {"files": {k: str(v) for k, v in p.items()}},
        }
