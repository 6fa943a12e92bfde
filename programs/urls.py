from django.urls import path

from programs import views as rule_views
from programs.surveys import views as survey_views

app_name = "programs"
urlpatterns: list = [
    # Subsidy rules (programs/views.py)
    path("rules/", rule_views.rule_list, name="rule_list"),
    path("rules/new/", rule_views.rule_create, name="rule_create"),
    path("rules/<int:pk>/", rule_views.rule_detail, name="rule_detail"),
    path("rules/<int:pk>/edit/", rule_views.rule_edit, name="rule_edit"),
    path("rules/<int:pk>/preview/", rule_views.rule_preview_view, name="rule_preview"),
    path("rules/<int:pk>/activate/", rule_views.rule_activate, name="rule_activate"),
    path("rules/<int:pk>/retire/", rule_views.rule_retire, name="rule_retire"),
    # Survey reports 摸排 (programs/surveys/views.py)
    path("surveys/", survey_views.survey_list, name="survey_list"),
    path("surveys/new/", survey_views.survey_create, name="survey_create"),
    path("surveys/<int:pk>/", survey_views.survey_detail, name="survey_detail"),
    path("surveys/<int:pk>/edit/", survey_views.survey_edit, name="survey_edit"),
    path("surveys/<int:pk>/submit/", survey_views.survey_submit, name="survey_submit"),
    path("surveys/<int:pk>/approve/", survey_views.survey_approve, name="survey_approve"),
    path("surveys/<int:pk>/return/", survey_views.survey_return, name="survey_return"),
    path("surveys/<int:pk>/lock/", survey_views.survey_lock, name="survey_lock"),
]
