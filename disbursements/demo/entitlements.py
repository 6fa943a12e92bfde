"""Demo step: compute HEBEI-2021's entitlements from its rules and population."""

from disbursements.services.entitlements import entitlements_compute
from programs.models import Programme

PROGRAMME_CODE = "HEBEI-2021"


def demo_entitlements() -> dict:
    """Idempotent by construction: a second run writes nothing."""
    programme = Programme.objects.filter(code=PROGRAMME_CODE).first()
    if programme is None:
        return {"written": 0}
    result = entitlements_compute(programme=programme)
    totals = result.totals()
    return {"written": result.written, "count": totals["count"], "amount": str(totals["amount"])}


DEMO_STEPS = [("计算补贴核定（HEBEI-2021 全部规则）", demo_entitlements)]
