"""/audit/: the audit trail for staff, in scope, readable, filterable, exportable."""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render

from accounts.audit_display import ACTION_LABELS, OBJECT_LABELS, audit_rows_grouped, cursor_parse, cursor_text
from accounts.scopes import require_staff
from accounts.services.audit import audit_record
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
    # Keyset paging (the trail only grows, and an offset would re-read every page before).
    before = cursor_parse(request.GET.get("before", ""))
    try:
        number = max(1, int(request.GET.get("n", 1))) if before else 1
    except ValueError:
        number = 1
    rows, cursor = audit_rows_grouped(qs, before=before, limit=PAGE_SIZE)
    params = request.GET.copy()
    for key in ("before", "n"):
        params.pop(key, None)
    return render(
        request,
        "portal/audit_list.html",
        {
            "rows": rows,
            "filters": filters,
            "actions": sorted(((k, str(v)) for k, v in ACTION_LABELS.items()), key=lambda kv: kv[1]),
            "object_types": [(k, str(v)) for k, v in OBJECT_LABELS.items()],
            "query": params.urlencode(),
            "number": number,
            "next_cursor": cursor_text(cursor),
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
