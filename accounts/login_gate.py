"""A bound on how many password hashes are computed at once, so a login storm leaves a core for pages.

A password check is CPU-bound on purpose (accounts/hashers.py). When 200 officers log in at 9:00,
unbounded hashing takes every core and every other request waits behind it. Three limits:

- **hash slots, shared by every gunicorn worker on the host**: at most `LOGIN_HASH_SLOTS` checks run
  at once (default: one fewer than the cores, at least one). A slot is an exclusive `flock` on a
  small file, so the bound crosses processes, and the kernel frees it when a worker dies holding it.
- **waiting logins per worker process**: at most `LOGIN_WAITING_PER_WORKER` threads of one worker
  may be in the login path (waiting or hashing), for threaded workers. Without it, a storm would
  park every gunicorn thread in a wait and pages would queue for a thread instead of a core.
- **a short wait**: a sync worker that waits for a slot serves nobody else meanwhile, so a login
  waits at most `LOGIN_HASH_WAIT_MS` (300 ms, about eight other logins' hashing).

A login that cannot get in (the per-worker bound is full, or no slot frees within
`LOGIN_HASH_WAIT_MS`) raises `LoginBusy`; the login form says so in Chinese and the view
answers 503 with Retry-After, and the browser's user simply presses 登录 again.
"""

import contextlib
import fcntl
import hashlib
import os
import tempfile
import threading
import time
from pathlib import Path

from django.conf import settings


class LoginBusy(Exception):
    """Too many password checks are running or waiting: try again in a moment."""


_waiting_lock = threading.Lock()
_waiting: dict[tuple[int, int], threading.BoundedSemaphore] = {}  # per process, made after gunicorn's fork


def _waiting_semaphore() -> threading.BoundedSemaphore:
    # Keyed by pid: a count inherited through fork must not be shared with the parent's.
    key = (os.getpid(), settings.LOGIN_WAITING_PER_WORKER)
    with _waiting_lock:
        if key not in _waiting:
            _waiting[key] = threading.BoundedSemaphore(key[1])
        return _waiting[key]


def slot_directory() -> Path:
    """Where the slot files live: one folder per checkout and database, so two portals on one host
    (or two test runs) do not throttle each other."""
    if settings.LOGIN_HASH_LOCK_DIR:
        return Path(settings.LOGIN_HASH_LOCK_DIR)
    key = f"{settings.BASE_DIR}|{settings.DATABASES['default'].get('NAME')}"
    return Path(tempfile.gettempdir()) / f"portal-hash-slots-{hashlib.sha256(key.encode()).hexdigest()[:12]}"


@contextlib.contextmanager
def hash_slot():
    """Hold one of the host's hash slots for the duration of a password check."""
    waiting = _waiting_semaphore()
    if not waiting.acquire(blocking=False):
        raise LoginBusy
    try:
        directory = slot_directory()
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        deadline = time.monotonic() + settings.LOGIN_HASH_WAIT_MS / 1000
        pause = 0.002
        while True:
            for slot in range(settings.LOGIN_HASH_SLOTS):
                # Its own open file per attempt: flock belongs to the open file, and two threads
                # sharing one would both think they hold the slot.
                fd = os.open(directory / f"slot-{slot}", os.O_RDWR | os.O_CREAT, 0o600)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    os.close(fd)
                    continue
                try:
                    yield
                finally:
                    fcntl.flock(fd, fcntl.LOCK_UN)
                    os.close(fd)
                return
            if time.monotonic() >= deadline:
                raise LoginBusy
            # The waiters are few (bounded above), so polling costs little; back off to 20 ms.
            time.sleep(pause)
            pause = min(pause * 2, 0.02)
    finally:
        waiting.release()
