"""Checksums of the known data files, and their verification and download.

``checksums.csv`` (shipped in this package) lists one row per known file: the dataset, its path
under the data root in the upstream name (without ``.gz``), the sha256 of its *content* (the
decompressed bytes, so a plain file and its ``.gz`` copy verify alike), the upstream URL at a
pinned commit, and whether the upstream file is byte-identical to the recorded content.
The table is written by :func:`build_table` from a verified copy of the data
(``python -m tsad_helpers datasets checksums --write``).
"""

from __future__ import annotations

import csv
import hashlib
import os
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from ._io import DatasetNotFoundError, read_bytes, strip_gz

TABLE = Path(__file__).with_name("checksums.csv")
FIELDS = ("dataset", "path", "sha256", "url", "upstream_identical")

_GH = "https://raw.githubusercontent.com"
_SOURCES = {  # folder under the data root -> (dataset, URL prefix, path rewrite)
    "SMD": ("smd", f"{_GH}/NetManAIOps/OmniAnomaly/7fb0e0acf89ea49908896bcc9f9e80fcfff6baf4/"
                   "ServerMachineDataset"),
    "SMAP_MSL": ("smap_msl", f"{_GH}/imperial-qore/TranAD/7ffb98d0c18189cc3d9ab732b4cb0278200a0af0"
                             "/data/SMAP_MSL"),
    "NAB": ("nab", f"{_GH}/numenta/NAB/ea702d75cc2258d9d7dd35ca8e5e2539d71f3140"),
    "UCR": ("ucr", f"{_GH}/imperial-qore/TranAD/7ffb98d0c18189cc3d9ab732b4cb0278200a0af0/data/UCR"),
    "TimeGAN": ("timegan", f"{_GH}/jsyoon0823/TimeGAN/8f6181cb9b9d2fa0c930cd902411d9ac8a308e07"
                           "/data"),
    "PSM": ("psm", f"{_GH}/eBay/RANSynCoders/948e61eb579815ff2a6bce721332d8220d59ca47/data"),
    "ASD": ("asd", ""),  # upstream ships Python pickles; the CSV copies have no upstream URL
}
_TELEMANOM_LABELS = (f"{_GH}/khundman/telemanom/2e6c5b6c3558e7835601519b7bdef37c649bdbdc/"
                     "labeled_anomalies.csv")
# upstream files that are known but not in the verified copy: no checksum recorded
_UNRECORDED = ("PSM/train.csv", "PSM/test.csv")
# files whose recorded content is a filtered subset of the upstream file
_SUBSETS = ("NAB/labels/combined_windows.json", "NAB/labels/combined_labels.json")


@dataclass(frozen=True)
class Entry:
    dataset: str
    path: str
    sha256: str
    url: str
    upstream_identical: bool


def _url_for(path: str) -> str:
    folder, _, rest = path.partition("/")
    if path == "SMAP_MSL/labeled_anomalies.csv":
        return _TELEMANOM_LABELS
    prefix = _SOURCES[folder][1]
    return f"{prefix}/{rest}" if prefix else ""


def _entry(path: str, sha: str) -> Entry:
    folder = path.split("/", 1)[0]
    dataset = _SOURCES[folder][0]
    url = _url_for(path)
    identical = bool(url) and bool(sha) and path not in _SUBSETS
    return Entry(dataset, path, sha, url, identical)


def sha256_of(path: Path) -> str:
    """sha256 of the content of ``path`` (decompressed first when it ends in ``.gz``)."""
    return hashlib.sha256(read_bytes(path)).hexdigest()


def build_table(root: Path) -> list[Entry]:
    """Hash every data file under ``root`` whose top folder is a known source."""
    root = Path(root)
    entries = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if not path.is_file() or rel.split("/", 1)[0] not in _SOURCES or path.name == "README.md":
            continue
        entries.append(_entry(strip_gz(rel), sha256_of(path)))
    known = {e.path for e in entries}
    entries += [_entry(p, "") for p in _UNRECORDED if p not in known]
    return sorted(entries, key=lambda e: e.path)


def write_table(entries: list[Entry], path: Path | None = None) -> None:
    path = Path(path or TABLE)
    tmp = Path(f"{path}.tmp")
    with open(tmp, "w", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(FIELDS)
        for e in entries:
            writer.writerow([e.dataset, e.path, e.sha256, e.url, int(e.upstream_identical)])
    os.replace(tmp, path)


def read_table(path: Path | None = None) -> list[Entry]:
    with open(path or TABLE, newline="") as fh:
        return [Entry(r["dataset"], r["path"], r["sha256"], r["url"],
                      r["upstream_identical"] == "1") for r in csv.DictReader(fh)]


def select(entries: list[Entry], names: list[str] | None) -> list[Entry]:
    """Entries of the named datasets (``smap`` and ``msl`` share the ``smap_msl`` files)."""
    if not names:
        return entries
    wanted = {"smap_msl" if n in ("smap", "msl") else n for n in (n.lower() for n in names)}
    unknown = wanted - {e.dataset for e in entries}
    if unknown:
        raise ValueError(f"no checksums for {sorted(unknown)}; known: "
                         f"{sorted({e.dataset for e in entries})}")
    return [e for e in entries if e.dataset in wanted]


def _local(root: Path, rel: str) -> Path | None:
    for candidate in (root / rel, root / f"{rel}.gz"):
        if candidate.is_file():
            return candidate
    return None


def verify(root: Path, entries: list[Entry]) -> list[tuple[Entry, str]]:
    """Status per entry: ``ok``, ``missing``, ``MISMATCH``, ``no checksum`` or ``ERROR: ...``."""
    results = []
    for e in entries:
        path = _local(Path(root), e.path)
        if path is None:
            results.append((e, "missing"))
        elif not e.sha256:
            results.append((e, "no checksum"))
        else:
            try:
                results.append((e, "ok" if sha256_of(path) == e.sha256 else "MISMATCH"))
            except ValueError as exc:
                results.append((e, f"ERROR: {exc}"))
    return results


def download(root: Path, entries: list[Entry], mirror: str | None = None,
             progress=None) -> list[tuple[Entry, str]]:
    """Fetch each entry into ``root/<path>`` (plain, not compressed), atomically.

    mirror: a base URL (``file:///...`` or ``http://...``) holding the same relative paths,
    instead of the upstream URLs. Files already present with the right checksum are kept.
    A download whose checksum differs from the table is removed and reported ``MISMATCH``;
    one with no recorded checksum (or a filtered upstream subset) is kept and reported
    ``unverified``. Returns (entry, status) pairs.
    """
    root = Path(root)
    results = []
    for e in (progress(entries) if progress else entries):
        local = _local(root, e.path)
        if local is not None and e.sha256 and sha256_of(local) == e.sha256:
            results.append((e, "present"))
            continue
        url = f"{mirror.rstrip('/')}/{e.path}" if mirror else e.url
        if not url:
            results.append((e, "no upstream URL (see MANIFEST: converted from pickles)"))
            continue
        results.append((e, _fetch(root, e, url, check=bool(e.sha256) and
                                  (e.upstream_identical or bool(mirror)))))
    return results


def _fetch(root: Path, e: Entry, url: str, check: bool) -> str:
    target = root / e.path
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as src:
            while chunk := src.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
        if check and digest.hexdigest() != e.sha256:
            os.unlink(tmp)
            return f"MISMATCH (got {digest.hexdigest()[:12]}, expected {e.sha256[:12]})"
        os.replace(tmp, target)
    except OSError as exc:  # URLError is an OSError
        if os.path.exists(tmp):
            os.unlink(tmp)
        return f"ERROR: {url}: {exc}"
    return "ok" if check else "unverified"


def require_table() -> list[Entry]:
    if not TABLE.is_file():
        raise DatasetNotFoundError(f"{TABLE}: checksum table missing from the package")
    return read_table()
