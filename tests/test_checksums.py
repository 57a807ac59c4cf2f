"""Checksum table, verify, and download against local mirrors (file:// and loopback HTTP)."""

import functools
import http.server
import re
import shutil
import threading

import pytest

from tsad_helpers.cli import main
from tsad_helpers.datasets import checksums

from .conftest import need


@pytest.fixture
def table(fixture_root):
    """Checksums of the fixture files, as build_table writes them."""
    return checksums.build_table(fixture_root)


def test_table_covers_fixture_files(table):
    paths = {e.path for e in table}
    assert "SMD/train/machine-1-1.txt" in paths  # .gz stripped: the upstream name
    assert "ASD/omi-1_test.csv" in paths
    smd = next(e for e in table if e.path == "SMD/train/machine-1-1.txt")
    assert smd.url.endswith("/ServerMachineDataset/train/machine-1-1.txt")
    assert smd.upstream_identical and re.fullmatch(r"[0-9a-f]{64}", smd.sha256)
    assert not next(e for e in table if e.path.startswith("ASD/")).url


def test_table_roundtrip(table, tmp_path):
    checksums.write_table(table, tmp_path / "t.csv")
    assert checksums.read_table(tmp_path / "t.csv") == table


def test_verify_ok_missing_and_mismatch(fixture_root, table, tmp_path):
    root = tmp_path / "root"
    shutil.copytree(fixture_root, root)
    status = dict((e.path, s) for e, s in checksums.verify(root, table))
    assert set(status.values()) == {"ok"}
    (root / "ASD/omi-1_test.csv").write_text("0\n")
    (root / "ASD/omi-2_test.csv").unlink()
    status = dict((e.path, s) for e, s in checksums.verify(root, table))
    assert status["ASD/omi-1_test.csv"] == "MISMATCH"
    assert status["ASD/omi-2_test.csv"] == "missing"


def test_select_by_dataset(table):
    assert {e.dataset for e in checksums.select(table, ["smap"])} == {"smap_msl"}
    with pytest.raises(ValueError, match="no checksums for"):
        checksums.select(table, ["nope"])


def _mirror(fixture_root, tmp_path):
    """A mirror with the upstream (decompressed) files."""
    import gzip
    mirror = tmp_path / "mirror"
    for src in fixture_root.rglob("*"):
        if src.is_file():
            rel = src.relative_to(fixture_root)
            dst = mirror / (str(rel)[:-3] if src.suffix == ".gz" else rel)
            dst.parent.mkdir(parents=True, exist_ok=True)
            data = src.read_bytes()
            dst.write_bytes(gzip.decompress(data) if src.suffix == ".gz" else data)
    return mirror


def test_download_from_file_mirror(fixture_root, table, tmp_path):
    mirror = _mirror(fixture_root, tmp_path)
    root = tmp_path / "new_root"
    smd = checksums.select(table, ["smd"])
    results = checksums.download(root, smd, mirror=mirror.as_uri())
    assert {s for _, s in results} == {"ok"}
    assert {s for _, s in checksums.verify(root, smd)} == {"ok"}
    # a second run keeps what is there
    assert {s for _, s in checksums.download(root, smd, mirror=mirror.as_uri())} == {"present"}
    from tsad_helpers import datasets
    assert datasets.load("smd", "machine-1-1", root=root).test.shape == (200, 38)


def test_download_rejects_corrupt_file(fixture_root, table, tmp_path):
    mirror = _mirror(fixture_root, tmp_path)
    (mirror / "UCR/001_UCR_Anomaly_Fixture_200_401_420.txt").write_text("1\n2\n")
    root = tmp_path / "new_root"
    (entry, status), = checksums.download(root, checksums.select(table, ["ucr"]),
                                          mirror=mirror.as_uri())
    assert status.startswith("MISMATCH")
    assert not any((root / "UCR").iterdir())  # nothing half-written or wrong is left


def test_download_reports_unreachable(table, tmp_path):
    (entry, status), = checksums.download(tmp_path, checksums.select(table, ["ucr"]),
                                          mirror=(tmp_path / "nowhere").as_uri())
    assert status.startswith("ERROR") and "UCR/001" in status


@pytest.fixture
def http_mirror(fixture_root, tmp_path):
    mirror = _mirror(fixture_root, tmp_path)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(mirror))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_download_over_loopback_http(http_mirror, table, tmp_path):
    root = tmp_path / "root"
    results = checksums.download(root, checksums.select(table, ["smap"]), mirror=http_mirror)
    assert {s for _, s in results} == {"ok"}
    from tsad_helpers import datasets
    assert datasets.entities("smap", root) == ["A-1", "P-2"]


def test_cli_download_and_verify(http_mirror, table, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(checksums, "TABLE", tmp_path / "table.csv")
    checksums.write_table(table, checksums.TABLE)
    root = tmp_path / "root"
    assert main(["datasets", "download", "ucr", "--data-dir", str(root),
                 "--mirror", http_mirror]) == 0
    assert main(["datasets", "verify", "ucr", "--data-dir", str(root)]) == 0
    (root / "UCR/001_UCR_Anomaly_Fixture_200_401_420.txt").write_text("0\n")
    assert main(["datasets", "verify", "ucr", "--data-dir", str(root)]) == 1
    assert "MISMATCH" in capsys.readouterr().out


@pytest.mark.realdata
def test_shipped_table_verifies_shared_data_and_agrees_with_manifest(real_root):
    """Every shared file verifies against the shipped table, and every recorded hash is one
    that MANIFEST.md states (after gunzip, or of the stored plain file)."""
    need(real_root, "SMD")
    table = checksums.read_table()
    results = checksums.verify(real_root, table)
    bad = [(e.path, s) for e, s in results if s not in ("ok",) and e.sha256]
    assert not bad
    manifest = real_root / "MANIFEST.md"
    if manifest.is_file():
        stated = set(re.findall(r"`([0-9a-f]{64})`", manifest.read_text()))
        assert {e.sha256 for e in table if e.sha256} <= stated
