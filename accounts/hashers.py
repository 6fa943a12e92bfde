"""The portal's password hasher: Argon2id with parameters measured on the 2-core target machine.

Django's stock Argon2 parameters (t=2, m=100 MiB, p=8) cost about 300 ms of CPU spread over 8
lanes (threads), so one login takes every core of the machine; PBKDF2 with 1,000,000 iterations
costs about 350-800 ms of one core. Either way a 9:00 login storm of 200 officers starves every
other request. These are OWASP's Password Storage Cheat Sheet parameters for Argon2id
(m=19 MiB, t=2, p=1): about 38 ms of one core here (measured in docs/operations.md "Serving"),
one lane so that a login never takes more than one core, and memory-hard against GPU guessing.

Old hashes (PBKDF2, or Argon2 with other parameters) are still accepted and re-hashed with these
on the user's next successful login (Django calls `must_update`, then `set_password`).
"""

from django.contrib.auth.hashers import Argon2PasswordHasher


class PortalArgon2PasswordHasher(Argon2PasswordHasher):
    """Argon2id, 19 MiB, 2 passes, 1 lane (OWASP minimum; ~38 ms of one core on the target machine)."""

    time_cost = 2
    memory_cost = 19456  # KiB
    parallelism = 1
