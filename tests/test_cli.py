import subprocess
import sys

from tsad_helpers.cli import main


def test_datasets_list(fixture_root, capsys):
    assert main(["datasets", "list", "--data-dir", str(fixture_root)]) == 0
    out = capsys.readouterr().out
    assert "smd           2 entities  machine-1-1, machine-1-2" in out
    assert "synthetic     4 entities" in out


def test_datasets_list_reports_missing(tmp_path, capsys):
    assert main(["datasets", "list", "smd", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "smd" in out and "missing" in out


def test_verify_unknown_dataset_is_a_clear_error(tmp_path, capsys):
    assert main(["datasets", "verify", "nope", "--data-dir", str(tmp_path)]) == 2
    assert "error: no checksums for ['nope']" in capsys.readouterr().err


def test_fixtures_command(tmp_path):
    assert main(["datasets", "fixtures", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "PSM/test_label.csv").is_file()


def test_module_entry_point_help():
    proc = subprocess.run([sys.executable, "-m", "tsad_helpers", "run", "--help"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0
    for flag in ("--profile", "--data-dir", "--out", "--only", "--force"):
        assert flag in proc.stdout


def test_run_no_grid_asks_notebook_03_to_summarise_only(monkeypatch, tmp_path):
    from tsad_helpers import runner

    seen = {}

    def fake_run(profile, **kwargs):
        seen.update(kwargs)
        return []

    monkeypatch.setattr(runner, "run", fake_run)
    assert main(["run", "--profile", "quick", "--only", "03", "--no-grid",
                 "--out", str(tmp_path / "o")]) == 0
    assert seen["extra"] == {"run_grid": False}
    assert main(["run", "--profile", "quick", "--only", "03", "--out", str(tmp_path / "o")]) == 0
    assert seen["extra"] == {}
