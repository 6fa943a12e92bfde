"""/api/v1/: each app contributes its routes through its own api/urls.py."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from accounts.api.views import JobDetailView, TokenCreateView, TokenLogoutAllView, TokenLogoutView
from portal.api.dashboard import DashboardView
from portal.api.root import ApiRootView
from regions.api.views import RegionViewSet

router = DefaultRouter()
# The root lists every app's API, not only this router's (portal/api/root.py).
router.include_root_view = False
router.register("regions", RegionViewSet, basename="region")

urlpatterns = [
    path("", ApiRootView.as_view(), name="api-root"),
    path("", include(router.urls)),
    path("jobs/<int:pk>/", JobDetailView.as_view(), name="api-job-detail"),
    # Expiring API tokens (django-rest-knox): docs/api.md.
    path("auth/token/", TokenCreateView.as_view(), name="api-token"),
    path("auth/token/logout/", TokenLogoutView.as_view(), name="api-token-logout"),
    path("auth/token/logoutall/", TokenLogoutAllView.as_view(), name="api-token-logoutall"),
    path("dashboard/", DashboardView.as_view(), name="api-dashboard"),
    path("", include("accounts.api.urls")),
    path("", include("programs.api.urls")),
    path("", include("beneficiaries.api.urls")),
    path("", include("disbursements.api.urls")),
]
