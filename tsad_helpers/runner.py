"""The batch runner: execute the numbered notebooks headless, in order, with papermill.

Each notebook ``notebooks/NN_name.ipynb`` runs with the parameters ``profile``, ``data_dir``
and ``out_dir`` into ``<out>/NN_name.ipynb``. The executed notebook is written to a temporary
file and renamed into place only when every cell succeeded, next to a stamp
``<out>/.NN_name.done.json`` recording the source notebook's hash and the parameters. A later
run skips a notebook whose stamp matches (unless ``force``), so an interrupted run resumes
where it stopped. A failing notebook stops the run: its partial output is kept under
``<out>/failed/`` and the error names the notebook, the cell and the exception.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from .results import REPO_ROOT, atomic_path, results_dir, save_json

NOTEBOOKS = REPO_ROOT / "notebooks"
_NAME = re.compile(r"(\d{2})_[\w-]+\.ipynb")


class NotebookFailed(RuntimeError):
    """A notebook raised; the message names it, the failing cell and the error."""


class Interrupted(Exception):
    """The run was interrupted (Ctrl-C); ``outcomes`` says what finished before."""

    def __init__(self, outcomes):
        super().__init__("interrupted")
        self.outcomes = outcomes


@dataclass
class Outcome:
    notebook: str
    status: str  # "ran", "skipped"
    seconds: float


def discover(folder: Path) -> list[Path]:
    """Notebooks named ``NN_name.ipynb`` in ``folder``, in order."""
    return sorted(p for p in Path(folder).glob("*.ipynb") if _NAME.fullmatch(p.name))


def select(notebooks: list[Path], only: list[str] | None) -> list[Path]:
    """Keep the notebooks whose two-digit prefix is in ``only`` (all when None)."""
    if not only:
        return notebooks
    wanted = {o.strip().zfill(2) for o in only if o.strip()}
    have = {p.name[:2] for p in notebooks}
    unknown = sorted(wanted - have)
    if unknown:
        raise ValueError(f"--only {','.join(unknown)}: no such notebook; have "
                         f"{', '.join(p.name for p in notebooks)}")
    return [p for p in notebooks if p.name[:2] in wanted]


def declared(notebook: Path, parameters: dict) -> dict:
    """The ``parameters`` that ``notebook`` declares in its parameters cell (the grid's
    ``workers`` mean nothing to notebook 01, and papermill warns about each unknown one)."""
    import papermill as pm

    names = pm.inspect_notebook(str(notebook))
    return {k: v for k, v in parameters.items() if k in names}


def _stamp_path(out: Path, notebook: Path) -> Path:
    return out / f".{notebook.stem}.done.json"


def _fingerprint(notebook: Path, parameters: dict) -> dict:
    return {"source_sha256": hashlib.sha256(notebook.read_bytes()).hexdigest(),
            "parameters": parameters}


def is_done(out: Path, notebook: Path, parameters: dict) -> bool:
    """True when ``out`` holds this notebook's output from the same source and parameters."""
    stamp = _stamp_path(out, notebook)
    if not stamp.is_file() or not (out / notebook.name).is_file():
        return False
    try:
        recorded = json.loads(stamp.read_text())
    except json.JSONDecodeError:
        return False
    fp = _fingerprint(notebook, parameters)
    return all(recorded.get(k) == v for k, v in fp.items())


def _clean_stale(out: Path) -> None:
    for tmp in out.glob(".*.tmp*"):
        tmp.unlink()


def execute(notebook: Path, out: Path, parameters: dict, kernel: str | None = None) -> float:
    """Run one notebook into ``out`` atomically; returns seconds. Raises NotebookFailed."""
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    start = time.perf_counter()
    target = out / notebook.name
    with atomic_path(target) as tmp, quiet_kernel() as config:
        try:
            pm.execute_notebook(str(notebook), str(tmp), parameters=parameters,
                                kernel_name=kernel, progress_bar=False, cwd=str(notebook.parent),
                                log_output=False, config=config)
        except PapermillExecutionError as exc:
            failed = out / "failed" / notebook.name
            failed.parent.mkdir(exist_ok=True)
            shutil.copyfile(tmp, failed)
            raise NotebookFailed(
                f"{notebook.name} failed in cell [{exc.exec_count}]: {exc.ename}: {exc.evalue} "
                f"(partial output: {failed})") from None
        _tidy(tmp, notebook.name)
    seconds = time.perf_counter() - start
    save_json({**_fingerprint(notebook, parameters), "seconds": round(seconds, 1),
               "finished": time.strftime("%Y-%m-%dT%H:%M:%S")}, _stamp_path(out, notebook))
    return seconds


def refresh_stored(notebooks_dir: Path | None = None, only: list[str] | None = None,
                   kernel: str | None = None) -> list[Outcome]:
    """Re-execute notebooks in place with their default (smoke) parameters.

    This refreshes the outputs stored in ``notebooks/`` that nbval compares against. Nothing
    is injected, so the stored notebook is exactly what a user opens; each file is replaced
    only after all its cells succeeded.
    """
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    _kernel_environment(None)
    outcomes = []
    for nb in select(discover(Path(notebooks_dir or NOTEBOOKS)), only):
        start = time.perf_counter()
        with atomic_path(nb) as tmp, quiet_kernel() as config:
            try:
                pm.execute_notebook(str(nb), str(tmp), kernel_name=kernel, progress_bar=False,
                                    cwd=str(nb.parent), config=config)
            except PapermillExecutionError as exc:
                raise NotebookFailed(f"{nb.name} failed in cell [{exc.exec_count}]: "
                                     f"{exc.ename}: {exc.evalue}") from None
            _tidy(tmp, nb.name)
        outcomes.append(Outcome(nb.name, "refreshed", time.perf_counter() - start))
    return outcomes


def _tidy(path: Path, name: str) -> None:
    """Drop the machine paths and timestamps that papermill records, and give the cell it
    injects (a random id each run) a fixed id, so notebooks only change when their content
    does (the runner's stamp keeps the run time)."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    info = nb.metadata.get("papermill", {})
    info.update(input_path=name, output_path=name)
    for key in ("start_time", "end_time", "duration"):
        info.pop(key, None)
    for cell in nb.cells:
        if "injected-parameters" in cell.metadata.get("tags", []):
            cell["id"] = "injected-parameters"
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs if not _native_log_noise(o)]
    nbformat.write(nb, path)


_NATIVE_LOG = re.compile(r"^(WARNING: All log messages before absl::InitializeLog\(\)"
                         r"|[IWE]\d{4} [\d:.]+\s+\d+ \S+:\d+\])")


# jupyter_client interrupts (SIGINT) every kernel before asking it to shut down; a kernel
# with an event loop then logs this line after the notebook has finished. It is no error.
_SHUTDOWN_INTERRUPT = re.compile(r"^\[IPKernelApp\] ERROR \| KeyboardInterrupt caught in "
                                 r"kernel\.?\s*$")


def strip_native_log(text: str) -> str:
    """``text`` without TensorFlow's native (absl) log lines and without the kernel's
    shutdown-interrupt line (see ``_SHUTDOWN_INTERRUPT``); every other line kept."""
    return "".join(line for line in text.splitlines(keepends=True)
                   if not (_NATIVE_LOG.match(line) or _SHUTDOWN_INTERRUPT.match(line)))


def _forward_lines(source: int, target: int) -> None:
    """Copy the lines read from descriptor ``source`` to ``target`` until end of file, less
    TensorFlow's native log lines; a last line without a newline is passed on at the end."""
    with open(source, "rb", buffering=0) as pipe, open(target, "wb", buffering=0) as sink:
        pending = b""
        while chunk := pipe.read(65536):
            *lines, pending = (pending + chunk).split(b"\n")
            kept = strip_native_log("".join(line.decode("utf-8", "replace") + "\n"
                                            for line in lines))
            if kept:
                sink.write(kept.encode())
        if pending and strip_native_log(pending.decode("utf-8", "replace")):
            sink.write(pending)


@contextlib.contextmanager
def native_log_stripped():
    """Run a block with this process's standard error (file descriptor 2, so native code and
    child processes included) passed line by line through :func:`strip_native_log` on its way
    to the console: TensorFlow's native (absl) log lines are dropped as they come, every other
    line (warnings, errors, crash reports, a last line without a newline) is kept. Nothing is
    held back until the block ends, so progress and errors stay live."""
    try:
        sys.stderr.flush()
        console = os.dup(2)
    except (AttributeError, OSError, ValueError):  # no descriptor 2 to filter
        yield
        return
    read_end, write_end = os.pipe()
    forwarder = threading.Thread(target=_forward_lines, args=(read_end, console), daemon=True,
                                 name="native-log-filter")
    forwarder.start()
    saved = os.dup(2)
    os.dup2(write_end, 2)
    os.close(write_end)
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            sys.stderr.flush()
        os.dup2(saved, 2)  # closes our copy of the pipe: the forwarder reaches its end
        os.close(saved)
        # a process started in the block (a kernel) may still hold the pipe; do not wait on it
        forwarder.join(timeout=5)


@contextlib.contextmanager
def quiet_kernel():
    """Settings under which a notebook kernel keeps the console readable; yields the
    traitlets ``Config`` to give papermill.

    - The kernel talks to us over Unix sockets in a private temporary folder (POSIX) rather
      than unencrypted TCP, so ipykernel has no cause to print its plain-text-TCP warning.
    - The kernel inherits our standard error under :func:`native_log_stripped`: ipykernel
      echoes everything written to its descriptor 2 onto the console, TensorFlow's native
      lines included (with ``TF_CPP_MIN_LOG_LEVEL`` below 3, one ``NodeDef mentions
      attribute use_unbounded_threadpool`` line per Keras fit). Every other line, errors and
      crash reports included, reaches the console; the notebook's own outputs are unaffected
      (``_tidy`` cleans those).
    """
    from traitlets.config import Config

    with contextlib.ExitStack() as stack:
        config = Config()
        if os.name == "posix":
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="tsad-kernel-"))
            config.KernelManager.transport = "ipc"
            config.KernelManager.ip = os.path.join(folder, "kernel")
        stack.enter_context(native_log_stripped())
        yield config


def _native_log_noise(output) -> bool:
    """A stderr stream made only of TensorFlow's native (absl) log lines, which its log-level
    setting does not silence before the library initialises logging (CUDA probes, graph
    attribute notices). Python warnings and errors are kept."""
    if output.get("output_type") != "stream" or output.get("name") != "stderr":
        return False
    lines = [line for line in output.get("text", "").splitlines() if line.strip()]
    return bool(lines) and all(_NATIVE_LOG.match(line) for line in lines)


def _kernel_environment(data_dir: str | None) -> None:
    """Settings the notebook kernels inherit: quiet TensorFlow, fixed hash seed, no display."""
    os.environ.setdefault("PYTHONHASHSEED", "0")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("MPLBACKEND", "Agg")
    if data_dir:
        os.environ["TSAD_DATA_DIR"] = str(Path(data_dir).resolve())


def run(profile: str, data_dir: str | None = None, out: str | None = None,
        only: list[str] | None = None, force: bool = False, notebooks_dir: Path | None = None,
        kernel: str | None = None, progress=None, extra: dict | None = None) -> list[Outcome]:
    """Run the notebooks of ``notebooks_dir`` (or the ``only`` ones) for ``profile``.

    extra: further parameters for the notebooks (e.g. ``scheduler`` for the CV grid).

    progress: an optional callable wrapping the list of notebooks (e.g. ``tqdm``); it may
    have ``set_postfix_str``. Returns one Outcome per notebook.
    """
    from . import profiles

    profiles.get(profile)  # validates the name
    out_dir = results_dir(profile, out)
    out_dir.mkdir(parents=True, exist_ok=True)
    _clean_stale(out_dir)
    notebooks_dir = Path(notebooks_dir or NOTEBOOKS).resolve()
    notebooks = select(discover(notebooks_dir), only)
    if not notebooks:
        raise ValueError(f"no notebooks named NN_name.ipynb in {notebooks_dir}")
    _kernel_environment(data_dir)
    # paths relative to the notebooks' folder (the kernels' working directory), so that
    # executed notebooks record no machine-specific absolute paths
    parameters = {"profile": profile,
                  "data_dir": os.path.relpath(Path(data_dir).resolve(), notebooks_dir)
                  if data_dir else None,
                  "out_dir": os.path.relpath(out_dir.resolve(), notebooks_dir), **(extra or {})}
    if out and "loss_root" not in parameters:  # its own output folder keeps its loss logs
        parameters["loss_root"] = os.path.relpath((out_dir / "loss").resolve(), notebooks_dir)
    outcomes = []
    bar = progress(notebooks) if progress else notebooks
    for nb in bar:
        if hasattr(bar, "set_postfix_str"):
            bar.set_postfix_str(nb.name)
        own = declared(nb, parameters)
        if not force and is_done(out_dir, nb, own):
            outcomes.append(Outcome(nb.name, "skipped", 0.0))
            continue
        try:
            outcomes.append(Outcome(nb.name, "ran", execute(nb, out_dir, own, kernel)))
        except NotebookFailed as exc:
            exc.outcomes = outcomes + [Outcome(nb.name, "FAILED", 0.0)]
            raise
        except KeyboardInterrupt:
            raise Interrupted(outcomes + [Outcome(nb.name, "INTERRUPTED", 0.0)]) from None
    return outcomes
