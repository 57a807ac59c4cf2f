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
def cluster(scheduler: str | None = None, workers: int | None = None):
    """A ``distributed.Client``: connected to ``scheduler`` (an address such as
    ``tcp://host:8786``) when given, else to a new LocalCluster of ``workers`` single-threaded
    worker processes (default: the number of cores), closed on exit. Workers inherit this
    process' environment (e.g. TensorFlow thread settings)."""
    from distributed import Client, LocalCluster

    if scheduler:
        with Client(scheduler) as client:
            yield client
        return
    n = workers or os.cpu_count() or 1
    with LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                      dashboard_address=None, silence_logs=logging.ERROR) as local, \
            Client(local) as client:
        yield client


def run_tasks(client, func, tasks: list, recycle_every: int | None = 10, progress=None):
    """Run ``func(*task)`` for every task (a tuple of arguments) on the cluster; yield
    ``(task, result)`` as each finishes. With ``recycle_every``, tasks go in rounds of
    ``recycle_every`` per worker and every worker is restarted after a round. A task that
    raises stops the grid with its error (results already yielded are kept by the caller).
    ``progress``: an optional callable such as ``tqdm`` given the total number of tasks."""
    from distributed import as_completed

    bar = progress(total=len(tasks)) if progress else None
    n_workers = max(1, len(client.scheduler_info()["workers"]))
    size = len(tasks) if not recycle_every else recycle_every * n_workers
    try:
        for start in range(0, len(tasks), size):
            if start and recycle_every:
                client.restart(wait_for_workers=True)
            batch = tasks[start:start + size]
            futures = {client.submit(func, *task, pure=False): task for task in batch}
            for future in as_completed(futures):
                yield futures[future], future.result()
                if bar is not None:
                    bar.update(1)
    finally:
        if bar is not None:
            bar.close()
