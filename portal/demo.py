"""The demo programme: `manage.py load_demo` runs these steps in order.

Each app that owns demo data has a module with `DEMO_STEPS = [(label, function), …]`;
every step is idempotent (running load_demo twice changes nothing). The order is the
order of dependence: users, programme and rules, survey counts, employers, the
synthetic population, entitlements, batches.
"""

import importlib
import importlib.util

from accounts.demo import DEMO_EMPLOYER_AGENTS, DEMO_PASSWORD, DEMO_USERS

STEP_MODULES = [
    "regions.demo",
    "accounts.demo",
    "programs.demo",
    "programs.surveys.demo",
    "beneficiaries.demo",
    "beneficiaries.demo_population",
    "disbursements.demo.entitlements",
    "disbursements.demo.batches",
    "disbursements.demo.trust",
    "disbursements.demo.rollups",
]


def demo_steps() -> list[tuple[str, object]]:
    steps = []
    for name in STEP_MODULES:
        if importlib.util.find_spec(name) is None:  # a feature not installed in this tree
            continue
        steps.extend(importlib.import_module(name).DEMO_STEPS)
    return steps


def demo_logins() -> list[tuple[str, str, str]]:
    """(username, password, who) for the README and `make run`."""
    rows = [(u, DEMO_PASSWORD, name) for u, name, _r, _c in DEMO_USERS]
    rows += [(u, DEMO_PASSWORD, name) for u, name, _k in DEMO_EMPLOYER_AGENTS]
    rows.append(("admin", DEMO_PASSWORD, "系统管理员（Django admin）"))
    return rows
