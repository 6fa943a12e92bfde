"""/api/v1/entitlements/ (in scope, with filters and totals) and
POST /api/v1/programmes/{code}/compute/ (starts a compute Job)."""

from decimal import Decimal

from django.db.models import Count, Sum
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from core.money import format_yuan
from core.pagination import DefaultCursorPagination
from disbursements.models import Entitlement
from disbursements.tasks import compute_start
from disbursements.views.entitlements import compute_region
from programs.selectors import programme_get

FIELDS = (
    "id",
    "programme__code",
    "rule_id",
    "rule_key",
    "rule__version",
    "rule__name",
    "person_id",
    "person__name",
    "person__id_masked",
    "registration_id",
    "registration__employer__name",
    "district_id",
    "district__name",
    "channel",
    "amount",
    "status",
    # base, topup (补差) or adjustment (追回, negative); part numbers top-ups 1, 2, …
    "kind",
    "part",
    "reason",
    "computed_at",
)
FILTERS = {
    "programme": "programme__code",
    "district": "district_id",
    "rule": "rule_id",
    "rule_key": "rule_key",
    "status": "status",
    "channel": "channel",
    "employer": "registration__employer_id",
}


class EntitlementRow(serializers.Serializer):
    """The shape of one row (for the OpenAPI schema; rows are built from values())."""

    id = serializers.IntegerField()
    programme = serializers.CharField()
    rule_id = serializers.IntegerField()
    rule_key = serializers.CharField()
    rule__version = serializers.IntegerField()
    rule__name = serializers.CharField()
    person_id = serializers.IntegerField()
    person__name = serializers.CharField()
    person__id_masked = serializers.CharField()
    registration_id = serializers.IntegerField()
    registration__employer__name = serializers.CharField()
    district_id = serializers.CharField()
    district__name = serializers.CharField()
    channel = serializers.CharField()
    amount = serializers.CharField()
    status = serializers.CharField()
    kind = serializers.CharField()
    part = serializers.IntegerField()
    reason = serializers.JSONField()
    computed_at = serializers.DateTimeField()


class ComputeStarted(serializers.Serializer):
    job = serializers.IntegerField()
    state = serializers.CharField()
    status_url = serializers.CharField()


class EntitlementPagination(DefaultCursorPagination):
    def get_paginated_response(self, data):
        response = super().get_paginated_response(data)
        response.data["totals"] = self.totals
        return response


class EntitlementList(ListAPIView):
    """Entitlements in the user's scope. Filters: programme, district (or any region:
    its districts), rule, rule_key, status, channel, employer. `totals` are over the
    whole filtered set, not the page: count and amount, and by status."""

    pagination_class = EntitlementPagination
    serializer_class = EntitlementRow
    filter_backends: list = []

    def get_queryset(self):
        qs = Entitlement.objects.for_user(self.request.user)
        params = self.request.query_params
        for param, lookup in FILTERS.items():
            value = params.get(param)
            if not value:
                continue
            if param == "district" and len(value) == 6 and value.endswith("00"):
                qs = qs.filter(district__path__contains=f"{value}/")
            else:
                qs = qs.filter(**{lookup: value})
        return qs

    def list(self, request, *args, **kwargs):
        qs = self.get_queryset()
        by_status = {
            row["status"]: {"count": row["n"], "amount": format_yuan(row["s"] or Decimal("0"))}
            for row in qs.order_by().values("status").annotate(n=Count("id"), s=Sum("amount"))
        }
        paginator = self.paginator
        paginator.totals = {
            "count": sum(v["count"] for v in by_status.values()),
            "amount": format_yuan(sum((Decimal(v["amount"]) for v in by_status.values()), Decimal("0"))),
            "by_status": by_status,
        }
        page = paginator.paginate_queryset(qs.values(*FIELDS), request, view=self)
        rows = []
        for r in page:
            r["programme"] = r.pop("programme__code")
            r["amount"] = format_yuan(r["amount"])
            rows.append(r)
        return paginator.get_paginated_response(rows)


class ProgrammeCompute(APIView):
    """Start computing a programme's entitlements (the caller's region only, for city
    and district staff). 202 with the Job; poll /api/v1/jobs/{id}/."""

    serializer_class = ComputeStarted  # for the OpenAPI schema

    def post(self, request, code: str):
        programme = programme_get(request.user, code)
        job = compute_start(
            programme=programme, district=compute_region(request.user, programme), acting_user=request.user
        )
        return Response(
            {"job": job.pk, "state": job.state, "status_url": f"/api/v1/jobs/{job.pk}/"},
            status=status.HTTP_202_ACCEPTED,
        )
