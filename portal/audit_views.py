"""/audit/: the audit trail for staff, in scope, readable, filterable, exportable."""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render

from accounts.audit_display import ACTION_LABELS, OBJECT_LABELS, audit_rows_grouped
from accounts.scopes import require_staff
from accounts.services import audit_record
from portal.audit import audit_filter, audit_for_user, audit_xlsx

FILTERS = ("who", "action", "object_type", "object_id", "since", "until")
PAGE_SIZE = 50


def _filtered(request):
    filters = {k: request.GET.get(k, "").strip()[:60] for k in FILTERS}
    return filters, audit_filter(audit_for_user(request.user), **filters)


@login_required
def audit_list(request):
    require_staff(request.user)
    filters, qs = _filtered(request)
    try:
        page = max(1, int(request.GET.get("page", 1)))
    except ValueError:
        page = 1
    rows, has_next = audit_rows_grouped(qs, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    params = request.GET.copy()
    params.pop("page", None)
    return render(
        request,
        "portal/audit_list.html",
        {
            "rows": rows,
            "filters": filters,
            "actions": sorted(((k, str(v)) for k, v in ACTION_LABELS.items()), key=lambda kv: kv[1]),
            "object_types": [(k, str(v)) for k, v in OBJECT_LABELS.items()],
            "query": params.urlencode(),
            "page": {
                "page": page,
                "has_prev": page > 1,
                "has_next": has_next,
                "query": params.urlencode(),
                "first": (page - 1) * PAGE_SIZE + 1 if rows else 0,
                "last": (page - 1) * PAGE_SIZE + len(rows),
            },
        },
    )


@login_required
def audit_export(request):
    require_staff(request.user)
    filters, qs = _filtered(request)
    body, count = audit_xlsx(qs)
    audit_record(
        user=request.user,
        action="audit_export",
        object_type="accounts.user",
        object_id=str(request.user.pk),
        changes={"rows": count, **{k: v for k, v in filters.items() if v}},
    )
    response = HttpResponse(body, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = 'attachment; filename="audit.xlsx"'
    return response
