"""/api/v1/: each app contributes its routes here."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from accounts.api.views import JobDetailView
from regions.api.views import RegionViewSet

router = DefaultRouter()
router.register("regions", RegionViewSet, basename="region")

urlpatterns = [
    path("", include(router.urls)),
    path("jobs/<int:pk>/", JobDetailView.as_view(), name="api-job-detail"),
]
