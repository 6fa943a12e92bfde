"""The dashboard page (/dashboard/) and its XLSX export: thin adapters over portal.dashboards."""

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts.scopes import is_admin, require_staff
from accounts.services.audit import audit_record
from core.replica import replica_reads
from disbursements.services.reconciliation import reconciliation_alarms_cached
from portal import dashboards


def _scope_or_404(request):
    """The programme and region asked for; unknown and out of scope look the same: 404."""
    scope = dashboards.dashboard_scope(
        request.user, programme_code=request.GET.get("programme"), region_code=request.GET.get("region")
    )
    if scope is None:
        raise Http404("项目或区域不存在，或不在您的管辖范围内")
    return scope


# The login is checked (session and user read) on the primary; the panel's reads go to the
# read replica when one is configured (core/replica.py), the audit row to the primary.
@login_required
@replica_reads()
def dashboard(request):
    require_staff(request.user)
    programme, region = _scope_or_404(request)
    panel = dashboards.dashboard_panel(programme=programme, region=region)
    home = programme.region if is_admin(request.user) else request.user.region
    charts = {
        "children": [
            {
                "code": c["region"],
                "name": c["region_name"],
                "staying": c["survey"]["staying"],
                "registered": c["registered_workers"],
                "entitled": c["entitled"]["amount"],
                "paid": c["paid"]["amount"],
            }
            for c in panel["children"]
        ],
        "rules": [
            {"name": r["rule_name"], "amount": r["entitled"]["amount"], "count": r["entitled"]["count"]}
            for r in panel["by_rule"]
        ],
        "trend": panel["trend"],
    }
    context = {
        "panel": panel,
        "programme": programme,
        "region": region,
        "programmes": dashboards.dashboard_programmes(request.user),
        "breadcrumb": dashboards._breadcrumb(region, home),
        "charts": charts,
        "updated_at": parse_datetime(panel["updated_at"]) if panel["updated_at"] else None,
        "refresh_pending": dashboards.dashboard_refresh_pending(programme=programme, region=region),
        "tables": dashboards.TABLES,
        # The key of the page's cached fragment: the panel's own cache key (rollup version and day).
        "body_cache": {
            "ttl": dashboards.PANEL_TTL,
            "version": region.rollup_version.isoformat() if getattr(region, "rollup_version", None) else "-",
            "day": timezone.localdate().isoformat(),
        },
        # An imbalance in reconciliation is an alarm here, never a silent number.
        # Cached per rollup version, like the panel: refreshed figures, fresh alarms.
        "recon_alarms": reconciliation_alarms_cached(request.user, programme, version=region.rollup_version),
    }
    return render(request, "portal/dashboard.html", context)


@login_required
@replica_reads()
def dashboard_export(request):
    require_staff(request.user)
    programme, region = _scope_or_404(request)
    table = request.GET.get("table", "all")
    tables = list(dashboards.TABLES) if table == "all" else [table]
    if any(t not in dashboards.TABLES for t in tables):
        raise Http404("没有这个表")
    panel = dashboards.dashboard_panel(programme=programme, region=region, full=True)
    body = dashboards.dashboard_xlsx(panel, tables)
    audit_record(
        user=request.user,
        action="dashboard_export",
        object_type="regions.region",
        object_id=region.code,
        changes={"programme": programme.code, "tables": tables},
    )
    filename = f"dashboard-{programme.code}-{region.code}-{table}.xlsx"
    response = HttpResponse(body, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
