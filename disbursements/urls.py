from django.urls import path

from disbursements import entitlement_views, paper_views, settlement_views, views

app_name = "disbursements"
urlpatterns = [
    path("", views.batch_list, name="batch_list"),
    path("build/", views.batch_build, name="batch_build"),
    path("reconciliation/", views.reconciliation, name="reconciliation"),
    path("overpayments/", settlement_views.overpayment_list, name="overpayments"),
    path("overpayments/<int:pk>/decide/", settlement_views.overpayment_decide_view, name="overpayment_decide"),
    path("batches/<int:pk>/", views.batch_detail, name="batch_detail"),
    path("batches/<int:pk>/approval.pdf", paper_views.batch_approval, name="batch_approval_pdf"),
    path("districts/<str:code>/summary.pdf", paper_views.district_summary, name="district_summary_pdf"),
    path("batches/<int:pk>/export/", views.batch_export_start, name="batch_export"),
    path("batches/<int:pk>/results/", views.batch_results_upload, name="batch_results"),
    path("batches/<int:pk>/supplement/", views.batch_supplement, name="batch_supplement"),
    path("batches/<int:pk>/lines/<int:line_pk>/correct/", views.line_correct, name="line_correct"),
    path(
        "batches/<int:pk>/lines/<int:line_pk>/take-employer-account/",
        views.line_take_employer_account,
        name="line_take_employer_account",
    ),
    path("batches/<int:pk>/vouchers/issue/", views.batch_vouchers_issue, name="vouchers_issue"),
    path("batches/<int:pk>/vouchers/list/", views.batch_vouchers_list, name="vouchers_list"),
    path("batches/<int:pk>/vouchers/redemptions/", views.vouchers_redemptions, name="vouchers_redemptions"),
    path("batches/<int:pk>/<str:action>/", views.batch_action, name="batch_action"),
    path("exports/<int:pk>/download/", views.export_download, name="export_download"),
    path("jobs/<int:job_pk>/retry/", views.job_retry, name="job_retry"),
    path("lookup/", views.worker_lookup, name="worker_lookup"),
    path("employer/", views.employer_payments, name="employer_payments"),
    path("registrations/<int:pk>/", views.registration_payments, name="registration_payments"),
    path("employer/export.xlsx", views.employer_payments_export, name="employer_payments_export"),
    path("employer/<int:entitlement_pk>/account/", views.employer_account_correct, name="employer_account_correct"),
    # Entitlement computation (disbursements/entitlement_views.py, helper B)
    path("compute/<slug:code>/", entitlement_views.programme_compute, name="programme_compute"),
]
