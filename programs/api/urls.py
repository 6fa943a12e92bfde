from rest_framework.routers import SimpleRouter

from programs.api.surveys import SurveyViewSet
from programs.api.views import ProgrammeViewSet, RuleViewSet

# Path converters (`<int:pk>`), not regexes: a typed id in the route and in the schema.
router = SimpleRouter(use_regex_path=False)
router.register("programmes", ProgrammeViewSet, basename="programme")
router.register("rules", RuleViewSet, basename="rule")
router.register("surveys", SurveyViewSet, basename="survey")

urlpatterns: list = router.urls
