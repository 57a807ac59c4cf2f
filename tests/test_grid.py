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


class _SlowRestart:
    """A client whose restart times out; its workers come back (or not) afterwards."""

    def __init__(self, back: bool):
        self.back, self.waited = back, []

    def restart(self, timeout, wait_for_workers):
        raise TimeoutError("Waited for 2 worker(s) to reconnect after restarting")

    def wait_for_workers(self, n_workers, timeout):
        self.waited.append(n_workers)
        if not self.back:
            raise TimeoutError("not back")


def test_a_slow_restart_waits_for_the_workers_then_stops_with_a_clear_error():
    late = _SlowRestart(back=True)
    grid._recycle(late, 2)
    assert late.waited == [2]
    with pytest.raises(RuntimeError, match="did not come back.*rerunning the same command"):
        grid._recycle(_SlowRestart(back=False), 2, timeout=1)
