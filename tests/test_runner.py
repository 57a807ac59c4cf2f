"""The papermill runner on toy notebooks: order, resume, --only, failures, atomic outputs."""

import json

import nbformat
import pytest

from tsad_helpers import runner
from tsad_helpers.cli import main


def _notebook(path, body):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell('profile = "smoke"\ndata_dir = None\nout_dir = None',
                                  metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(body),
    ]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, path)


WRITE = ("from pathlib import Path\n"
         "p = Path(out_dir) / '{name}.txt'\n"
         "p.write_text(str(len(p.read_text()) + 1 if p.exists() else 1) + profile)\n")


@pytest.fixture
def books(tmp_path):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    _notebook(folder / "02_second.ipynb", WRITE.format(name="second"))
    _notebook(folder / "01_first.ipynb", WRITE.format(name="first"))
    (folder / "scratch.ipynb").write_text("{}")  # not NN_name: ignored
    return folder


def test_discover_and_select(books):
    names = [p.name for p in runner.discover(books)]
    assert names == ["01_first.ipynb", "02_second.ipynb"]
    assert [p.name for p in runner.select(runner.discover(books), ["2"])] == ["02_second.ipynb"]
    with pytest.raises(ValueError, match="--only 07: no such notebook"):
        runner.select(runner.discover(books), ["07"])


def test_run_resume_force_and_change(books, tmp_path):
    out = tmp_path / "out"
    first = runner.run("smoke", out=str(out), notebooks_dir=books)
    assert [(o.notebook, o.status) for o in first] == [("01_first.ipynb", "ran"),
                                                       ("02_second.ipynb", "ran")]
    executed = nbformat.read(out / "01_first.ipynb", 4)
    assert any("injected-parameters" in c.metadata.get("tags", []) for c in executed.cells)
    assert (out / "first.txt").read_text() == "1smoke"
    stamp = json.loads((out / ".01_first.done.json").read_text())
    assert stamp["parameters"]["profile"] == "smoke"

    again = runner.run("smoke", out=str(out), notebooks_dir=books)
    assert [o.status for o in again] == ["skipped", "skipped"]
    assert (out / "first.txt").read_text() == "1smoke"  # not rerun

    _notebook(books / "02_second.ipynb", WRITE.format(name="second") + "x = 1\n")
    changed = runner.run("smoke", out=str(out), notebooks_dir=books)
    assert [o.status for o in changed] == ["skipped", "ran"]

    forced = runner.run("smoke", out=str(out), notebooks_dir=books, only=["01"], force=True)
    assert [(o.notebook, o.status) for o in forced] == [("01_first.ipynb", "ran")]
    assert not list(out.glob(".*.tmp*"))


def test_failure_names_notebook_cell_and_error_and_resumes(books, tmp_path):
    _notebook(books / "03_broken.ipynb", "raise ValueError('bad shape (3, 4)')")
    _notebook(books / "04_after.ipynb", WRITE.format(name="after"))
    out = tmp_path / "out"
    with pytest.raises(runner.NotebookFailed,
                       match=r"03_broken.ipynb failed in cell \[\d+\]: ValueError: bad shape") as err:
        runner.run("smoke", out=str(out), notebooks_dir=books)
    assert [o.status for o in err.value.outcomes] == ["ran", "ran", "FAILED"]
    assert not (out / "03_broken.ipynb").exists()  # no half-written final output
    assert (out / "failed" / "03_broken.ipynb").exists()
    assert not (out / "04_after.ipynb").exists()  # the run stopped
    _notebook(books / "03_broken.ipynb", "x = 1")
    resumed = runner.run("smoke", out=str(out), notebooks_dir=books)
    assert [o.status for o in resumed] == ["skipped", "skipped", "ran", "ran"]


def test_cli_run_reports_failure(books, tmp_path, monkeypatch, capsys):
    _notebook(books / "01_first.ipynb", "1 / 0")
    monkeypatch.setattr(runner, "NOTEBOOKS", books)
    code = main(["run", "--profile", "smoke", "--out", str(tmp_path / "o"), "--only", "01"])
    captured = capsys.readouterr()
    assert code == 1
    assert "01_first.ipynb failed in cell" in captured.err and "ZeroDivisionError" in captured.err
    assert "FAILED" in captured.out


def test_unknown_profile(books, tmp_path):
    with pytest.raises(ValueError, match="unknown profile 'huge'"):
        runner.run("huge", out=str(tmp_path), notebooks_dir=books)


def test_tidy_drops_only_native_tensorflow_log_noise():
    from tsad_helpers.runner import _native_log_noise

    noise = ("WARNING: All log messages before absl::InitializeLog() is called are written to "
             "STDERR\nI0000 00:00:1795536625.859863    4285 cudart_stub.cc:31] Could not find "
             "cuda drivers on your machine, GPU will not be used.\n")
    assert _native_log_noise({"output_type": "stream", "name": "stderr", "text": noise})
    kept = [{"output_type": "stream", "name": "stderr", "text": "UserWarning: check this\n"},
            {"output_type": "stream", "name": "stderr", "text": noise + "Traceback: real\n"},
            {"output_type": "stream", "name": "stdout", "text": noise}]
    assert not any(_native_log_noise(o) for o in kept)


def test_a_rerun_rewrites_an_unchanged_notebook_byte_for_byte(books, tmp_path):
    out = tmp_path / "out"
    runner.run("smoke", out=str(out), notebooks_dir=books, only=["01"])
    before = (out / "01_first.ipynb").read_bytes()
    runner.run("smoke", out=str(out), notebooks_dir=books, only=["01"], force=True)
    assert (out / "01_first.ipynb").read_bytes() == before
    cells = nbformat.read(out / "01_first.ipynb", 4).cells
    assert [c["id"] for c in cells if "injected-parameters" in c.metadata.get("tags", [])] == [
        "injected-parameters"]


def test_ctrl_c_prints_what_finished_and_one_line(books, tmp_path, monkeypatch, capsys):
    real = runner.execute

    def execute(notebook, *args, **kwargs):
        if notebook.name.startswith("02"):
            raise KeyboardInterrupt
        return real(notebook, *args, **kwargs)

    monkeypatch.setattr(runner, "execute", execute)
    monkeypatch.setattr(runner, "NOTEBOOKS", books)
    code = main(["run", "--profile", "smoke", "--out", str(tmp_path / "out")])
    captured = capsys.readouterr()
    assert code == 130
    assert "01_first.ipynb                   ran" in captured.out
    assert "02_second.ipynb                  INTERRUPTED" in captured.out
    last = captured.err.strip().splitlines()[-1]  # after the progress bar
    assert last == ("interrupted: the notebooks that finished are kept; run the same command "
                    "again to go on") and "Traceback" not in captured.err


def test_each_notebook_gets_only_the_parameters_it_declares(books, tmp_path, caplog):
    out = tmp_path / "out"
    runner.run("smoke", out=str(out), notebooks_dir=books, only=["01"],
               extra={"workers": 2})
    stamp = json.loads((out / ".01_first.done.json").read_text())
    assert set(stamp["parameters"]) == {"profile", "data_dir", "out_dir"}
    assert "unknown parameter" not in caplog.text


NATIVE = ("E0000 00:00:1796593257.279327   17394 node_def_util.cc:682] NodeDef mentions "
          "attribute use_unbounded_threadpool which is not in the op definition")
# logged by every kernel with an event loop when jupyter_client interrupts it at shutdown
SHUTDOWN = "[IPKernelApp] ERROR | KeyboardInterrupt caught in kernel"
NOT_SHUTDOWN = "KeyboardInterrupt caught in my own code"


def test_the_console_gets_the_kernels_errors_but_not_tensorflows_native_lines(books, tmp_path):
    """A kernel's descriptor-2 output reaches the console (ipykernel echoes it there) less
    TensorFlow's native lines; no plain-text-TCP warning either. Run in a fresh process so
    the console is that process's real standard error."""
    import subprocess
    import sys

    _notebook(books / "03_noisy.ipynb",
              f"import os\nos.write(2, b'{NATIVE}\\nreal trouble\\n')\n"
              f"os.write(2, b'{NATIVE}\\n{SHUTDOWN}\\n{NOT_SHUTDOWN}\\n')\n"
              f"os.write(2, b'no newline')")
    script = ("import sys; from pathlib import Path; from tsad_helpers import runner\n"
              "runner.run('smoke', out=sys.argv[1], notebooks_dir=Path(sys.argv[2]), "
              "only=['03'])\nprint('ran', file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "out"), str(books)],
                          capture_output=True, text=True, timeout=120, cwd=runner.REPO_ROOT,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert "real trouble\n" in done.stderr and "no newline" in done.stderr
    assert "use_unbounded_threadpool" not in done.stderr
    assert SHUTDOWN not in done.stderr and NOT_SHUTDOWN in done.stderr
    assert "without encryption" not in done.stderr
    assert done.stderr.rstrip().endswith("ran")  # the runner's own stderr is back after it
