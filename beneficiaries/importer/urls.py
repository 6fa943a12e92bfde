"""URL patterns of the import pages; beneficiaries/urls.py adds them to its namespace."""

from django.urls import path

from beneficiaries.importer import views

urlpatterns = [
    path("imports/workers/", views.import_workers, name="import_workers"),
    path("imports/employers/", views.import_employers, name="import_employers"),
    path("imports/templates/<str:kind>.xlsx", views.import_template, name="import_template"),
    path("imports/<str:token>/", views.import_preview, name="import_preview"),
    path("imports/<str:token>/confirm/", views.import_confirm, name="import_confirm"),
    path("imports/<str:token>/job/", views.import_job, name="import_job"),
    path("imports/<str:token>/report/<str:stage>.<str:fmt>", views.import_report, name="import_report"),
]
