from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.static import serve
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from portal import dashboard_views, views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("dashboard/", dashboard_views.dashboard, name="dashboard"),
    path("dashboard/export.xlsx", dashboard_views.dashboard_export, name="dashboard_export"),
    path("accounts/", include("accounts.urls")),
    path("programmes/", include("programs.urls")),
    path("registry/", include("beneficiaries.urls")),
    path("payments/", include("disbursements.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("portal.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
]

admin.site.site_header = "稳岗留工管理平台"
admin.site.site_title = "稳岗留工管理平台"

if settings.DEBUG:
    # Job result files (error reports) in development; production serves MEDIA from the proxy.
    urlpatterns += [path("media/<path:path>", serve, {"document_root": settings.MEDIA_ROOT})]
