from django.urls import path

from programs import views as rule_views

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
]
