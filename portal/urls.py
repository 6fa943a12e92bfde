from django.conf import settings
from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.urls import include, path
from django.views.static import serve
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from accounts.urls import notification_patterns
from disbursements.urls import appeal_patterns, gongshi_patterns, signal_patterns
from disbursements.views import appeals as appeal_views
from portal import audit_views, dashboard_views, views
from portal.api.root import ApiIndexView


def _docs_view(view):
    """Swagger UI: a person who is not signed in goes to the login page (the schema it
    loads answers 401/403 to them anyway) unless API_DOCS_PUBLIC. The split view serves
    its start-up script as a file, not inline, for the Content-Security-Policy."""
    return view if settings.API_DOCS_PUBLIC else login_required(view)


urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    # Browsers ask for /favicon.ico whatever the page says (JSON and file responses too).
    path("favicon.ico", views.favicon),
    path("dashboard/", dashboard_views.dashboard, name="dashboard"),
    path("dashboard/export.xlsx", dashboard_views.dashboard_export, name="dashboard_export"),
    path("audit/", audit_views.audit_list, name="audit_list"),
    path("audit/export.xlsx", audit_views.audit_export, name="audit_export"),
    path("audit/export.csv", audit_views.audit_export, {"fmt": "csv"}, name="audit_export_csv"),
    path("accounts/", include("accounts.urls")),
    path("notifications/", include(notification_patterns)),
    path("programmes/", include("programs.urls")),
    path("gongshi/", include(gongshi_patterns)),
    path("registry/signals/", include(signal_patterns)),
    path("registry/appeals/", include(appeal_patterns)),
    path("registry/", include("beneficiaries.urls")),
    path("payments/lookup/appeal/", appeal_views.worker_appeal_file, name="worker_appeal"),
    path("payments/", include("disbursements.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/", ApiIndexView.as_view(), name="api-index"),
    path("api/v1/", include("portal.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", _docs_view(SpectacularSwaggerSplitView.as_view(url_name="schema")), name="swagger-ui"),
]

admin.site.site_header = "稳岗留工管理平台"
admin.site.site_title = "稳岗留工管理平台"

if settings.DEBUG:
    # Job result files (error reports) in development; production serves MEDIA from the proxy.
    urlpatterns += [path("media/<path:path>", serve, {"document_root": settings.MEDIA_ROOT})]
