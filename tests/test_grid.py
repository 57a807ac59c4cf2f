"""Grid tasks on dask.distributed (tsad_helpers.grid): results, recycling, errors."""

import os

import pytest

from tsad_helpers import grid


@pytest.fixture(scope="module")
def client():
    with grid.cluster(workers=2) as c:
        yield c


def test_every_task_once_with_its_result(client):
    tasks = [(2, k) for k in range(7)]
    out = dict(grid.run_tasks(client, pow, tasks, recycle_every=None))
    assert out == {(2, k): 2 ** k for k in range(7)}


def test_workers_are_recycled_between_rounds(client):
    # rounds of one task per worker: worker processes are replaced after every round
    pids = [pid for _, pid in grid.run_tasks(client, os.getpid, [()] * 6, recycle_every=1)]
    assert len(set(pids)) >= 4 and os.getpid() not in pids
    # without recycling the same (at most two) processes do all the work
    pids = [pid for _, pid in grid.run_tasks(client, os.getpid, [()] * 6, recycle_every=None)]
    assert len(set(pids)) <= 2


def test_a_failing_task_stops_the_grid_with_its_error(client):
    with pytest.raises(ZeroDivisionError):
        list(grid.run_tasks(client, divmod, [(1, 1), (1, 0)], recycle_every=None))


@pytest.mark.parametrize("where", ["cluster", "serial"])
def test_on_error_reports_the_failed_task_and_the_grid_goes_on(client, where):
    failed = []
    tasks = [(1, 1), (1, 0), (7, 2)]
    out = dict(grid.run_tasks(client if where == "cluster" else None, divmod, tasks,
                              recycle_every=None,
                              on_error=lambda task, exc: failed.append((task, type(exc)))))
    assert out == {(1, 1): (1, 0), (7, 2): (3, 1)}
    assert failed == [((1, 0), ZeroDivisionError)]


def test_worker_environment_shares_the_cores(monkeypatch):
    monkeypatch.delenv("TF_NUM_INTRAOP_THREADS", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    assert grid.worker_environment(2)["TF_NUM_INTRAOP_THREADS"] == "4"
    assert grid.worker_environment(16)["TF_NUM_INTRAOP_THREADS"] == "1"
    monkeypatch.setenv("TF_NUM_INTRAOP_THREADS", "3")
    assert grid.worker_environment(2)["TF_NUM_INTRAOP_THREADS"] == "3"


def test_an_unreachable_scheduler_is_a_clear_error():
    with pytest.raises(RuntimeError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:1"):
        with grid.cluster("tcp://127.0.0.1:1", connect_timeout="1s"):
            pass
