"""The demo programme: `manage.py load_demo` runs these steps in order.

Each step is idempotent (running load_demo twice changes nothing) and belongs to the
app that owns its data; later features add their step to STEPS.
"""

from accounts.demo import DEMO_EMPLOYER_AGENTS, DEMO_PASSWORD, DEMO_USERS, demo_users
from regions.services import regions_load

STEPS = [
    ("区划", regions_load),
    ("演示用户", demo_users),
]


def demo_logins() -> list[tuple[str, str, str]]:
    """(username, password, who) for the README and `make run`."""
    rows = [(u, DEMO_PASSWORD, name) for u, name, _r, _c in DEMO_USERS]
    rows += [(u, DEMO_PASSWORD, name) for u, name, _k in DEMO_EMPLOYER_AGENTS]
    rows.append(("admin", DEMO_PASSWORD, "系统管理员（Django admin）"))
    return rows
