"""An ordered map over forked worker processes, for CPU-bound work on a stream of chunks
(an import's validation and encryption): `ForkPool(work, processes).map(chunks)` gives
(chunk, work(chunk)) in the order of the chunks, the work done by `processes` children
forked from this process while this process prepares the next chunk and consumes the
results.

* Forked, so the children start with everything this process holds (settings, keys,
  compiled checks, the closure `work` itself): nothing but the chunks and the results
  crosses the pipes, pickled.
* Bounded: each child holds at most one chunk, and this process one more, prepared
  ahead; so at most `processes + 1` chunks and `processes` results are in memory
  whatever the length of the stream. With at most one chunk per child the pipes cannot
  deadlock: a child is only sent a chunk after its last result was read.
* A child never touches a database connection (or anything else that talks to a
  server) it inherited: the socket belongs to this process, and even closing it would
  end this process's session. It leaves through os._exit, so no finalizer or atexit
  handler of the parent runs in it. It exits when its pipe closes: when the pool is
  closed, or when this process dies (nothing else holds the pipe's write end).
* Only a process that runs no other thread forks (a gthread web worker or Django's
  runserver does not): a lock that another thread held at the moment of fork() stays
  held forever in the child. Declared threads (`fork_safe_thread`: core.crypto's helper,
  the job engine's heartbeat) do not count: they wait idle between calls, and do their
  work inside `no_fork()`, which the pool holds while it forks.
* `processes` ≤ 1, no os.fork (Windows) or other threads mean no children: `map` calls
  `work` here, the same function on the same chunks, so every path gives the same results.
"""

import os
import pickle
import signal
import threading
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from multiprocessing import get_context
from typing import Any

_END = object()
_idle_thread_prefixes: set[str] = set()
_forking = threading.Lock()  # held while the pool forks, and by a declared thread's work
FORK_WAIT = 10.0  # seconds a pool waits for a declared thread's work to end, else forks nothing


def fork_safe_thread(prefix: str) -> None:
    """Declare the threads whose name starts with `prefix` no obstacle to a fork: between
    calls they wait idle (on a queue or an event of their own), holding no lock a child
    could need; what they do between waits that takes a lock (a query on their own
    connection) they do inside `no_fork()`; a child never uses them."""
    _idle_thread_prefixes.add(prefix)


@contextmanager
def no_fork():
    """A declared thread's work, which a fork must not cut in the middle."""
    with _forking:
        yield


def _single_threaded() -> bool:
    main = threading.main_thread()
    idle = tuple(_idle_thread_prefixes)
    return threading.current_thread() is main and all(
        t is main or (idle and t.name.startswith(idle)) for t in threading.enumerate()
    )


class WorkerFailed(RuntimeError):
    """A child died, or raised an error that could not be sent back as it was (its
    traceback is the message)."""


class ForkPool:
    def __init__(self, work: Callable[[Any], Any], processes: int):
        self.work = work
        self.processes = processes if hasattr(os, "fork") else 1
        self.children: list[tuple[int, Any, Any]] = []  # (pid, chunk writer, result reader)

    def __enter__(self) -> "ForkPool":
        """Fork the children now, before the caller starts any thread: a thread's locks
        held at the moment of fork() would stay held forever in the child."""
        if self.processes > 1 and _single_threaded() and _forking.acquire(timeout=FORK_WAIT):
            ctx = get_context("fork")
            try:
                for _ in range(self.processes):
                    self._fork(ctx)
            except BaseException:
                self.close(kill=True)
                raise
            finally:
                _forking.release()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(kill=exc_type is not None)

    @property
    def pids(self) -> list[int]:
        return [pid for pid, _, _ in self.children]

    def _fork(self, ctx) -> None:
        chunk_reader, chunk_writer = ctx.Pipe(duplex=False)
        result_reader, result_writer = ctx.Pipe(duplex=False)
        pid = os.fork()
        if pid == 0:  # the child: never returns into the caller's code
            code = 1
            try:
                # This process's ends of every pipe (earlier children's too): held here,
                # they would keep a pipe open after its owner died.
                for _, writer, reader in self.children:
                    writer.close()
                    reader.close()
                chunk_writer.close()
                result_reader.close()
                _serve(self.work, chunk_reader, result_writer)
                code = 0
            finally:
                os._exit(code)
        chunk_reader.close()
        result_writer.close()
        self.children.append((pid, chunk_writer, result_reader))

    def map(self, chunks: Iterable) -> Iterator[tuple[Any, Any]]:
        """(chunk, work(chunk)) for every chunk, in order."""
        if not self.children:
            for chunk in chunks:
                yield chunk, self.work(chunk)
            return
        chunks = iter(chunks)
        waiting: deque[tuple[int, Any]] = deque()  # (child index, chunk sent to it), oldest first
        for index in range(len(self.children)):
            chunk = next(chunks, _END)
            if chunk is _END:
                break
            self._send(index, chunk)
            waiting.append((index, chunk))
        ahead = next(chunks, _END) if waiting else _END  # read while the children work
        while waiting:
            index, chunk = waiting.popleft()
            result = self._receive(index)
            if ahead is not _END:  # the child that just finished gets the next chunk at once
                self._send(index, ahead)
                waiting.append((index, ahead))
                ahead = next(chunks, _END)
            yield chunk, result

    def _send(self, index: int, chunk) -> None:
        self.children[index][1].send_bytes(pickle.dumps(chunk, pickle.HIGHEST_PROTOCOL))

    def _receive(self, index: int):
        pid, _, reader = self.children[index]
        try:
            ok, value = pickle.loads(reader.recv_bytes())  # noqa: S301 (our own child, over our own pipe)
        except (EOFError, OSError) as exc:
            raise WorkerFailed(f"worker process {pid} died") from exc
        if not ok:
            error, trace = value
            # The child's own error (a DomainError's Chinese message for the user), its
            # traceback as the cause.
            raise error or WorkerFailed(f"worker process {pid} failed") from WorkerFailed(trace)
        return value

    def close(self, *, kill: bool = False) -> None:
        """Close the pipes (a child then leaves its loop) and reap the children; with
        `kill`, SIGKILL them first (the caller is failing: their work is not wanted)."""
        children, self.children = self.children, []
        for pid, writer, reader in children:
            if kill:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            writer.close()
            reader.close()
        for pid, _, _ in children:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass


# The parent's database connections, kept referenced in a child and never used there:
# dropping the last reference would close the connection, which sends the server a
# Terminate on the parent's socket and ends the parent's session.
_inherited_connections: list = []


def _forget_inherited_connections() -> None:
    """Django in a child opens connections of its own if any code there queries by
    mistake, instead of talking on the parent's sockets."""
    from django.conf import settings
    from django.db import connections

    if not settings.configured:
        return
    for conn in connections.all(initialized_only=True):
        if conn.connection is not None:
            _inherited_connections.append(conn.connection)
            conn.connection = None


def _serve(work, chunks, results) -> None:
    """A child's loop: a chunk in, (True, result) or (False, (error, traceback)) out,
    until EOF or an error."""
    _forget_inherited_connections()
    # The parent's handlers (a Celery worker's warm shutdown, Django's runserver) are not
    # this process's business: a signal ends it, and the parent sees the pipe close.
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1):
        signal.signal(sig, signal.SIG_DFL)
    while True:
        try:
            chunk = pickle.loads(chunks.recv_bytes())  # noqa: S301 (our own parent, over our own pipe)
        except EOFError:
            return
        try:
            results.send_bytes(pickle.dumps((True, work(chunk)), pickle.HIGHEST_PROTOCOL))
        except Exception as exc:
            results.send_bytes(_failure(exc, traceback.format_exc()))
            return


def _failure(exc: Exception, trace: str) -> bytes:
    """(False, (the error, or None if it does not survive pickling, traceback))."""
    try:
        return pickle.dumps((False, (pickle.loads(pickle.dumps(exc)), trace)))  # noqa: S301 (made here)
    except Exception:
        return pickle.dumps((False, (None, trace)))
