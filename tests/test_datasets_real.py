"""Real loaders: on fixture files in each upstream layout, and on the shared real data."""

import shutil

import numpy as np
import pytest

from tsad_helpers import datasets, events
from tsad_helpers.datasets import fixtures

from .conftest import need


def test_data_root_resolution(monkeypatch, tmp_path):
    monkeypatch.setenv("TSAD_DATA_DIR", str(tmp_path))
    assert datasets.data_root() == tmp_path
    assert datasets.data_root(tmp_path / "x") == tmp_path / "x"
    monkeypatch.delenv("TSAD_DATA_DIR")
    assert datasets.data_root() == datasets.REPO_ROOT / "data"


@pytest.mark.parametrize("name,entity,train,test,channels,anomalies", [
    ("smd", "machine-1-1", (200, 38), (200, 38), 38, 13),
    ("asd", "omi-2", (240, 19), (120, 19), 19, 15),
    ("smap", "A-1", (150, 25), (180, 25), 25, 25),
    ("msl", "C-1", (150, 55), (180, 55), 55, 25),
    ("nab", "realKnownCause/fixture_a", (45, 1), (255, 1), 1, 20),
    ("ucr", "001", (200, 1), (400, 1), 1, 20),
])
def test_fixture_layouts_load(fixture_root, name, entity, train, test, channels, anomalies):
    ds = datasets.load(name, entity, root=fixture_root)
    assert ds.train.shape == train and ds.test.shape == test
    assert len(ds.channels) == channels
    assert int(ds.test_labels.sum()) == anomalies
    assert ds.train.dtype == np.float32 and ds.test_labels.dtype == np.int8


def test_entities_on_fixtures(fixture_root):
    assert datasets.entities("smd", fixture_root) == ["machine-1-1", "machine-1-2"]
    assert datasets.entities("smap", fixture_root) == ["A-1", "P-2"]
    assert datasets.entities("msl", fixture_root) == ["C-1"]
    assert datasets.entities("psm", fixture_root) == ["psm"]
    assert datasets.load("smd", root=fixture_root).entity == "machine-1-1"


def test_smd_interpretation_labels(fixture_root):
    ds = datasets.load("smd", "machine-1-2", root=fixture_root)
    assert ds.meta["interpretation_labels"][0] == {"start": 60, "end": 69, "channels": [0, 1],
                                                   "raw": "60-69:1,2"}


def test_smap_duplicate_label_rows_are_united(fixture_root):
    ds = datasets.load("smap", "P-2", root=fixture_root)
    assert ds.meta["label_rows"] == 2
    # [40, 59] u [55, 70] u [120, 124]
    assert int(ds.test_labels.sum()) == 31 + 5
    assert ds.anomaly_types[120] == "point" and ds.anomaly_types[45] == "contextual"


def test_ucr_positions_are_one_based_inclusive(fixture_root):
    ds = datasets.load("ucr", "001", root=fixture_root)  # trainEnd 200, anomaly 401..420
    idx = np.flatnonzero(ds.test_labels)
    assert idx[0] == 401 - 1 - 200 and idx[-1] == 420 - 1 - 200


def test_nab_split_and_windows(fixture_root):
    ds = datasets.load("nab", "realKnownCause/fixture_a", root=fixture_root, train_fraction=0.5)
    assert ds.train.shape == (150, 1)
    assert np.flatnonzero(ds.test_labels)[0] == 200 - 150
    flat = datasets.load("nab", "artificialNoAnomaly/fixture_flat", root=fixture_root)
    assert flat.test_labels.sum() == 0


def test_psm_layout_and_nan_policy(fixture_root):
    with pytest.raises(datasets.DataFormatError, match=r"PSM/train.csv.*non-finite.*feature_3"):
        datasets.load("psm", root=fixture_root)
    ds = datasets.load("psm", root=fixture_root, nonfinite="interpolate")
    assert ds.train.shape == (300, 25) and ds.test.shape == (200, 25)
    assert np.isfinite(ds.train).all() and ds.test_labels.sum() == 31
    assert ds.channels[0] == "feature_0"
    kept = datasets.load("psm", root=fixture_root, nonfinite="keep")
    assert np.isnan(kept.train).sum() == 2


def test_plain_and_gz_read_alike(fixture_root, tmp_path):
    """The same layout, decompressed, loads to the same arrays."""
    import gzip
    plain = tmp_path / "root"
    shutil.copytree(fixture_root / "SMD", plain / "SMD")
    for gz in (plain / "SMD").rglob("*.gz"):
        gz.with_suffix("").write_bytes(gzip.decompress(gz.read_bytes()))
        gz.unlink()
    a = datasets.load("smd", "machine-1-1", root=fixture_root)
    b = datasets.load("smd", "machine-1-1", root=plain)
    np.testing.assert_array_equal(a.test, b.test)
    np.testing.assert_array_equal(a.test_labels, b.test_labels)


def test_fixtures_are_reproducible_and_match_data_test(tmp_path):
    """data_test/ holds exactly what the fixture writer produces (nothing hand-made)."""
    fixtures.write_fixtures(tmp_path)
    committed = datasets.REPO_ROOT / "data_test"
    made = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert made, "fixture writer wrote nothing"
    for rel in made:
        assert (committed / rel).read_bytes() == (tmp_path / rel).read_bytes(), rel


# ---- the shared real benchmarks -------------------------------------------------------------

@pytest.mark.realdata
def test_smd_machine_1_3(real_root):
    need(real_root, "SMD")
    ds = datasets.load("smd", "machine-1-3", root=real_root)
    assert ds.train.shape == (23702, 38) and ds.test.shape == (23703, 38)
    assert int(ds.test_labels.sum()) == 817
    assert len(ds.meta["interpretation_labels"]) == 11
    assert len(datasets.entities("smd", real_root)) == 15


@pytest.mark.realdata
@pytest.mark.parametrize("name,folder,entity,train,test,anomalies,n_entities", [
    ("asd", "ASD", "omi-1", (8640, 19), (4320, 19), 441, 12),
    ("smap", "SMAP_MSL", "T-8", None, None, None, 54),
    ("msl", "SMAP_MSL", "T-8", (748, 55), (1519, 55), 102, 27),
    ("ucr", "UCR", "136", (1600, 1), (5900, 1), 112, 4),
    ("nab", "NAB", "realKnownCause/nyc_taxi", (1548, 1), (8772, 1), None, 53),
])
def test_real_datasets(real_root, name, folder, entity, train, test, anomalies, n_entities):
    need(real_root, folder)
    assert len(datasets.entities(name, real_root)) == n_entities
    if train is None:
        return
    ds = datasets.load(name, entity, root=real_root)
    assert ds.train.shape == train and ds.test.shape == test
    if anomalies is not None:
        assert int(ds.test_labels.sum()) == anomalies


@pytest.mark.realdata
@pytest.mark.parametrize("name,folder", [("smd", "SMD"), ("asd", "ASD")])
def test_interpretation_labels_align_with_point_labels(real_root, name, folder):
    """After normalising to [start, end), interpretation segments coincide with the labelled
    events: nearly all exactly (a wrong end convention would break every one), and every one
    overlaps a labelled event. Upstream has a few off-by-one or longer segments
    (e.g. SMD machine-2-3 7910-8010 where the labels end at 8001)."""
    need(real_root, folder)
    exact = total = 0
    for entity in datasets.entities(name, real_root):
        ds = datasets.load(name, entity, root=real_root)
        labelled = {tuple(s) for s in events.segments(ds.test_labels).tolist()}
        for seg in ds.meta["interpretation_labels"]:
            total += 1
            exact += (seg["start"], seg["end"]) in labelled
            assert ds.test_labels[seg["start"]:seg["end"]].any(), (entity, seg["raw"])
    assert exact / total > 0.95, (exact, total)


@pytest.mark.realdata
def test_smap_msl_totals_match_manifest(real_root):
    """Manifest: SMAP 138004 train / 435826 test rows, 55972 anomalous (P-2 united); MSL
    58317 / 73729 / 7766; T-10 unlabeled is skipped."""
    need(real_root, "SMAP_MSL")
    for name, totals in (("smap", (138004, 435826, 55972)), ("msl", (58317, 73729, 7766))):
        tr = te = an = 0
        for entity in datasets.entities(name, real_root):
            ds = datasets.load(name, entity, root=real_root)
            tr, te, an = tr + len(ds.train), te + len(ds.test), an + int(ds.test_labels.sum())
        assert (tr, te, an) == totals, name
    assert "T-10" not in datasets.entities("msl", real_root)


@pytest.mark.realdata
def test_nab_labels_match_manifest(real_root):
    need(real_root, "NAB")
    ds = datasets.load("nab", "realKnownCause/nyc_taxi", root=real_root)
    assert int(ds.test_labels.sum()) + ds.meta["labelled_points_in_train"] == 1035


@pytest.mark.realdata
def test_psm_labels_only_is_reported_missing(real_root):
    need(real_root, "PSM")
    with pytest.raises(datasets.DatasetNotFoundError, match="PSM/train.csv"):
        datasets.entities("psm", real_root)
