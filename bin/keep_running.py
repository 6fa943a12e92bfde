"""Run a command, and run it again whenever it exits: `make run`'s Celery worker and beat.

    python bin/keep_running.py celery -A portal worker ...

A worker that dies (kill -9, an unrecoverable broker error) is back within seconds, as
docker-compose's `restart: unless-stopped` does in production. SIGTERM, SIGINT or SIGHUP
stop the command and this loop.
"""

import signal
import subprocess
import sys
import time

RESTART_DELAY = 2.0


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: keep_running.py COMMAND [ARG ...]", file=sys.stderr)
        return 2
    state = {"proc": None, "stopping": False}

    def stop(signum, _frame):
        # Forward and return: the loop's wait() sees the command end, then stops.
        state["stopping"] = True
        proc = state["proc"]
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, stop)
    while not state["stopping"]:
        started = time.monotonic()
        state["proc"] = subprocess.Popen(argv)
        code = state["proc"].wait()
        if state["stopping"]:
            break
        # A command that cannot start at all (bad settings) is not restarted in a tight loop.
        delay = RESTART_DELAY if time.monotonic() - started > 10 else 10 * RESTART_DELAY
        print(f"keep_running: {argv[0]} exited with {code}; starting it again in {delay:.0f} s", file=sys.stderr)
        time.sleep(delay)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
