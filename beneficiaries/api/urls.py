from django.urls import path
from rest_framework.routers import SimpleRouter

from beneficiaries.api import imports
from beneficiaries.api.views import EmployerViewSet, WorkerViewSet

# Path converters (`<int:pk>`), not regexes: a typed id in the route and in the schema.
router = SimpleRouter(use_regex_path=False)
router.register("employers", EmployerViewSet, basename="employer")
router.register("workers", WorkerViewSet, basename="worker")

urlpatterns: list = router.urls

# The Excel/CSV import flow (beneficiaries/api/imports.py).
urlpatterns += [
    path("imports/", imports.ImportListView.as_view(), name="api-import-list"),
    path("imports/<str:token>/", imports.ImportDetailView.as_view(), name="api-import-detail"),
    path("imports/<str:token>/preview/", imports.ImportPreviewView.as_view(), name="api-import-preview"),
    path("imports/<str:token>/confirm/", imports.ImportConfirmView.as_view(), name="api-import-confirm"),
    path("imports/<str:token>/report/", imports.ImportReportView.as_view(), name="api-import-report"),
]
