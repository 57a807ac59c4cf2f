"""User mistakes at the command line end in one ``error:`` line and exit code 2, before any
work is done; an interrupted run changes no tracked file; outputs get the usual permissions."""

import os
import stat

import pytest

from tsad_helpers import results
from tsad_helpers.cli import main

SMOKE = ["--profile", "smoke"]


def _evaluate(out, *extra):
    return main(["evaluate", "--dataset", "synthetic", "--entity", "syn-2", "--detector",
                 "random", *SMOKE, "--out", str(out), *extra])


def _one_error_line(capsys, text):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and text in err[0], err
    return err[0]


@pytest.mark.parametrize("make_out, text", [
    (lambda tmp: tmp, "is a folder; give a file name"),
    (lambda tmp: "", "give a file name (it is empty)"),
    (lambda tmp: tmp / "missing" / "r.json", "does not exist"),
], ids=["a folder", "empty", "missing folder"])
def test_evaluate_checks_out_before_fitting(tmp_path, capsys, make_out, text):
    assert _evaluate(make_out(tmp_path)) == 2
    _one_error_line(capsys, text)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_evaluate_refuses_a_read_only_folder(tmp_path, capsys):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    assert _evaluate(folder / "r.json") == 2
    _one_error_line(capsys, "is not writable")


@pytest.mark.parametrize("command", ["run", "cv", "paper"])
def test_folder_outputs_refuse_a_file_or_an_empty_name(tmp_path, capsys, command):
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert main([command, "--out", str(afile)]) == 2
    _one_error_line(capsys, "is a file; give a folder")
    assert main([command, "--out", ""]) == 2
    _one_error_line(capsys, "give a folder (it is empty)")


def test_a_symlink_loop_in_the_data_is_one_line(fixture_root, tmp_path, capsys):
    import shutil

    root = tmp_path / "root"
    shutil.copytree(fixture_root / "UCR", root / "UCR")
    (root / "UCR" / "loop").symlink_to(root / "UCR" / "loop")
    for path in (root / "UCR").iterdir():
        if path.name.endswith(".txt.gz"):
            path.unlink()
            path.symlink_to(path)  # loops on itself
    assert main(["evaluate", "--dataset", "ucr", "--detector", "random", *SMOKE,
                 "--data-dir", str(root), "--out", str(tmp_path / "r.json")]) == 2
    capsys.readouterr()


def test_evaluate_refuses_a_test_part_without_anomalies(fixture_root, tmp_path, capsys):
    assert main(["evaluate", "--dataset", "nab", "--entity", "artificialNoAnomaly/fixture_flat",
                 "--detector", "random", *SMOKE, "--data-dir", str(fixture_root),
                 "--out", str(tmp_path / "r.json")]) == 2
    _one_error_line(capsys, "the test part has no labelled anomaly")
    assert not (tmp_path / "r.json").exists()


def test_timestamps_option_is_nab_only(tmp_path, capsys):
    assert _evaluate(tmp_path / "r.json", "--timestamps", "keep") == 2
    _one_error_line(capsys, "--timestamps applies to NAB only")


def test_deep_evaluate_keeps_its_loss_log_beside_out_and_never_in_the_repository(
        tmp_path, capsys, monkeypatch):
    tracked = results.REPO_ROOT / "loss" / "smoke" / "synthetic" / "syn-2"
    before = sorted(tracked.rglob("*")) if tracked.exists() else []
    out = tmp_path / "r.json"
    assert main(["evaluate", "--dataset", "synthetic", "--entity", "syn-2", "--detector",
                 "lstm_ae", *SMOKE, "--out", str(out)]) == 0
    assert (tmp_path / "r.loss.csv").is_file() and out.is_file()
    assert (sorted(tracked.rglob("*")) if tracked.exists() else []) == before
    capsys.readouterr()
    # interrupted after the first epoch: exit 130, one line, and no log or result written
    from tsad_helpers import keras_tools

    def interrupt(self, epoch, logs=None):
        raise KeyboardInterrupt

    monkeypatch.setattr(keras_tools.EpochLog, "on_epoch_end", interrupt)
    out2 = tmp_path / "again.json"
    assert main(["evaluate", "--dataset", "synthetic", "--entity", "syn-2", "--detector",
                 "lstm_ae", *SMOKE, "--out", str(out2)]) == 130
    assert "interrupted" in capsys.readouterr().err
    assert not out2.exists() and not (tmp_path / "again.loss.csv").exists()
    assert (sorted(tracked.rglob("*")) if tracked.exists() else []) == before


def test_outputs_respect_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        path = results.save_json({"a": 1}, tmp_path / "x.json")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


@pytest.mark.parametrize("command", ["run", "cv"])
def test_a_paper_run_without_real_data_fails_loudly(tmp_path, capsys, command):
    empty = tmp_path / "data"
    empty.mkdir()
    assert main([command, "--profile", "paper", "--data-dir", str(empty)]) == 2
    _one_error_line(capsys, "holds none of them")


def test_synthetic_only_and_profiles_without_real_data_pass_the_check(tmp_path):
    from tsad_helpers.cli import require_real_data

    require_real_data("paper", tmp_path, synthetic_only=True)
    require_real_data("quick", tmp_path, synthetic_only=False)  # synthetic only anyway


# ---- a battery of bad arguments, one per way a command can be misused --------------------------
BAD_ARGUMENTS = [
    (["evaluate", "--dataset", "nope", "--detector", "pca"], "unknown dataset 'nope'"),
    (["evaluate", "--dataset", "synthetic", "--detector", "nope"], "nope"),
    (["evaluate", "--dataset", "synthetic", "--entity", "syn-99", "--detector", "pca"],
     "syn-99"),
    (["evaluate", "--dataset", "smd", "--detector", "pca", "--data-dir", "{missing}"],
     "folder not found"),
    (["evaluate", "--dataset", "smd", "--detector", "pca", "--data-dir", "{afile}"],
     "folder not found"),
    (["evaluate", "--dataset", "smd", "--entity", "machine-9-9", "--detector", "pca",
      "--data-dir", "{fixtures}"], "no entity 'machine-9-9'"),
    (["evaluate", "--dataset", "synthetic", "--detector", "window_classifier"],
     "learns from labels"),
    (["run", "--only", "99", "--out", "{tmp}/o"], "--only 99: no such notebook"),
    (["datasets", "verify", "nope", "--data-dir", "{tmp}"], "no checksums for ['nope']"),
    (["datasets", "fixtures", "--out", "{afile}"], ""),
    (["paper", "--out", "{afile}"], "is a file; give a folder"),
]


@pytest.mark.parametrize("argv, text", BAD_ARGUMENTS,
                         ids=[" ".join(a[:4]) for a, _ in BAD_ARGUMENTS])
def test_bad_arguments_are_one_error_line(tmp_path, capsys, fixture_root, argv, text):
    afile = tmp_path / "afile"
    afile.write_text("x")
    fill = {"missing": tmp_path / "missing", "afile": afile, "fixtures": fixture_root,
            "tmp": tmp_path}
    argv = [a.format(**fill) for a in argv]
    if argv[0] == "evaluate":
        argv += [*SMOKE, "--out", str(tmp_path / "r.json")]
    assert main(argv) == 2
    _one_error_line(capsys, text)


@pytest.mark.parametrize("argv", [["evaluate", "--dataset", "smd"], ["run", "--profile", "big"],
                                  ["cv", "--workers", "two"], ["nope"],
                                  ["evaluate", "--dataset", "smd", "--detector", "pca",
                                   "--threshold", "oracle", "--out", "x.json"]],
                         ids=["missing --detector", "unknown profile", "workers not a number",
                              "unknown command", "unknown threshold rule"])
def test_argparse_mistakes_exit_2_with_usage(capsys, argv):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_permission_denied_on_a_data_file_is_one_line(fixture_root, tmp_path, capsys,
                                                      monkeypatch):
    """Simulated (tests may run as root, who reads anything): the loader's read fails as an
    unreadable file does, and the CLI reports the path in one line."""
    from pathlib import Path

    real = Path.read_bytes

    def read_bytes(self):
        if self.name.startswith("machine-1-1"):
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    assert main(["evaluate", "--dataset", "smd", "--detector", "pca", *SMOKE, "--data-dir",
                 str(fixture_root), "--out", str(tmp_path / "r.json")]) == 2
    line = _one_error_line(capsys, "Permission denied")
    assert "machine-1-1.txt" in line
