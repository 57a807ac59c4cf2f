"""Shared fixtures.

Tests that need the real benchmarks take ``real_root``: the data root from TSAD_DATA_DIR. Where
it is not set they are skipped, except when TSAD_REQUIRE_DATA=1 (CI sets it): then a missing
dataset is a failure, not a skip.
"""

import os
from pathlib import Path

import pytest

from tsad_helpers.datasets import fixtures

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def fixture_root(tmp_path_factory) -> Path:
    """A data root with small files in every real loader's layout."""
    return fixtures.write_fixtures(tmp_path_factory.mktemp("data_root"))


def _real_root() -> Path | None:
    env = os.environ.get("TSAD_DATA_DIR")
    return Path(env) if env else None


@pytest.fixture(scope="session")
def real_root() -> Path:
    root = _real_root()
    required = os.environ.get("TSAD_REQUIRE_DATA") == "1"
    if root is None or not root.is_dir():
        if required:
            pytest.fail(f"TSAD_REQUIRE_DATA=1 but the data root {root} is missing")
        pytest.skip("real data not available: set TSAD_DATA_DIR")
    return root


def need(root: Path, folder: str) -> None:
    """Skip (or fail under TSAD_REQUIRE_DATA=1) when ``folder`` is not under the root."""
    if not (root / folder).is_dir():
        if os.environ.get("TSAD_REQUIRE_DATA") == "1":
            pytest.fail(f"TSAD_REQUIRE_DATA=1 but {root / folder} is missing")
        pytest.skip(f"{folder} not under {root}")
