"""A job's heartbeat thread does not keep the job from forking worker processes (an
import's, core.forkpool): it is declared fork-safe, and beats inside no_fork()."""

import pytest
from django.db import connection

from accounts.services.jobs import Heartbeat
from core import forkpool


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the heartbeat beats on PostgreSQL only")
def test_the_heartbeat_thread_is_declared_fork_safe():
    beat = Heartbeat(7)
    assert beat.thread is not None and not beat.thread.is_alive()
    assert beat.thread.name.startswith(tuple(forkpool._idle_thread_prefixes))
