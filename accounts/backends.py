"""Authentication backends of the portal."""

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend

from accounts.login_gate import hash_slot

UserModel = get_user_model()


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

    def get_user(self, user_id):
        """The signed-in user of every request, with its region in the same query: every scoped read
        (`scope_q`) and the page header need `user.region`, which was a second query on every page."""
        try:
            user = UserModel._default_manager.select_related("region").get(pk=user_id)
        except UserModel.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None
