"""Independent tasks of a batch grid (the detector benchmark, the CV study) on
``dask.distributed``: a LocalCluster by default (one single-threaded worker process per core),
or an existing cluster given by its scheduler address. Nothing else needs to know which.

Workers are recycled: long-lived processes that fit hundreds of Keras models grow by tens of MB
per fit even after ``clear_session`` (measured: about 11 GB after 140 SMAP/MSL runs), so
:func:`run_tasks` submits the tasks in rounds of ``recycle_every`` per worker and restarts the
workers between rounds, when none is busy. Results come back to the caller (the driver), which
alone writes them, atomically, so an interrupted grid resumes from what it wrote.
"""

from __future__ import annotations

import logging
import os
from contextlib import contextmanager


@contextmanager
def cluster(scheduler: str | None = None, workers: int | None = None,
            connect_timeout: str = "30s"):
    """A ``distributed.Client``: connected to ``scheduler`` (an address such as
    ``tcp://host:8786``) when given, else to a new LocalCluster of ``workers`` single-threaded
    worker processes (default: the number of cores), closed on exit. Workers inherit this
    process' environment (e.g. TensorFlow thread settings)."""
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout=connect_timeout)
        except OSError as exc:
            raise RuntimeError(f"cannot reach the Dask scheduler at {scheduler} ({exc}); "
                               "is `dask scheduler` running there?") from None
        with client:
            yield client
        return
    n = workers or os.cpu_count() or 1
    with LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                      # the scheduler's HTTP server runs even without a dashboard: on a
                      # free port, so a second cluster does not warn that 8787 is taken
                      dashboard_address=":0", silence_logs=logging.ERROR,
                      env=worker_environment(n)) as local, \
            Client(local) as client:
        yield client


def worker_environment(n_workers: int) -> dict:
    """Thread limits for TensorFlow in each of ``n_workers`` local worker processes: the
    cores shared out (Dask already limits NumPy's BLAS threads to one per worker), unless the
    environment sets them. Without this every worker's TensorFlow sizes its thread pools to
    all cores, and the workers fight over them."""
    cores = os.cpu_count() or 1
    env = {"TF_NUM_INTRAOP_THREADS": str(max(1, cores // max(1, n_workers))),
           "TF_NUM_INTEROP_THREADS": "1"}
    return {k: os.environ.get(k, v) for k, v in env.items()}


def run_tasks(client, func, tasks: list, recycle_every: int | None = 10, progress=None,
              on_error=None):
    """Run ``func(*task)`` for every task (a tuple of arguments) on the cluster; yield
    ``(task, result)`` as each finishes. With ``recycle_every``, tasks go in rounds of
    ``recycle_every`` per worker and every worker is restarted after a round. A task that
    raises stops the grid with its error (results already yielded are kept by the caller),
    unless ``on_error(task, exception)`` is given: then it is called and the grid goes on.
    ``client=None`` runs the tasks one after another in this process (the serial path, for
    tests and debugging). ``progress``: an optional callable such as ``tqdm`` given the total
    number of tasks."""
    bar = progress(total=len(tasks)) if progress else None
    if client is None:
        try:
            for task in tasks:
                try:
                    result = func(*task)
                except Exception as exc:  # noqa: BLE001 - reported through on_error
                    if on_error is None:
                        raise
                    on_error(task, exc)
                else:
                    yield task, result
                if bar is not None:
                    bar.update(1)
        finally:
            if bar is not None:
                bar.close()
        return
    yield from _distributed(client, func, tasks, recycle_every, bar, on_error)


def _distributed(client, func, tasks, recycle_every, bar, on_error):
    from distributed import as_completed

    n_workers = max(1, len(client.scheduler_info()["workers"]))
    size = len(tasks) if not recycle_every else recycle_every * n_workers
    try:
        for start in range(0, len(tasks), size):
            if start and recycle_every:
                _recycle(client, n_workers)
            batch = tasks[start:start + size]
            futures = {client.submit(func, *task, pure=False): task for task in batch}
            for future in as_completed(futures):
                if future.status == "error" and on_error is not None:
                    on_error(futures[future], future.exception())
                else:
                    yield futures[future], future.result()
                if bar is not None:
                    bar.update(1)
    finally:
        if bar is not None:
            bar.close()


def _recycle(client, n_workers: int, timeout: float = 600) -> None:
    """Restart every worker and wait until ``n_workers`` are back. Dask waits 120 s by
    default, which the workers of a busy 2-core machine exceeded twice, ending a benchmark
    run (cause not traced): wait up to ``timeout`` seconds,
    then stop with a message saying that the finished results are kept."""
    try:
        client.restart(timeout=timeout, wait_for_workers=True)
    except TimeoutError:
        try:
            client.wait_for_workers(n_workers, timeout=timeout)
        except TimeoutError:
            raise RuntimeError(
                f"the Dask workers did not come back within {timeout:.0f} s of a restart "
                "(recycling them between rounds); the results finished so far are saved and "
                "rerunning the same command resumes from them") from None
