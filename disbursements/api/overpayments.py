"""/api/v1/overpayments/ (the 多发/待核查 list in scope) and
POST /api/v1/overpayments/<id>/decide/ ({"decision": "keep"|"recover", "note": …}).

Adapters over disbursements.services.settlement: out of scope is 404, a refused decision 403,
a bad one 400 with the field's Chinese message, an already decided item 409."""

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from core.pagination import DefaultCursorPagination
from disbursements.api.batches import _staff_only
from disbursements.models import Overpayment
from disbursements.services.settlement import overpayment_decide, overpayments_for
from programs.models import Programme
from regions.models import Region


class OverpaymentSerializer(serializers.ModelSerializer):
    programme = serializers.CharField(source="programme.code")
    district_name = serializers.CharField(source="district.name")
    name = serializers.CharField(source="person.name")
    id_masked = serializers.CharField(source="person.id_masked")
    paid_version = serializers.IntegerField(source="paid_rule.version")
    new_version = serializers.IntegerField(source="new_rule.version", allow_null=True, default=None)
    adjustment = serializers.DecimalField(
        source="adjustment.amount", max_digits=14, decimal_places=2, allow_null=True, default=None
    )

    class Meta:
        model = Overpayment
        fields = [
            "id",
            "programme",
            "district",
            "district_name",
            "name",
            "id_masked",
            "rule_key",
            "settled_amount",
            "paid_version",
            "new_amount",
            "new_version",
            "amount",
            "reason",
            "status",
            "note",
            "decided_at",
            "adjustment",
        ]


class OverpaymentList(ListAPIView):
    """GET /api/v1/overpayments/?programme=&district=&status=open|kept|recovered|cleared|all"""

    serializer_class = OverpaymentSerializer
    pagination_class = DefaultCursorPagination

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the OpenAPI schema, no user
            return Overpayment.objects.none()
        _staff_only(self.request.user)
        q = self.request.query_params
        programme = Programme.objects.filter(code=q.get("programme")).first() if q.get("programme") else None
        district = Region.objects.filter(code=q.get("district")).first() if q.get("district") else None
        status = q.get("status", "open")
        return overpayments_for(
            self.request.user,
            programme=programme,
            district=district,
            status=None if status == "all" else status,
        ).select_related("programme", "adjustment")


class DecideSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=["keep", "recover"])
    note = serializers.CharField(max_length=500)


class OverpaymentDecide(APIView):
    @extend_schema(request=DecideSerializer, responses=OpenApiTypes.OBJECT)
    def post(self, request, pk: int):
        _staff_only(request.user)
        item = get_object_or_404(Overpayment.objects.for_user(request.user).select_related("district"), pk=pk)
        data = DecideSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        item = overpayment_decide(
            item=item,
            decision=data.validated_data["decision"],
            note=data.validated_data["note"],
            acting_user=request.user,
        )
        item = Overpayment.objects.select_related(
            "programme", "district", "person", "paid_rule", "new_rule", "adjustment"
        ).get(pk=item.pk)
        return Response(OverpaymentSerializer(item).data)
