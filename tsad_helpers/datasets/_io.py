"""Reading data files with errors that name the file and the problem.

Every reader here accepts a path to the plain upstream file or to its gzip-compressed copy
(``<name>.gz``); :func:`find_file` resolves which of the two exists. Problems in the data
(a truncated gzip stream, a ragged or non-numeric row, NaN or inf, labels that are not 0/1,
mismatched lengths) raise :class:`DataFormatError` whose message starts with the file path.
"""

from __future__ import annotations

import gzip
import io
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

NONFINITE_OPTIONS = ("error", "keep", "interpolate")


class DatasetNotFoundError(FileNotFoundError):
    """A dataset file or folder is not under the data root."""


class DataFormatError(ValueError):
    """A data file exists but its content is not what the layout promises."""


def find_file(root: Path, rel: str) -> Path:
    """Return ``root/rel`` or ``root/rel.gz``, whichever exists (plain first).

    Raises :class:`DatasetNotFoundError` naming both candidates and the data root.
    """
    plain = Path(root) / rel
    packed = plain.with_name(plain.name + ".gz")
    for path in (plain, packed):
        if path.is_file():
            return path
    raise DatasetNotFoundError(
        f"{plain}: not found (nor {packed.name}) under data root {root}. Set TSAD_DATA_DIR "
        "or pass root=..., or fetch it with `python -m tsad_helpers datasets download`."
    )


def strip_gz(name: str) -> str:
    return name[:-3] if name.endswith(".gz") else name


def read_bytes(path: Path) -> bytes:
    """Whole content of ``path``, decompressed when it ends in ``.gz``."""
    path = Path(path)
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as fh:
                return fh.read()
        return path.read_bytes()
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise DataFormatError(f"{path}: truncated or corrupt gzip file ({exc})") from exc


def read_text(path: Path) -> str:
    data = read_bytes(path)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataFormatError(f"{path}: not a UTF-8 text file ({exc})") from exc


def _first_bad_cell(path: Path, frame: pd.DataFrame) -> str:
    for col in frame.columns:
        converted = pd.to_numeric(frame[col], errors="coerce")
        bad = converted.isna() & frame[col].notna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            return (f"{path}: non-numeric value {frame[col].iloc[row]!r} in column {col!r}, "
                    f"data row {row}")
    return f"{path}: non-numeric values"


def read_numeric_table(path: Path, *, header: bool, expected_columns: int | None = None) -> pd.DataFrame:
    """Read a comma-separated numeric table into a float64 DataFrame.

    ``header=False`` for the headerless SMD/ASD/UCR files (columns are then 0..C-1).
    Raises :class:`DataFormatError` for an empty file, ragged rows, a wrong column count
    or a non-numeric cell, naming the file (and the row and column where known).
    """
    text = read_text(path)
    if not text.strip():
        raise DataFormatError(f"{path}: file is empty")
    check_rectangular(path, text)
    try:
        frame = pd.read_csv(io.StringIO(text), header=0 if header else None)
    except pd.errors.ParserError as exc:
        raise DataFormatError(f"{path}: inconsistent number of columns ({exc})") from exc
    if expected_columns is not None and frame.shape[1] != expected_columns:
        raise DataFormatError(
            f"{path}: expected {expected_columns} columns, found {frame.shape[1]}")
    if len(frame) == 0:
        raise DataFormatError(f"{path}: no data rows")
    if not all(pd.api.types.is_numeric_dtype(t) for t in frame.dtypes):
        raise DataFormatError(_first_bad_cell(path, frame))
    return frame.astype(np.float64)


def check_rectangular(path: Path, text: str) -> None:
    """Every non-blank line of a comma-separated ``text`` has as many fields as the first: a
    row with a missing or an extra separator is a ragged row (pandas would pad a short row
    with NaN, which ``nonfinite='interpolate'`` would then fill as if it were a gap)."""
    width = None
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.count(",") + 1
        if width is None:
            width = fields
        elif fields != width:
            raise DataFormatError(f"{path}: ragged row: line {lineno} has {fields} fields, "
                                  f"the first line {width}")


REAL_KINDS = {"b": "boolean", "i": "integer", "u": "unsigned integer", "f": "float"}


def read_npy(path: Path) -> np.ndarray:
    """Load a (possibly gzip-compressed) ``.npy`` file without allowing pickles; its dtype
    must be real (boolean, integer or float: not complex, datetime, string or object)."""
    data = read_bytes(path)
    if not data.startswith(b"\x93NUMPY"):
        raise DataFormatError(f"{path}: not a valid .npy array (no NumPy header)")
    try:
        arr = np.load(io.BytesIO(data), allow_pickle=False)
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise DataFormatError(f"{path}: an object array (dtype object); expected real "
                                  "numbers") from exc
        raise DataFormatError(f"{path}: not a valid .npy array ({exc})") from exc
    except (EOFError, OSError) as exc:
        raise DataFormatError(f"{path}: not a valid .npy array ({exc})") from exc
    if arr.dtype.kind not in REAL_KINDS:
        raise DataFormatError(f"{path}: dtype {arr.dtype} is not real numbers (expected one "
                              f"of {', '.join(REAL_KINDS.values())})")
    return arr


def check_rows(path: Path, n_rows: int, part: str) -> None:
    """A train or test part must hold at least one row."""
    if n_rows < 1:
        raise DataFormatError(f"{path}: the {part} part has no rows")


def check_finite(path: Path, values: np.ndarray, columns: list[str], nonfinite: str
                 ) -> np.ndarray:
    """Apply the ``nonfinite`` policy to a [T, C] array read from ``path``.

    - ``"error"`` (default everywhere): raise naming the file, column and first row;
    - ``"keep"``: return the values unchanged (NaN/inf stay, for data-quality reports);
    - ``"interpolate"``: linear interpolation in time per column, edges filled with the
      nearest finite value; a column with no finite value at all still raises.
    """
    if nonfinite not in NONFINITE_OPTIONS:
        raise ValueError(f"nonfinite must be one of {NONFINITE_OPTIONS}, got {nonfinite!r}")
    bad = ~np.isfinite(values)
    if not bad.any() or nonfinite == "keep":
        return values
    rows, cols = np.nonzero(bad)
    if nonfinite == "error":
        return _raise_nonfinite(path, values, columns, rows, cols, bad)
    out = values.copy()
    out[bad] = np.nan
    frame = pd.DataFrame(out).interpolate(method="linear", limit_direction="both")
    empty = frame.isna().all().to_numpy()
    if empty.any():
        col = columns[int(np.flatnonzero(empty)[0])]
        raise DataFormatError(f"{path}: column {col!r} has no finite value to interpolate from")
    return frame.to_numpy(dtype=values.dtype)


def _raise_nonfinite(path, values, columns, rows, cols, bad):
    value = values[rows[0], cols[0]]
    raise DataFormatError(
        f"{path}: {int(bad.sum())} non-finite value(s) ({value} first, column "
        f"{columns[cols[0]]!r}, data row {rows[0]}); pass nonfinite='interpolate' or "
        f"'keep' to load anyway")


def check_labels(path: Path, labels: np.ndarray) -> np.ndarray:
    """Validate a 0/1 label vector read from ``path`` and return it as int8."""
    labels = np.asarray(labels)
    if not np.isfinite(labels).all():
        raise DataFormatError(f"{path}: labels contain NaN or inf")
    bad = ~np.isin(labels, (0, 1))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataFormatError(f"{path}: labels must be 0 or 1, found {labels[row].item()!r} at row {row}")
    return labels.astype(np.int8)


def check_same_length(label_path: Path, n_labels: int, data_path: Path, n_rows: int) -> None:
    if n_labels != n_rows:
        raise DataFormatError(
            f"{label_path}: {n_labels} labels but {data_path} has {n_rows} rows")


def check_same_columns(train_path: Path, n_train: int, test_path: Path, n_test: int) -> None:
    if n_train != n_test:
        raise DataFormatError(
            f"{test_path}: {n_test} columns but {train_path} has {n_train}")
