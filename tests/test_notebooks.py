"""Structure of the stored notebooks, and proof that the nbval check can fail."""

import subprocess
import sys

import nbformat
import pytest

from tsad_helpers import runner

from .conftest import REPO

NOTEBOOKS = runner.discover(REPO / "notebooks")


def test_notebook_numbering():
    assert NOTEBOOKS and NOTEBOOKS[0].name == "01_data_qa.ipynb"
    numbers = [int(p.name[:2]) for p in NOTEBOOKS]
    assert numbers == sorted(set(numbers))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_structure(path):
    nb = nbformat.read(path, 4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    params = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1 and 'profile = "smoke"' in params[0].source
    assert any("# NBVAL_CHECK_OUTPUT" in c.source for c in code)
    assert all(c.outputs for c in code if "# NBVAL_CHECK_OUTPUT" in c.source), \
        "checked cells need stored outputs: run `make notebooks`"
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]
    assert all(len(c.source.splitlines()) <= 15 for c in code), "long cell: move it to the library"


def test_nbval_detects_a_changed_result(tmp_path):
    """Tamper with one checked output; nbval must then fail."""
    nb = nbformat.read(REPO / "notebooks" / "01_data_qa.ipynb", 4)
    cell = next(c for c in nb.cells if "# NBVAL_CHECK_OUTPUT" in c.source and c.outputs)
    cell.outputs[0]["text"] = cell.outputs[0]["text"].replace("synthetic", "synthetik", 1)
    target = tmp_path / "01_data_qa.ipynb"
    nbformat.write(nb, target)
    proc = subprocess.run([sys.executable, "-m", "pytest", "--nbval-lax", "-q", "-p",
                           "no:cacheprovider", str(target)], capture_output=True, text=True,
                          cwd=tmp_path, timeout=300)
    assert proc.returncode != 0, proc.stdout[-2000:]
    assert "synthetik" in proc.stdout
