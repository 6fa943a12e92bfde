"""Argon2id passwords, old hashes upgraded on login, and the host-wide bound on concurrent hashing."""

import fcntl
import threading
import time

import pytest
from django.contrib.auth.hashers import make_password
from django.urls import reverse

import portal.settings as production_settings
from accounts.login_gate import LoginBusy, hash_slot
from tests.factories import make_user

ARGON2_PREFIX = "argon2$argon2id$v=19$m=19456,t=2,p=1$"


@pytest.fixture
def production_hashers(settings):
    # The test settings hash with MD5 for speed; these tests need the production list.
    settings.PASSWORD_HASHERS = production_settings.PASSWORD_HASHERS
    return settings


@pytest.fixture
def gate(settings, tmp_path):
    settings.LOGIN_HASH_LOCK_DIR = str(tmp_path)
    settings.LOGIN_HASH_SLOTS = 1
    settings.LOGIN_HASH_WAIT_MS = 1000
    settings.LOGIN_WAITING_PER_WORKER = 2
    return settings


def _hold_slot_as_another_worker(directory, slot=0):
    """flock belongs to an open file: a second open file in this process is another worker to the kernel."""
    handle = open(directory / f"slot-{slot}", "a+")
    fcntl.flock(handle, fcntl.LOCK_EX)
    return handle


@pytest.mark.django_db
def test_new_passwords_are_argon2id_with_one_lane(production_hashers):
    assert make_password("Wengang-2021").startswith(ARGON2_PREFIX)


@pytest.mark.django_db
def test_an_old_pbkdf2_hash_is_upgraded_to_argon2_on_login_and_not_on_a_wrong_password(client, production_hashers):
    user = make_user("old_hash", "province", "130000")
    user.password = make_password("Test-pass-2021", hasher="pbkdf2_sha256")
    user.save(update_fields=["password"])

    client.post(reverse("accounts:login"), {"username": "old_hash", "password": "wrong-password"})
    user.refresh_from_db()
    assert user.password.startswith("pbkdf2_sha256$")

    response = client.post(reverse("accounts:login"), {"username": "old_hash", "password": "Test-pass-2021"})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.password.startswith(ARGON2_PREFIX)
    assert user.check_password("Test-pass-2021")


def test_no_more_hashes_run_at_once_than_there_are_slots(gate):
    gate.LOGIN_WAITING_PER_WORKER = 8
    gate.LOGIN_HASH_WAIT_MS = 10_000
    running, peak, done = [0], [0], []
    lock = threading.Lock()

    def login():
        with hash_slot():
            with lock:
                running[0] += 1
                peak[0] = max(peak[0], running[0])
            time.sleep(0.03)
            with lock:
                running[0] -= 1
        done.append(1)

    threads = [threading.Thread(target=login) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(done) == 6 and peak[0] == 1

    gate.LOGIN_HASH_SLOTS = 2
    peak[0], done[:] = 0, []
    threads = [threading.Thread(target=login) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(done) == 6 and peak[0] == 2


def test_a_slot_held_by_another_worker_makes_a_login_wait_then_give_up(gate, tmp_path):
    other = _hold_slot_as_another_worker(tmp_path)
    try:
        started = time.monotonic()
        with pytest.raises(LoginBusy), hash_slot():
            pass
        assert time.monotonic() - started >= 1.0  # it waited LOGIN_HASH_WAIT_MS
    finally:
        other.close()
    with hash_slot():  # freed (also what the kernel does when a worker dies holding it)
        pass


def test_a_worker_parks_no_more_logins_than_its_bound(gate):
    gate.LOGIN_WAITING_PER_WORKER = 1
    inside, leave = threading.Event(), threading.Event()

    def holder():
        with hash_slot():
            inside.set()
            leave.wait(5)

    t = threading.Thread(target=holder)
    t.start()
    inside.wait(5)
    try:
        started = time.monotonic()
        with pytest.raises(LoginBusy), hash_slot():
            pass
        assert time.monotonic() - started < 0.5  # refused at once: the thread is not parked
    finally:
        leave.set()
        t.join()


@pytest.mark.django_db
def test_a_login_that_finds_no_slot_is_asked_to_retry_and_not_counted_as_a_failure(client, gate, tmp_path):
    from axes.models import AccessAttempt

    make_user("busy_user", "district", "130110")
    other = _hold_slot_as_another_worker(tmp_path)
    try:
        response = client.post(reverse("accounts:login"), {"username": "busy_user", "password": "Test-pass-2021"})
    finally:
        other.close()
    assert response.status_code == 503
    assert response["Retry-After"] == "2"
    assert "登录的人较多" in response.content.decode()
    assert not AccessAttempt.objects.filter(username="busy_user", failures_since_start__gt=0).exists()

    response = client.post(reverse("accounts:login"), {"username": "busy_user", "password": "Test-pass-2021"})
    assert response.status_code == 302
