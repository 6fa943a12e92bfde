from rest_framework.routers import SimpleRouter

from programs.api.surveys import SurveyViewSet
from programs.api.views import ProgrammeViewSet, RuleViewSet

router = SimpleRouter()
router.register("programmes", ProgrammeViewSet, basename="programme")
router.register("rules", RuleViewSet, basename="rule")
router.register("surveys", SurveyViewSet, basename="survey")

urlpatterns: list = router.urls
