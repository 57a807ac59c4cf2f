"""Writing results atomically: a reader (or an interrupted run) never sees half a file.

Each writer writes to a hidden temporary file in the target folder and renames it over the
target, which is atomic on POSIX file systems.
"""

from __future__ import annotations

import gzip
import io
import json
import math
import os
import tempfile
import warnings
from contextlib import contextmanager
from pathlib import Path

import matplotlib.pyplot as plt

REPO_ROOT = Path(__file__).resolve().parents[1]
# gzip level of .gz tables: on the CV runs table, level 9 takes twice as long as 6 for a file
# 1 % smaller (level 1: a quarter of the time, 20 % larger)
GZIP_LEVEL = 6


def results_dir(profile: str, out_dir=None) -> Path:
    """Where a notebook writes its tables and figures: ``out_dir`` when given (the runner
    passes it), else ``<repo>/simulation_results/<profile>``."""
    return Path(out_dir) if out_dir else REPO_ROOT / "simulation_results" / profile


def loss_dir(run: str, *parts: str) -> Path:
    """Folder of a run's loss logs: ``<repo>/loss/<run>/<part>/...`` (run: a profile or a
    benchmark's name; parts such as dataset and entity; a '/' inside a part, as in NAB entity
    names, becomes '__')."""
    return REPO_ROOT / "loss" / run / Path(*[str(p).replace("/", "__") for p in parts])


def loss_folder(run: str, loss_root=None, *parts: str) -> Path:
    """``loss_root/<parts>`` when a run was given its own folder for loss logs (``run --out``
    passes ``<out>/loss``), else :func:`loss_dir` (the repository's ``loss/<run>/...``)."""
    if loss_root:
        return Path(loss_root, *[str(p).replace("/", "__") for p in parts])
    return loss_dir(run, *parts)


def loss_log_path(run: str, *parts: str) -> Path:
    """One loss log: ``loss_dir(run, *parts[:-1]) / "<last part>.csv"``."""
    if not parts:
        raise ValueError("loss_log_path: give at least the file's name")
    return loss_dir(run, *parts[:-1]) / f"{str(parts[-1]).replace('/', '__')}.csv"


@contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; rename it to ``path`` if the block succeeds.
    The file gets the usual permissions (``0o666`` less the umask), not the temporary file's
    private ``0o600``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}")
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def check_output_file(path) -> Path:
    """An output file the user named, checked before any work is done: not empty, not a
    folder, in an existing folder that can be written to, not a read-only file."""
    if path is None or not str(path).strip():
        raise ValueError("--out: give a file name (it is empty)")
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"--out {path}: is a folder; give a file name")
    parent = path.parent
    if not parent.is_dir():
        raise ValueError(f"--out {path}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"--out {path}: folder {parent} is not writable")
    if path.exists() and not os.access(path, os.W_OK):
        raise ValueError(f"--out {path}: the file exists and is read-only")
    return path


def check_output_folder(path) -> Path:
    """An output folder the user named, checked before any work is done: not empty, not a
    file, writable where it exists (else its nearest existing parent must be)."""
    if path is None or not str(path).strip():
        raise ValueError("--out: give a folder (it is empty)")
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"--out {path}: is a file; give a folder (it is created if missing)")
    existing = next(p for p in [path, *path.parents] if p.exists())
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"--out {path}: {existing} is not a writable folder")
    return path


def save_figure(fig, path, dpi: int = 110) -> Path:
    """Write a matplotlib figure (format from the suffix) atomically and close it."""
    with atomic_path(path) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fig.savefig(tmp, dpi=dpi, format=Path(path).suffix.lstrip(".") or "png")
    plt.close(fig)
    return Path(path)


def save_table(frame, path, **to_csv) -> Path:
    """Write a DataFrame as CSV atomically (no index unless asked); gzip-compressed when
    ``path`` ends in ``.gz``, with no time or file name in the gzip header, so the same table
    gives the same bytes."""
    to_csv.setdefault("index", False)
    with atomic_path(path) as tmp:
        if str(path).endswith(".gz"):
            with open(tmp, "wb") as raw, \
                    gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0,
                                  compresslevel=GZIP_LEVEL) as packed, \
                    io.TextIOWrapper(packed, encoding="utf-8", newline="") as text:
                frame.to_csv(text, **to_csv)
        else:
            frame.to_csv(tmp, **to_csv)
    return Path(path)


def _plain(obj):
    """JSON-ready copy: NaN/inf become null (strict JSON), numpy scalars become numbers."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if hasattr(obj, "item") and getattr(obj, "ndim", 1) == 0:
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def save_json(obj, path) -> Path:
    """Write strict JSON atomically (NaN and inf as null)."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(_plain(obj), indent=2, sort_keys=True, default=str,
                                  allow_nan=False) + "\n")
    return Path(path)


def seed_spread(runs, metric: str, seed: str = "seed"):
    """The spread over seeds of a mean over entities: the standard deviation (ddof=1) of the
    per-seed means of ``metric`` in ``runs`` (a DataFrame); None with fewer than two seeds."""
    means = runs.groupby(seed)[metric].mean().dropna()
    return float(means.std(ddof=1)) if len(means) >= 2 else None


def seed_sd(summarise, table, by, columns, seed: str = "seed"):
    """The spread over seeds of a grouped summary: ``summarise(table, [*by, seed])`` (a frame
    indexed by those keys, e.g. counts pooled over entities) computed per seed, then the
    standard deviation (ddof=1) of ``columns`` over the seeds of each ``by`` group, as columns
    ``<column>_seed_sd``; NaN where a group has fewer than two seeds."""
    per_seed = summarise(table, [*by, seed])
    sd = per_seed[list(columns)].groupby(level=list(by)).std(ddof=1)
    return sd.add_suffix("_seed_sd")
