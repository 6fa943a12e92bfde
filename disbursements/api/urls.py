from django.urls import path

from disbursements.api.entitlements import EntitlementList, ProgrammeCompute

urlpatterns: list = [
    # Entitlements (helper B): list in scope with totals; start a computation.
    path("entitlements/", EntitlementList.as_view(), name="api-entitlement-list"),
    path("programmes/<slug:code>/compute/", ProgrammeCompute.as_view(), name="api-programme-compute"),
]
