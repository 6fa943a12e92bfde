from rest_framework.routers import SimpleRouter

from accounts.api.notifications import NotificationViewSet

# Path converters (`<int:pk>`), not regexes: a typed id in the route and in the schema.
router = SimpleRouter(use_regex_path=False)
router.register("notifications", NotificationViewSet, basename="notification")

urlpatterns: list = router.urls
