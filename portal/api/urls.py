"""/api/v1/: each app contributes its routes through its own api/urls.py."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from accounts.api.views import JobDetailView, TokenCreateView, TokenLogoutAllView, TokenLogoutView
from portal.api.dashboard import DashboardView
from regions.api.views import RegionViewSet

router = DefaultRouter()
router.register("regions", RegionViewSet, basename="region")

urlpatterns = [
    path("", include(router.urls)),
    path("jobs/<int:pk>/", JobDetailView.as_view(), name="api-job-detail"),
    # Expiring API tokens (django-rest-knox): docs/api.md.
    path("auth/token/", TokenCreateView.as_view(), name="api-token"),
    path("auth/token/logout/", TokenLogoutView.as_view(), name="api-token-logout"),
    path("auth/token/logoutall/", TokenLogoutAllView.as_view(), name="api-token-logoutall"),
    path("dashboard/", DashboardView.as_view(), name="api-dashboard"),
    path("", include("programs.api.urls")),
    path("", include("beneficiaries.api.urls")),
    path("", include("disbursements.api.urls")),
]
