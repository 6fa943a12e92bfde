from rest_framework.routers import SimpleRouter

from beneficiaries.api.views import EmployerViewSet, WorkerViewSet

router = SimpleRouter()
router.register("employers", EmployerViewSet, basename="employer")
router.register("workers", WorkerViewSet, basename="worker")

urlpatterns: list = router.urls
