"""Bad input gets a clear error naming the file and the problem (one test per kind)."""

import gzip
import re
import shutil

import numpy as np
import pytest

from tsad_helpers import datasets
from tsad_helpers.datasets import DataFormatError, DatasetNotFoundError


@pytest.fixture
def root(fixture_root, tmp_path):
    """A private, writable copy of the fixture data root."""
    dst = tmp_path / "root"
    shutil.copytree(fixture_root, dst)
    return dst


def _rewrite_gz(path, transform):
    text = gzip.decompress(path.read_bytes()).decode()
    path.write_bytes(gzip.compress(transform(text).encode()))


def test_missing_file_names_path_and_root(root):
    (root / "SMD/test_label/machine-1-1.txt.gz").unlink()
    with pytest.raises(DatasetNotFoundError, match=r"SMD/test_label/machine-1-1.txt.*data root"):
        datasets.load("smd", "machine-1-1", root=root)


def test_missing_dataset_folder(tmp_path):
    with pytest.raises(DatasetNotFoundError, match=r"SMD/train: folder not found"):
        datasets.entities("smd", tmp_path)


def test_unknown_entity_lists_known_ones(root):
    with pytest.raises(DatasetNotFoundError, match=r"no entity 'machine-9-9'.*machine-1-1"):
        datasets.load("smd", "machine-9-9", root=root)


def test_truncated_gzip_names_file(root):
    path = root / "SMD/train/machine-1-1.txt.gz"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(DataFormatError, match=re.escape(str(path)) + ".*truncated or corrupt gzip"):
        datasets.load("smd", "machine-1-1", root=root)


def test_truncated_npy_gzip(root):
    path = root / "SMAP_MSL/test/A-1.npy.gz"
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(DataFormatError, match=r"A-1.npy.gz: truncated or corrupt gzip"):
        datasets.load("smap", "A-1", root=root)


def test_wrong_column_count(root):
    path = root / "SMD/test/machine-1-1.txt.gz"
    _rewrite_gz(path, lambda t: "\n".join(",".join(r.split(",")[:37]) for r in t.splitlines()))
    with pytest.raises(DataFormatError, match=r"test/machine-1-1.txt.gz: expected 38 columns, found 37"):
        datasets.load("smd", "machine-1-1", root=root)


def test_ragged_row(root):
    path = root / "ASD/omi-1_train.csv"
    lines = path.read_text().splitlines()
    lines[5] += ",0.5"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataFormatError, match=r"omi-1_train.csv: ragged row: line 6 has 20 fields, the first line 19"):
        datasets.load("asd", "omi-1", root=root)


def test_label_length_mismatch(root):
    path = root / "ASD/omi-1_test_label.csv"
    path.write_text("\n".join(path.read_text().splitlines()[:-3]) + "\n")
    with pytest.raises(DataFormatError, match=r"omi-1_test_label.csv: 117 labels but .*omi-1_test.csv has 120 rows"):
        datasets.load("asd", "omi-1", root=root)


@pytest.mark.parametrize("token", ["nan", "inf", "-inf"])
def test_nonfinite_values(root, token):
    path = root / "ASD/omi-1_test.csv"
    lines = path.read_text().splitlines()
    cells = lines[7].split(",")
    cells[4] = token
    lines[7] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataFormatError, match=r"omi-1_test.csv: 1 non-finite.*column 'm05', data row 7"):
        datasets.load("asd", "omi-1", root=root)
    ds = datasets.load("asd", "omi-1", root=root, nonfinite="interpolate")
    assert np.isfinite(ds.test).all()
    assert ds.test[7, 4] == pytest.approx((ds.test[6, 4] + ds.test[8, 4]) / 2, rel=1e-5)


def test_unknown_nonfinite_option(root):
    with pytest.raises(ValueError, match="nonfinite must be one of"):
        datasets.load("asd", "omi-1", root=root, nonfinite="zero")


def test_non_numeric_cell(root):
    path = root / "ASD/omi-2_train.csv"
    lines = path.read_text().splitlines()
    cells = lines[3].split(",")
    cells[2] = "oops"
    lines[3] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataFormatError, match=r"omi-2_train.csv: non-numeric value 'oops' in column 2, data row 3"):
        datasets.load("asd", "omi-2", root=root)


def test_labels_not_binary(root):
    path = root / "ASD/omi-1_test_label.csv"
    lines = path.read_text().splitlines()
    lines[10] = "2"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataFormatError, match=r"omi-1_test_label.csv: labels must be 0 or 1, found 2.0 at row 10"):
        datasets.load("asd", "omi-1", root=root)


def test_empty_file(root):
    (root / "ASD/omi-1_train.csv").write_text("")
    with pytest.raises(DataFormatError, match=r"omi-1_train.csv: file is empty"):
        datasets.load("asd", "omi-1", root=root)


def test_train_test_channel_mismatch_npy(root):
    import io
    buf = io.BytesIO()
    np.save(buf, np.zeros((10, 24)))
    (root / "SMAP_MSL/train/A-1.npy.gz").write_bytes(gzip.compress(buf.getvalue()))
    with pytest.raises(DataFormatError, match=r"test/A-1.npy.gz: 25 columns but .*train/A-1.npy.gz has 24"):
        datasets.load("smap", "A-1", root=root)


def test_smap_label_length_and_range(root):
    path = root / "SMAP_MSL/labeled_anomalies.csv"
    path.write_text(path.read_text().replace(",180\n", ",181\n", 1))
    with pytest.raises(DataFormatError, match=r"labeled_anomalies.csv: A-1 num_values 181"):
        datasets.load("smap", "A-1", root=root)
    path.write_text(path.read_text().replace("[120, 124]", "[170, 190]"))
    with pytest.raises(DataFormatError, match=r"sequence \[170, 190\] outside the 180 test rows"):
        datasets.load("msl", "C-1", root=root)


def test_nab_bad_timestamp_and_value(root):
    path = root / "NAB/data/realKnownCause/fixture_a.csv.gz"
    _rewrite_gz(path, lambda t: t.replace("2014-04-01 00:10:00", "not a time"))
    with pytest.raises(DataFormatError, match=r"fixture_a.csv.gz: unparseable timestamp 'not a time' at data row 2"):
        datasets.load("nab", "realKnownCause/fixture_a", root=root)
    path = root / "NAB/data/artificialNoAnomaly/fixture_flat.csv.gz"
    _rewrite_gz(path, lambda t: t.replace(t.splitlines()[4].split(",")[1], "x", 1))
    with pytest.raises(DataFormatError, match=r"fixture_flat.csv.gz: non-numeric value 'x'"):
        datasets.load("nab", "artificialNoAnomaly/fixture_flat", root=root)


def test_ucr_name_and_values(root):
    path = next((root / "UCR").glob("*.gz"))
    _rewrite_gz(path, lambda t: t.replace(t.split()[9], "bad", 1))
    with pytest.raises(DataFormatError, match=r"UCR.*: non-numeric value 'bad' at position 9"):
        datasets.load("ucr", "001", root=root)
    short = root / "UCR/002_UCR_Anomaly_Short_200_401_420.txt"
    short.write_text("1.0\n" * 300)
    with pytest.raises(DataFormatError, match=r"anomaly 401..420, but the series has 300 values"):
        datasets.load("ucr", "002", root=root)


def test_psm_label_timestamps_must_match(root):
    path = root / "PSM/test_label.csv"
    path.write_text(path.read_text().replace("\n300.000000,", "\n299.500000,", 1))
    with pytest.raises(DataFormatError, match=r"PSM/test_label.csv: timestamps do not match"):
        datasets.load("psm", root=root, nonfinite="keep")


def test_interpretation_label_syntax(root):
    (root / "SMD/interpretation_label/machine-1-1.txt").write_text("10-20:1,2\nbroken line\n")
    with pytest.raises(DataFormatError, match=r"machine-1-1.txt: line 2 is not 'start-end:d1,d2,...'"):
        datasets.load("smd", "machine-1-1", root=root)
