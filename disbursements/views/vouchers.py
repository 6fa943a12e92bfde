"""Pages of a batch's consumption vouchers (消费券): issuing them, the issuance list, and
the voucher platform's redemption file. Adapters over disbursements.services.vouchers."""

import io

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from accounts.services.audit import audit_record
from core.views import flash_outcome
from disbursements.services.batches import can_submit
from disbursements.services.vouchers import issuance_csv
from disbursements.tasks import issue_job_start, redemptions_job_start
from disbursements.views.batches import _batches, _staff, upload_job_start


@login_required
@require_POST
def batch_vouchers_issue(request, pk: int):
    _staff(request)
    batch = get_object_or_404(_batches(request), pk=pk)
    flash_outcome(
        request,
        lambda: issue_job_start(batch=batch, acting_user=request.user),
        gettext("正在发放消费券。"),
        level=messages.INFO,
    )
    return redirect("disbursements:batch_detail", pk=batch.pk)


@login_required
def batch_vouchers_list(request, pk: int):
    _staff(request)
    batch = get_object_or_404(_batches(request), pk=pk)
    if not (request.user.is_superuser or can_submit(request.user, batch)):
        raise Http404
    buf = io.BytesIO()
    count = issuance_csv(batch, buf)
    audit_record(user=request.user, action="voucher_list_download", obj=batch, changes={"vouchers": count})
    response = HttpResponse(buf.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{batch.number}-vouchers.csv"'
    return response


@login_required
@require_POST
def vouchers_redemptions(request, pk: int):
    return upload_job_start(
        request, pk, redemptions_job_start, missing=gettext("请选择核销文件。"), started=gettext("正在导入核销记录。")
    )
