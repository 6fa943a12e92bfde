"""Authentication backends of the portal."""

from django.contrib.auth.backends import ModelBackend

from accounts.login_gate import hash_slot


class HashBoundModelBackend(ModelBackend):
    """Django's ModelBackend, its password check run inside one of the host's hash slots.

    Everything that hashes on a login is inside: the check itself, the re-hash of an old
    (PBKDF2) hash to Argon2, and the dummy hash Django computes for an unknown username
    (so that timing does not reveal which usernames exist). See accounts/login_gate.py.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if password is None:
            return None
        with hash_slot():
            return super().authenticate(request, username=username, password=password, **kwargs)
