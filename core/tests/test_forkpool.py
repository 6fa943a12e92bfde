"""core.forkpool: the ordered, bounded map over forked processes that the importer checks
its rows with."""

import os
import threading

import pytest

from core.forkpool import ForkPool, WorkerFailed


def _square_with_pid(chunk):
    return [x * x for x in chunk], os.getpid()


def test_results_come_in_order_from_the_children():
    chunks = [list(range(i, i + 5)) for i in range(0, 100, 5)]
    with ForkPool(_square_with_pid, 2) as pool:
        children = set(pool.pids)
        got = list(pool.map(chunks))
    assert [chunk for chunk, _ in got] == chunks
    assert [result for _, (result, _pid) in got] == [[x * x for x in c] for c in chunks]
    workers = {pid for _, (_, pid) in got}
    assert workers == children and len(children) == 2 and os.getpid() not in workers
    for pid in children:  # reaped: no zombie left behind
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)


def test_one_process_runs_the_same_work_here():
    with ForkPool(_square_with_pid, 1) as pool:
        assert pool.pids == []
        got = list(pool.map([[1, 2], [3]]))
    assert got == [([1, 2], ([1, 4], os.getpid())), ([3], ([9], os.getpid()))]


def test_at_most_one_chunk_per_child_and_one_ahead_is_taken_from_the_stream():
    taken = []

    def stream():
        for i in range(50):
            taken.append(i)
            yield [i]

    with ForkPool(_square_with_pid, 2) as pool:
        results = pool.map(stream())
        next(results)
        # two chunks sent, one read ahead; the first result read gave its child the third
        # chunk and the fourth was read ahead: never the whole stream.
        assert len(taken) == 4
        assert [c for c, _ in results] == [[i] for i in range(1, 50)]


def _fail_on_seven(chunk):
    if 7 in chunk:
        raise ValueError("seven")
    return chunk


def test_an_error_in_a_child_is_raised_here_with_its_traceback():
    """The child's own error (a DomainError's message is for the user), its traceback as the cause."""
    with pytest.raises(ValueError, match="seven") as raised:
        with ForkPool(_fail_on_seven, 2) as pool:
            children = pool.pids
            list(pool.map([[i] for i in range(20)]))
    assert isinstance(raised.value.__cause__, WorkerFailed)
    assert "_fail_on_seven" in str(raised.value.__cause__)
    for pid in children:
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)


class _Unpicklable(Exception):
    def __reduce__(self):
        raise TypeError("no")


def _raise_unpicklable(chunk):
    raise _Unpicklable("x")


def test_an_error_that_cannot_be_sent_back_is_a_worker_failure():
    with pytest.raises(WorkerFailed, match="failed") as raised:
        with ForkPool(_raise_unpicklable, 2) as pool:
            list(pool.map([[1]]))
    assert "_Unpicklable" in str(raised.value.__cause__)


def _die(chunk):
    os._exit(3)


def test_a_child_that_dies_is_an_error_not_a_hang():
    with pytest.raises(WorkerFailed, match="died"):
        with ForkPool(_die, 2) as pool:
            # Had the pool not forked, _die would end this test process itself.
            assert len(pool.pids) == 2, "no fork: another thread is running"
            list(pool.map([[1], [2], [3]]))


def test_no_fork_while_another_thread_runs():
    """A lock held by another thread at fork() would stay held in the child: the work
    runs here instead."""
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        with ForkPool(_square_with_pid, 2) as pool:
            assert pool.pids == []
            assert list(pool.map([[3]])) == [([3], ([9], os.getpid()))]
    finally:
        stop.set()
        other.join()


def test_the_children_leave_when_the_parent_is_killed(tmp_path):
    """A killed import (SIGKILL: the OOM killer, a lost Celery worker) leaves no worker
    process behind: their chunk pipe closes with the parent."""
    import signal
    import subprocess
    import sys
    import time

    code = (
        "import os, sys, time\n"
        "from core.forkpool import ForkPool\n"
        "def slow(chunk):\n"
        "    time.sleep(0.2)\n"
        "    return chunk\n"
        "with ForkPool(slow, 2) as pool:\n"
        "    print(*pool.pids, flush=True)\n"
        "    for _ in pool.map([i] for i in range(10**6)):\n"
        "        pass\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=os.getcwd())
    children = [int(pid) for pid in parent.stdout.readline().split()]
    assert len(children) == 2
    time.sleep(0.5)
    assert all(_alive(pid) for pid in children)  # at work
    parent.send_signal(signal.SIGKILL)
    parent.wait(timeout=10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(pid) for pid in children):
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in children)


def _alive(pid: int) -> bool:
    """Running (a zombie, reaped by init, no longer counts)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_a_declared_thread_does_not_stop_the_fork_and_its_work_is_never_cut(monkeypatch):
    """A thread declared with fork_safe_thread (the job heartbeat) idles between beats and
    beats inside no_fork(): the pool forks between two beats."""
    from core import forkpool

    monkeypatch.setattr(forkpool, "_idle_thread_prefixes", {*forkpool._idle_thread_prefixes, "beat-"})
    stop, inside = threading.Event(), []

    def beat():
        while not stop.wait(0.001):
            with forkpool.no_fork():
                inside.append(True)
                time.sleep(0.01)
                inside.pop()

    import time

    other = threading.Thread(target=beat, name="beat-1")
    other.start()
    try:
        time.sleep(0.05)
        with ForkPool(_square_with_pid, 2) as pool:
            assert len(pool.pids) == 2
            assert [r for _, (r, _) in pool.map([[2], [3]])] == [[4], [9]]
    finally:
        stop.set()
        other.join()
