"""GET /api/v1/dashboard/?programme=CODE&region=CODE: the numbers the dashboard page shows.

Out of scope, unknown region or programme: 404. Amounts are strings of yuan ("1982400.00").
"""

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from core.replica import replica_reads
from portal import dashboards


class DashboardView(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("programme", str, description="项目代码（缺省：最新的项目）"),
            OpenApiParameter("region", str, description="区划代码（缺省：本人管辖区域）"),
        ],
        responses=OpenApiTypes.OBJECT,
        description="看板数据：摸排、登记、核定、发放，下级区域、按规则、趋势、排名、逾期未报。",
    )
    # DRF has authenticated the request (on the primary) before get(): only the panel's
    # reads go to the read replica, when one is configured (core/replica.py).
    @replica_reads()
    def get(self, request):
        scope = dashboards.dashboard_scope(
            request.user,
            programme_code=request.query_params.get("programme"),
            region_code=request.query_params.get("region"),
        )
        if scope is None:  # unknown and out of scope look the same
            raise Http404("项目或区域不存在，或不在您的管辖范围内")
        programme, region = scope
        panel = dashboards.dashboard_panel(programme=programme, region=region)
        # updated_at: when these figures were last refreshed; refresh_pending: a change
        # under this region is not in them yet (it will be within a minute).
        pending = dashboards.dashboard_refresh_pending(programme=programme, region=region)
        return Response({**panel, "refresh_pending": pending})
