"""Small files in each real loader's upstream layout, written from seeded random data.

They let the loaders be tested on any machine (no real data needed) and show a user exactly
what layout each loader expects. ``python -m tsad_helpers datasets fixtures --out data_test``
writes them; the copies committed under ``data_test/`` are regenerated and compared by the tests.
Files are written plain or gzip-compressed (``compress``); gzip output has a fixed mtime so the
bytes are reproducible.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd

LAYOUTS = ("smd", "asd", "smap_msl", "nab", "ucr", "psm")


def _series(rng, length, channels, low=0.0, high=1.0):
    t = np.arange(length)[:, None]
    x = np.sin(2 * np.pi * t / 24 + rng.uniform(0, 6, channels)) + rng.normal(0, 0.1, (length, channels))
    x = (x - x.min(0)) / (x.max(0) - x.min(0))
    return low + (high - low) * x


def _labels(length, segments):
    y = np.zeros(length, dtype=int)
    for a, b in segments:
        y[a:b + 1] = 1
    return y


def _write(path: Path, text: str, compress: bool) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode()
    if compress:
        path = path.with_name(path.name + ".gz")
        data = gzip.compress(data, mtime=0)
    path.write_bytes(data)
    return path


def _csv(values: np.ndarray, fmt: str = "%.6f") -> str:
    return "\n".join(",".join(fmt % v for v in row) for row in np.atleast_2d(values)) + "\n"


def _npy_bytes(arr: np.ndarray) -> bytes:
    import io
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


def write_smd(root: Path, rng, compress=True):
    for i, entity in enumerate(("machine-1-1", "machine-1-2")):
        train, test = _series(rng, 200, 38), _series(rng, 200, 38)
        test[:, 5] = 0.0  # a constant channel, as real SMD machines have
        segs = [(50 + 10 * i, 59 + 10 * i), (150, 152)]
        _write(root / f"SMD/train/{entity}.txt", _csv(train), compress)
        _write(root / f"SMD/test/{entity}.txt", _csv(test), compress)
        _write(root / f"SMD/test_label/{entity}.txt", _csv(_labels(200, segs)[:, None], "%d"),
               compress)
        interp = "".join(f"{a}-{b}:1,2\n" for a, b in segs)
        _write(root / f"SMD/interpretation_label/{entity}.txt", interp, False)


def write_asd(root: Path, rng, compress=False):
    for entity in ("omi-1", "omi-2"):
        _write(root / f"ASD/{entity}_train.csv", _csv(_series(rng, 240, 19)), compress)
        _write(root / f"ASD/{entity}_test.csv", _csv(_series(rng, 120, 19)), compress)
        _write(root / f"ASD/{entity}_test_label.csv",
               _csv(_labels(120, [(30, 44)])[:, None], "%d"), compress)
        _write(root / f"ASD/interpretation_label/{entity}.txt", "30-44:3,4\n", False)  # inclusive end


def write_smap_msl(root: Path, rng, compress=True):
    rows = []
    for chan, craft, cols in (("A-1", "SMAP", 25), ("P-2", "SMAP", 25), ("C-1", "MSL", 55)):
        for part, length in (("train", 150), ("test", 180)):
            arr = np.zeros((length, cols))
            arr[:, 0] = _series(rng, length, 1, -1, 1)[:, 0]
            arr[rng.integers(0, length, 10), rng.integers(1, cols, 10)] = 1.0
            data = _npy_bytes(arr)
            path = root / f"SMAP_MSL/{part}/{chan}.npy"
            path.parent.mkdir(parents=True, exist_ok=True)
            if compress:
                path.with_name(path.name + ".gz").write_bytes(gzip.compress(data, mtime=0))
            else:
                path.write_bytes(data)
        rows.append((chan, craft, "[[40, 59], [120, 124]]", "[contextual, point]", 180))
    rows.append(("P-2", "SMAP", "[[55, 70]]", "[point]", 180))  # duplicated row, as upstream
    table = pd.DataFrame(rows, columns=["chan_id", "spacecraft", "anomaly_sequences", "class",
                                        "num_values"])
    _write(root / "SMAP_MSL/labeled_anomalies.csv", table.to_csv(index=False), False)


def write_nab(root: Path, rng, compress=True):
    stamps = pd.date_range("2014-04-01", periods=300, freq="5min")
    windows, labels = {}, {}
    for name in ("realKnownCause/fixture_a", "artificialNoAnomaly/fixture_flat"):
        values = 100 * _series(rng, 300, 1)[:, 0]
        frame = pd.DataFrame({"timestamp": stamps.strftime("%Y-%m-%d %H:%M:%S"),
                              "value": np.round(values, 3)})
        _write(root / f"NAB/data/{name}.csv", frame.to_csv(index=False), compress)
        anomalous = name.startswith("real")
        fmt = "%Y-%m-%d %H:%M:%S.%f"
        windows[f"{name}.csv"] = ([[stamps[200].strftime(fmt), stamps[219].strftime(fmt)]]
                                  if anomalous else [])
        labels[f"{name}.csv"] = [stamps[210].strftime(fmt)] if anomalous else []
    _write(root / "NAB/labels/combined_windows.json", json.dumps(windows, indent=4), False)
    _write(root / "NAB/labels/combined_labels.json", json.dumps(labels, indent=4), False)


def write_ucr(root: Path, rng, compress=True):
    values = 60 + 5 * _series(rng, 600, 1)[:, 0]
    text = "".join(f"{v:15.7e}\n" for v in values)
    _write(root / "UCR/001_UCR_Anomaly_Fixture_200_401_420.txt", text, compress)


def write_psm(root: Path, rng, compress=False):
    channels = [f"feature_{i}" for i in range(25)]
    n_train, n_test = 300, 200
    train = pd.DataFrame(_series(rng, n_train, 25), columns=channels)
    train.iloc[[10, 11], 3] = np.nan  # upstream PSM train has NaN cells
    test = pd.DataFrame(_series(rng, n_test, 25), columns=channels)
    train.insert(0, "timestamp_(min)", np.arange(n_train, dtype=float))
    test.insert(0, "timestamp_(min)", np.arange(n_train, n_train + n_test, dtype=float))
    label = pd.DataFrame({"timestamp_(min)": test["timestamp_(min)"],
                          "label": _labels(n_test, [(50, 80)])})
    for name, frame in (("train", train), ("test", test), ("test_label", label)):
        _write(root / f"PSM/{name}.csv", frame.to_csv(index=False, float_format="%.6f"), compress)


_WRITERS = {"smd": write_smd, "asd": write_asd, "smap_msl": write_smap_msl, "nab": write_nab,
            "ucr": write_ucr, "psm": write_psm}


def write_fixtures(root: Path, layouts=LAYOUTS, seed: int = 0) -> Path:
    """Write the fixture files of ``layouts`` under ``root``; returns ``root``."""
    root = Path(root)
    for i, name in enumerate(layouts):
        _WRITERS[name](root, np.random.default_rng([seed, i]))
    return root
