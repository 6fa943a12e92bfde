"""Routes of the app. `urlpatterns` is included by portal/urls.py under /payments/; the
routes of public trust are included under three prefixes of their own: /gongshi/ (公示,
public and the officers' side), /registry/signals/ and /registry/appeals/."""

from django.urls import path

from disbursements.views import appeals, batches, employer, entitlements, lookup, paper, publicity, settlement, signals
from disbursements.views import vouchers as voucher_views

app_name = "disbursements"
urlpatterns = [
    path("", batches.batch_list, name="batch_list"),
    path("build/", batches.batch_build, name="batch_build"),
    path("reconciliation/", batches.reconciliation, name="reconciliation"),
    path("overpayments/", settlement.overpayment_list, name="overpayments"),
    path("overpayments/<int:pk>/decide/", settlement.overpayment_decide_view, name="overpayment_decide"),
    path("batches/<int:pk>/", batches.batch_detail, name="batch_detail"),
    path("batches/<int:pk>/approval.pdf", paper.batch_approval, name="batch_approval_pdf"),
    path("districts/<str:code>/summary.pdf", paper.district_summary, name="district_summary_pdf"),
    path("batches/<int:pk>/export/", batches.batch_export_start, name="batch_export"),
    path("batches/<int:pk>/results/", batches.batch_results_upload, name="batch_results"),
    path("batches/<int:pk>/supplement/", batches.batch_supplement, name="batch_supplement"),
    path("batches/<int:pk>/lines/<int:line_pk>/correct/", batches.line_correct, name="line_correct"),
    path(
        "batches/<int:pk>/lines/<int:line_pk>/take-employer-account/",
        batches.line_take_employer_account,
        name="line_take_employer_account",
    ),
    path("batches/<int:pk>/vouchers/issue/", voucher_views.batch_vouchers_issue, name="vouchers_issue"),
    path("batches/<int:pk>/vouchers/list/", voucher_views.batch_vouchers_list, name="vouchers_list"),
    path("batches/<int:pk>/vouchers/redemptions/", voucher_views.vouchers_redemptions, name="vouchers_redemptions"),
    path("batches/<int:pk>/<str:action>/", batches.batch_action, name="batch_action"),
    path("exports/<int:pk>/download/", batches.export_download, name="export_download"),
    path("jobs/<int:job_pk>/retry/", batches.job_retry, name="job_retry"),
    path("lookup/", lookup.worker_lookup, name="worker_lookup"),
    path("employer/", employer.employer_payments, name="employer_payments"),
    path("registrations/<int:pk>/", employer.registration_payments, name="registration_payments"),
    path("employer/export.xlsx", employer.employer_payments_export, name="employer_payments_export"),
    path("employer/<int:entitlement_pk>/account/", employer.employer_account_correct, name="employer_account_correct"),
    path("compute/<slug:code>/", entitlements.programme_compute, name="programme_compute"),
]

gongshi_patterns = (
    [
        path("", publicity.gongshi_index, name="index"),
        path("<int:pk>/", publicity.gongshi_detail, name="detail"),
        path("<int:pk>/gongshi.pdf", publicity.gongshi_pdf, name="pdf"),
        path("<int:pk>/gongshi.xlsx", publicity.gongshi_xlsx, name="xlsx"),
        path("<int:pk>/objection/", publicity.gongshi_object, name="object"),
        path("manage/", publicity.notice_manage_list, name="manage"),
        path("manage/publish/", publicity.notice_publish, name="publish"),
        path("manage/<int:pk>/", publicity.notice_manage_detail, name="manage_detail"),
        path("manage/<int:pk>/withdraw/", publicity.notice_withdraw, name="withdraw"),
        path("manage/objections/<int:pk>/resolve/", publicity.objection_resolve, name="objection_resolve"),
    ],
    "gongshi",
)

signal_patterns = (
    [
        path("", signals.signal_list, name="list"),
        path("<int:pk>/", signals.signal_detail, name="detail"),
        path("<int:pk>/<str:decision>/", signals.signal_decide, name="decide"),
    ],
    "signals",
)

appeal_patterns = (
    [
        path("", appeals.appeal_list, name="list"),
        path("new/", appeals.appeal_new, name="new"),
        path("<int:pk>/", appeals.appeal_detail, name="detail"),
        path("<int:pk>/resolve/", appeals.appeal_resolve, name="resolve"),
    ],
    "appeals",
)
