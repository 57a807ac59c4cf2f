"""A battery of broken files, one per way a file can be broken, for every loader: each must
be refused with a DataFormatError (or DatasetNotFoundError) whose message names the file and
says what is wrong; and valid variants of the layouts (CRLF line ends, a UTF-8 byte-order
mark, plain instead of gzip, float16 or boolean .npy) must load. No case may end in another
exception (a traceback a user cannot act on) or load silently."""

import gzip
import io
import json
import shutil

import numpy as np
import pytest

from tsad_helpers import datasets
from tsad_helpers.datasets import DataFormatError, DatasetNotFoundError

SMD_TEST = "SMD/test/machine-1-1.txt.gz"
SMD_INTERP = "SMD/interpretation_label/machine-1-1.txt"
ASD_TRAIN = "ASD/omi-1_train.csv"
ASD_INTERP = "ASD/interpretation_label/omi-1.txt"
NASA_TEST = "SMAP_MSL/test/A-1.npy.gz"
NASA_TRAIN = "SMAP_MSL/train/A-1.npy.gz"
NASA_LABELS = "SMAP_MSL/labeled_anomalies.csv"
NAB_DATA = "NAB/data/realKnownCause/fixture_a.csv.gz"
NAB_WINDOWS = "NAB/labels/combined_windows.json"
NAB_KEY = "realKnownCause/fixture_a.csv"
UCR_FILE = "UCR/001_UCR_Anomaly_Fixture_200_401_420.txt.gz"
PSM_TRAIN = "PSM/train.csv"
PSM_LABEL = "PSM/test_label.csv"
ENTITY = {"smd": "machine-1-1", "asd": "omi-1", "smap": "A-1", "nab": "realKnownCause/fixture_a",
          "ucr": "001", "psm": "psm"}


def _read(path):
    data = path.read_bytes()
    return (gzip.decompress(data) if path.suffix == ".gz" else data).decode()


def _write(path, text):
    data = text.encode()
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)


def text(rel, change):
    def corrupt(root):
        _write(root / rel, change(_read(root / rel)))
    return corrupt


def line(rel, index, change):
    def edit(t):
        lines = t.splitlines()
        lines[index] = change(lines[index])
        return "\n".join(lines) + "\n"
    return text(rel, edit)


def npy(rel, arr):
    def corrupt(root):
        buf = io.BytesIO()
        np.save(buf, arr, allow_pickle=True)
        data = buf.getvalue()
        (root / rel).write_bytes(gzip.compress(data) if rel.endswith(".gz") else data)
    return corrupt


def windows(change):
    def edit(t):
        w = json.loads(t)
        change(w)
        return json.dumps(w)
    return text(NAB_WINDOWS, edit)


def rows(rel, keep):
    return text(rel, lambda t: "\n".join(keep(t.splitlines())) + "\n")


def rename(rel, new):
    return lambda root: (root / rel).rename(root / new)


def copy(rel, new):
    return lambda root: shutil.copy(root / rel, root / new)


# (dataset, case, corruption, regex the message must match after the file's path)
BROKEN = [
    ("smd", "row missing a field", line(SMD_TEST, 3, lambda s: s.rsplit(",", 1)[0]),
     r"test/machine-1-1.txt.gz: ragged row: line 4 has 37 fields"),
    ("smd", "row with an extra field", line(SMD_TEST, 3, lambda s: s + ",1"),
     r"test/machine-1-1.txt.gz: ragged row: line 4 has 39 fields"),
    ("smd", "text in a cell", line(SMD_TEST, 2, lambda s: "x" + s[1:]),
     r"test/machine-1-1.txt.gz: non-numeric value"),
    ("smd", "empty cell", line(SMD_TEST, 3, lambda s: s.rsplit(",", 1)[0] + ","),
     r"test/machine-1-1.txt.gz: 1 non-finite value"),
    ("smd", "interpretation past the series", text(SMD_INTERP, lambda t: t + "190-260:1\n"),
     r"machine-1-1.txt: '190-260:1' ends past the 200 test rows"),
    ("smd", "interpretation range reversed", text(SMD_INTERP, lambda t: t + "60-50:1\n"),
     r"machine-1-1.txt: line 3: reversed or empty range"),
    ("smd", "interpretation channel past the count", text(SMD_INTERP, lambda t: t + "1-9:39\n"),
     r"machine-1-1.txt: '1-9:39' names channel 39 of 38"),
    ("smd", "interpretation channel 0", text(SMD_INTERP, lambda t: t + "1-9:0\n"),
     r"machine-1-1.txt: line 3: channels are numbered from 1"),
    ("smd", "interpretation not start-end:dims", text(SMD_INTERP, lambda t: t + "1..9:2\n"),
     r"machine-1-1.txt: line 3 is not 'start-end:d1,d2,...'"),
    ("asd", "interpretation past the series", text(ASD_INTERP, lambda t: "30-120:3\n"),
     r"omi-1.txt: '30-120:3' ends past the 120 test rows"),
    ("asd", "label file shorter than the test file", rows("ASD/omi-1_test_label.csv",
                                                           lambda ls: ls[:-3]),
     r"omi-1_test_label.csv: 117 labels but"),
    ("asd", "no data rows", text(ASD_TRAIN, lambda t: "\n\n"), r"omi-1_train.csv: file is empty"),
    ("asd", "not UTF-8", lambda root: (root / ASD_TRAIN).write_bytes(b"\xff\xfe\x00x"),
     r"omi-1_train.csv: not a UTF-8 text file"),
    ("smap", "complex .npy", npy(NASA_TEST, np.zeros((180, 25), complex)),
     r"A-1.npy.gz: dtype complex128 is not real numbers"),
    ("smap", "datetime .npy", npy(NASA_TEST, np.zeros((180, 25), "datetime64[s]")),
     r"A-1.npy.gz: dtype datetime64\[s\] is not real numbers"),
    ("smap", "string .npy", npy(NASA_TEST, np.full((180, 25), "a")),
     r"A-1.npy.gz: dtype <U1 is not real numbers"),
    ("smap", "object .npy", npy(NASA_TEST, np.full((180, 25), None, object)),
     r"A-1.npy.gz: an object array"),
    ("smap", "1-D .npy", npy(NASA_TEST, np.zeros(180)), r"A-1.npy.gz: expected a 2-D array"),
    ("smap", "train .npy with no rows", npy(NASA_TRAIN, np.zeros((0, 25))),
     r"train/A-1.npy.gz: the train part has no rows"),
    ("smap", "not a .npy file", lambda root: (root / NASA_TEST).write_bytes(
        gzip.compress(b"hello")), r"A-1.npy.gz: not a valid .npy array"),
    ("smap", "label table with a ragged row",
     text(NASA_LABELS, lambda t: t + "X-1,SMAP,[[1,2]],[point],180,extra\n"),
     r"labeled_anomalies.csv: not a readable CSV table"),
    ("smap", "label table: num_values not a number",
     text(NASA_LABELS, lambda t: t.replace(",180", ",abc", 1)),
     r"labeled_anomalies.csv: num_values 'abc' of A-1 \(data row 0\) is not a whole number"),
    ("smap", "label table: sequence reversed",
     text(NASA_LABELS, lambda t: t.replace("[[40, 59]", "[[59, 40]", 1)),
     r"labeled_anomalies.csv: A-1 sequence \[59, 40\] is reversed"),
    ("smap", "label table: sequence past the series",
     text(NASA_LABELS, lambda t: t.replace("[[40, 59]", "[[170, 190]", 1)),
     r"labeled_anomalies.csv: A-1 sequence \[170, 190\] outside the 180 test rows"),
    ("smap", "label table: sequences not a list",
     text(NASA_LABELS, lambda t: t.replace('"[[40, 59], [120, 124]]"', "oops", 1)),
     r"labeled_anomalies.csv: A-1 anomaly_sequences not a list"),
    ("smap", "label table empty", text(NASA_LABELS, lambda t: ""),
     r"labeled_anomalies.csv: file is empty"),
    ("smap", "label table without num_values",
     text(NASA_LABELS, lambda t: t.replace("num_values", "n", 1)),
     r"labeled_anomalies.csv: missing columns \['num_values'\]"),
    ("nab", "window outside the series",
     windows(lambda w: w[NAB_KEY].append(["2020-01-01 00:00:00", "2020-01-02 00:00:00"])),
     r"combined_windows.json: realKnownCause/fixture_a.csv: window 1 .* is outside the series"),
    ("nab", "window reversed",
     windows(lambda w: w[NAB_KEY].append(["2014-04-01 10:00:00", "2014-04-01 09:00:00"])),
     r"combined_windows.json: realKnownCause/fixture_a.csv: window 1 is reversed"),
    ("nab", "window with one time", windows(lambda w: w[NAB_KEY].append(["2014-04-01"])),
     r"combined_windows.json: realKnownCause/fixture_a.csv: window 1 is not a \[start, end\]"),
    ("nab", "window with a number", windows(lambda w: w[NAB_KEY].append([1, 2])),
     r"combined_windows.json: realKnownCause/fixture_a.csv: window 1 is not a \[start, end\]"),
    ("nab", "window unparseable", windows(lambda w: w[NAB_KEY].append(["yesterday", "today"])),
     r"combined_windows.json: realKnownCause/fixture_a.csv: window 1 has an unparseable time"),
    ("nab", "windows not a list", windows(lambda w: w.update({NAB_KEY: "2014"})),
     r"combined_windows.json: realKnownCause/fixture_a.csv: windows must be a list"),
    ("nab", "series missing from the windows", windows(lambda w: w.pop(NAB_KEY)),
     r"combined_windows.json: realKnownCause/fixture_a.csv: no entry for this series"),
    ("nab", "windows file not an object", text(NAB_WINDOWS, lambda t: "[1, 2]"),
     r"combined_windows.json: expected a JSON object"),
    ("nab", "windows file not JSON", text(NAB_WINDOWS, lambda t: t[:-5]),
     r"combined_windows.json: not valid JSON"),
    ("nab", "timestamps out of order",
     rows(NAB_DATA, lambda ls: [ls[0], ls[2], ls[1]] + ls[3:]),
     r"fixture_a.csv.gz: timestamps not strictly increasing: 1 back in time"),
    ("nab", "duplicated timestamp", rows(NAB_DATA, lambda ls: ls[:3] + ls[2:]),
     r"fixture_a.csv.gz: timestamps not strictly increasing: 1 duplicated"),
    ("nab", "row missing its value", line(NAB_DATA, 5, lambda s: s.split(",")[0]),
     r"fixture_a.csv.gz: ragged row: line 6 has 1 fields"),
    ("nab", "wrong header", line(NAB_DATA, 0, lambda s: "time,value"),
     r"fixture_a.csv.gz: expected columns \['timestamp', 'value'\]"),
    ("nab", "unparseable timestamp", line(NAB_DATA, 3, lambda s: "soon," + s.split(",")[1]),
     r"fixture_a.csv.gz: unparseable timestamp 'soon' at data row 2"),
    ("ucr", "two files claim one id",
     copy(UCR_FILE, "UCR/001_UCR_Anomaly_Other_200_401_420.txt.gz"),
     r"UCR: two files claim UCR id 001"),
    ("ucr", "no training part", rename(UCR_FILE, "UCR/001_UCR_Anomaly_Fixture_0_401_420.txt.gz"),
     r"Fixture_0_401_420.txt.gz: name says train 1..0"),
    ("ucr", "anomaly past the series",
     rename(UCR_FILE, "UCR/001_UCR_Anomaly_Fixture_200_590_620.txt.gz"),
     r"Fixture_200_590_620.txt.gz: name says .* but the series has 600 values"),
    ("ucr", "anomaly reversed", rename(UCR_FILE, "UCR/001_UCR_Anomaly_Fixture_200_420_401.txt.gz"),
     r"Fixture_200_420_401.txt.gz: name says"),
    ("ucr", "text among the values", line(UCR_FILE, 9, lambda s: "bad"),
     r"Fixture_200_401_420.txt.gz: non-numeric value 'bad' at position 9"),
    ("psm", "row missing a field", line(PSM_TRAIN, 4, lambda s: s.rsplit(",", 1)[0]),
     r"PSM/train.csv: ragged row: line 5 has 25 fields, the first line 26"),
    ("psm", "label column renamed", line(PSM_LABEL, 0, lambda s: "timestamp_(min),y"),
     r"PSM/test_label.csv: expected columns"),
    ("psm", "labels not 0/1", line(PSM_LABEL, 3, lambda s: s.split(",")[0] + ",2"),
     r"PSM/test_label.csv: labels must be 0 or 1"),
    ("psm", "first column not the timestamp", line(PSM_TRAIN, 0, lambda s: "t" + s),
     r"PSM/train.csv: first column must be"),
]


@pytest.fixture
def root(fixture_root, tmp_path):
    dst = tmp_path / "root"
    shutil.copytree(fixture_root, dst)
    return dst


@pytest.mark.parametrize("dataset, case, corrupt, message", BROKEN,
                         ids=[f"{b[0]}: {b[1]}" for b in BROKEN])
def test_broken_files_are_refused_with_the_file_named(root, dataset, case, corrupt, message):
    corrupt(root)
    options = {"nonfinite": "interpolate"} if dataset == "psm" else {}
    with pytest.raises((DataFormatError, DatasetNotFoundError)) as info:
        datasets.load(dataset, ENTITY[dataset], root=root, **options)
    assert str(root) in str(info.value), "the message must name the file"
    assert info.match(message)


VALID = [
    ("smd", "CRLF line ends", text(SMD_TEST, lambda t: t.replace("\n", "\r\n"))),
    ("asd", "UTF-8 byte-order mark", text(ASD_TRAIN, lambda t: "\ufeff" + t)),
    ("asd", "blank lines at the end", text(ASD_TRAIN, lambda t: t + "\n\n")),
    ("smd", "plain instead of gzip", lambda root: (root / "SMD/test/machine-1-1.txt").write_text(
        _read(root / SMD_TEST)) or (root / SMD_TEST).unlink()),
    ("smap", "float16 .npy", npy(NASA_TEST, np.zeros((180, 25), np.float16))),
    ("smap", "boolean .npy", npy(NASA_TEST, np.zeros((180, 25), bool))),
    ("smap", "integer .npy", npy(NASA_TEST, np.zeros((180, 25), np.int32))),
    ("nab", "no label windows", windows(lambda w: w.update({NAB_KEY: []}))),
    ("ucr", "values on one line", text(UCR_FILE, lambda t: " ".join(t.split()))),
]


@pytest.mark.parametrize("dataset, case, change", VALID, ids=[f"{v[0]}: {v[1]}" for v in VALID])
def test_valid_variants_of_the_layouts_load(root, dataset, case, change):
    before = datasets.load(dataset, ENTITY[dataset], root=root)
    change(root)
    after = datasets.load(dataset, ENTITY[dataset], root=root)
    assert after.train.shape == before.train.shape and after.test.shape == before.test.shape


def test_nab_timestamps_keep_loads_in_file_order_and_says_what_is_wrong(root):
    rows(NAB_DATA, lambda ls: ls[:3] + ls[2:])(root)
    ds = datasets.load("nab", ENTITY["nab"], root=root, timestamps="keep")
    assert ds.meta["timestamp_problems"] == "1 duplicated (first at data row 2)"
    with pytest.raises(ValueError, match="timestamps must be one of"):
        datasets.load("nab", ENTITY["nab"], root=root, timestamps="sort")
