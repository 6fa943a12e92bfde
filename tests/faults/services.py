"""The fault suite's own PostgreSQL and Redis, and its Celery worker and beat.

PostgreSQL is a fresh cluster (initdb into a temporary folder) on a free port, Redis a
fresh server with an append-only file on a free port: the suite kills and restarts them
without touching the machine's services. initdb and postgres refuse to run as root, so
as root they run as the `postgres` user.
"""

import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pg_bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    for candidate in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True):
        return str(candidate)
    raise RuntimeError(f"{name} not found: install PostgreSQL's server binaries")


def _as_postgres(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    return ["runuser", "-u", "postgres", "--", *cmd]


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise RuntimeError(f"timed out waiting for {what}")


class OwnPostgres:
    def __init__(self, data: Path | None = None, port: int | None = None):
        self.data = Path(data) if data else None
        self.port = port

    def init(self) -> "OwnPostgres":
        self.data = Path(tempfile.mkdtemp(prefix="portal-faults-pg-"))
        self.port = free_port()
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.data, user.pw_uid, user.pw_gid)
        subprocess.run(
            _as_postgres(
                [_pg_bin("initdb"), "-D", str(self.data / "db"), "-U", "postgres", "-A", "trust", "--no-sync"]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        self.start()
        return self

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/faults"

    def _ctl(self, *args: str) -> None:
        subprocess.run(
            _as_postgres(
                [
                    _pg_bin("pg_ctl"),
                    "-D",
                    str(self.data / "db"),
                    "-l",
                    str(self.data / "server.log"),
                    "-o",
                    f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off",
                    "-w",
                    *args,
                ]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )

    def start(self) -> None:
        self._ctl("start")

    def stop(self) -> None:
        self._ctl("-m", "fast", "stop")

    def restart(self, down_for: float = 1.0) -> None:
        """What the issue's operators did: stop (connections cut), a moment down, start."""
        self.stop()
        time.sleep(down_for)
        self.start()

    def destroy(self) -> None:
        try:
            self.stop()
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.data, ignore_errors=True)


class OwnRedis:
    def __init__(self, directory: Path | None = None, port: int | None = None):
        self.dir = Path(directory) if directory else None
        self.port = port

    def init(self) -> "OwnRedis":
        self.dir = Path(tempfile.mkdtemp(prefix="portal-faults-redis-"))
        self.port = free_port()
        self.start()
        return self

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        subprocess.run(
            [
                "redis-server",
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--dir", str(self.dir),
                "--appendonly", "yes",
                "--appendfsync", "always",
                "--save", "",
                "--daemonize", "yes",
                "--pidfile", str(self.dir / "redis.pid"),
                "--logfile", str(self.dir / "redis.log"),
            ],
            check=True,
        )  # fmt: skip
        _wait(self.ping, 20, "Redis to answer")

    def client(self):
        """A client that does not retry: redis-py's default retries with backoff made
        every "is it down yet?" ping, and so each restart, take seconds."""
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        return redis.Redis(port=self.port, socket_connect_timeout=1, retry=Retry(NoBackoff(), 0))

    def ping(self) -> bool:
        import redis

        try:
            return bool(self.client().ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        import redis

        try:
            self.client().shutdown()  # the AOF is flushed first
        except redis.ConnectionError:
            pass  # shutdown closes the connection under us
        _wait(lambda: not self.ping(), 20, "Redis to stop")

    def restart(self, down_for: float = 1.0) -> None:
        self.stop()
        time.sleep(down_for)
        self.start()

    def destroy(self) -> None:
        try:
            self.stop()
        except Exception:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


class CeleryProcess:
    """`celery -A portal worker|beat` as production runs it (the worker through
    tests/faults/worker.py, which slows every job step down), in its own process group
    so that SIGKILL takes the main process and its pool together (a container kill)."""

    def __init__(self, kind: str, env: dict, log_dir: Path):
        self.kind, self.env, self.log_dir = kind, env, log_dir
        self.proc = None
        self.starts = 0

    def command(self) -> list[str]:
        base = [sys.executable, "-m", "celery", "-A", "portal"]
        if self.kind == "worker":
            # tests/faults/worker.py: `celery -A portal worker` with every job step slowed down;
            # no -Q: it consumes the four queues of CELERY_TASK_QUEUES, as `make run`'s worker does.
            return [
                sys.executable, "-m", "tests.faults.worker", "-c", "1", "-n", "faults@%h", "-l", os.environ.get("FAULTS_WORKER_LOG", "warning"),
                "--without-gossip", "--without-mingle", "--without-heartbeat",
            ]  # fmt: skip
        return [*base, "beat", "-l", "warning", "-s", str(self.log_dir / "celerybeat-schedule")]

    def start(self) -> float:
        self.starts += 1
        log = open(self.log_dir / f"{self.kind}.log", "a")
        log.write(f"\n--- start {self.starts} at {time.time():.1f}\n")
        log.flush()
        self.proc = subprocess.Popen(
            self.command(), cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        return time.monotonic()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=20)

    def stop(self) -> None:
        if self.alive():
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
