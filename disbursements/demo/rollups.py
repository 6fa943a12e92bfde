"""Last demo step: rebuild the dashboard rollups of every programme from the demo data."""

from disbursements.services.rollups import rollups_refresh_all


def demo_rollups() -> list[dict]:
    return rollups_refresh_all()


DEMO_STEPS = [("看板汇总", demo_rollups)]
