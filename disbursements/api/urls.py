from django.urls import path

from disbursements.api.batches import BatchBuild, BatchViewSet, ExportDownload, Reconciliation
from disbursements.api.entitlements import EntitlementList, ProgrammeCompute
from disbursements.api.overpayments import OverpaymentDecide, OverpaymentList
from disbursements.api.trust import (
    AppealDetail,
    AppealList,
    AppealResolve,
    NoticeList,
    SignalDecide,
    SignalDetail,
    SignalList,
)

urlpatterns: list = [
    # Entitlements: list in scope with totals; start a computation.
    path("entitlements/", EntitlementList.as_view(), name="api-entitlement-list"),
    path("programmes/<slug:code>/compute/", ProgrammeCompute.as_view(), name="api-programme-compute"),
    # 多发/待核查 (settled money above what the rules grant now) and the officer's decision.
    path("overpayments/", OverpaymentList.as_view(), name="api-overpayment-list"),
    path("overpayments/<int:pk>/decide/", OverpaymentDecide.as_view(), name="api-overpayment-decide"),
    # Batches: list/detail in scope, chain actions, bank files, results, reconciliation.
    path("batches/build/", BatchBuild.as_view(), name="api-batch-build"),
    path("batches/", BatchViewSet.as_view({"get": "list"}), name="api-batch-list"),
    path("batches/<int:pk>/", BatchViewSet.as_view({"get": "retrieve"}), name="api-batch-detail"),
    path("batches/<int:pk>/lines/", BatchViewSet.as_view({"get": "lines"}), name="api-batch-lines"),
    path("batches/<int:pk>/submit/", BatchViewSet.as_view({"post": "submit"}), name="api-batch-submit"),
    path("batches/<int:pk>/review/", BatchViewSet.as_view({"post": "review"}), name="api-batch-review"),
    path("batches/<int:pk>/approve/", BatchViewSet.as_view({"post": "approve"}), name="api-batch-approve"),
    path("batches/<int:pk>/return/", BatchViewSet.as_view({"post": "return_"}), name="api-batch-return"),
    path("batches/<int:pk>/export/", BatchViewSet.as_view({"post": "export"}), name="api-batch-export"),
    path("batches/<int:pk>/results/", BatchViewSet.as_view({"post": "import_results"}), name="api-batch-results"),
    path("batches/<int:pk>/supplement/", BatchViewSet.as_view({"post": "supplement"}), name="api-batch-supplement"),
    path("bank-files/<int:pk>/", ExportDownload.as_view(), name="api-bank-file"),
    path("programmes/<slug:code>/reconciliation/", Reconciliation.as_view(), name="api-reconciliation"),
    # 公示, fraud signals and appeals (disbursements/api/trust.py).
    path("notices/", NoticeList.as_view(), name="api-notice-list"),
    path("signals/", SignalList.as_view(), name="api-signal-list"),
    path("signals/<int:pk>/", SignalDetail.as_view(), name="api-signal-detail"),
    path("signals/<int:pk>/clear/", SignalDecide.as_view(decision="clear"), name="api-signal-clear"),
    path("signals/<int:pk>/confirm/", SignalDecide.as_view(decision="confirm"), name="api-signal-confirm"),
    path("appeals/", AppealList.as_view(), name="api-appeal-list"),
    path("appeals/<int:pk>/", AppealDetail.as_view(), name="api-appeal-detail"),
    path("appeals/<int:pk>/resolve/", AppealResolve.as_view(), name="api-appeal-resolve"),
]
