from django.urls import path
from django.views.generic import RedirectView

from beneficiaries import views
from beneficiaries.importer import urls as importer_urls

app_name = "beneficiaries"
urlpatterns: list = [
    path("employers/", views.employer_list, name="employer_list"),
    path("employers/export.xlsx", views.employer_export, name="employer_export"),
    path("employers/export.csv", views.employer_export, {"fmt": "csv"}, name="employer_export_csv"),
    path("employers/register/", views.employer_register, name="employer_register"),
    path("employers/<int:pk>/", views.employer_detail, name="employer_detail"),
    path("employers/<int:pk>/edit/", views.employer_edit, name="employer_edit"),
    path("employers/<int:pk>/verify/", views.employer_verify, name="employer_verify"),
    path("employers/<int:pk>/return/", views.employer_return, name="employer_return"),
    path("registrations/", views.registration_list, name="registration_list"),
    path("registrations/export.xlsx", views.registration_export, name="registration_export"),
    path("registrations/export.csv", views.registration_export, {"fmt": "csv"}, name="registration_export_csv"),
    # The search's other name (/registry/workers/?q=…), as /api/v1/workers/ has it.
    path(
        "workers/",
        RedirectView.as_view(pattern_name="beneficiaries:registration_list", query_string=True),
        name="worker_search",
    ),
    path("registrations/new/", views.registration_create, name="registration_create"),
    path("registrations/<int:pk>/", views.registration_detail, name="registration_detail"),
    path("registrations/<int:pk>/reveal/", views.registration_reveal, name="registration_reveal"),
    path("registrations/<int:pk>/resolve/", views.registration_resolve, name="registration_resolve"),
    path("registrations/<int:pk>/withdraw/", views.registration_withdraw, name="registration_withdraw"),
    path("registrations/<int:pk>/payout/", views.registration_payout, name="registration_payout"),
]

# The Excel/CSV import pages (template download, upload, preview, import job) live with
# the import pipeline; they join this namespace.
urlpatterns += importer_urls.urlpatterns
