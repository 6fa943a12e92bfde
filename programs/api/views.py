"""/api/v1/programmes/ and /api/v1/rules/: read for staff in scope, write for province
and city staff (the services check the region). Thin: selectors and services."""

from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.viewsets import ViewSet

from accounts.scopes import is_admin
from core.errors import DomainError, PermissionDenied
from programs import selectors, services
from programs.choices import ProgrammeStatus
from programs.models import Programme, SubsidyRule
from programs.rules.preview import rule_preview
from regions.models import Region


class ProgrammeSerializer(serializers.ModelSerializer):
    region = serializers.CharField(source="region_id")

    class Meta:
        model = Programme
        fields = ["code", *services.PROGRAMME_FIELDS]


class RuleSerializer(serializers.ModelSerializer):
    programme = serializers.CharField(source="programme.code", read_only=True)
    region = serializers.CharField(source="region_id", read_only=True)

    class Meta:
        model = SubsidyRule
        fields = [
            "id",
            "programme",
            "rule_key",
            "version",
            "name",
            "region",
            "kind",
            "amount",
            "tiers",
            "months",
            "channel",
            "conditions",
            "valid_until",
            "budget_cap",
            "exclusivity_group",
            "priority",
            "status",
            "description",
            "activated_at",
        ]


class RuleInput(serializers.Serializer):
    """Shapes only; the rules are checked by programs.rules.validate.rule_validate."""

    programme = serializers.CharField(required=False)
    rule_key = serializers.CharField(required=False, allow_blank=True)
    name = serializers.CharField(required=False)
    region = serializers.CharField(required=False)
    kind = serializers.CharField(required=False)
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, required=False, allow_null=True)
    tiers = serializers.ListField(child=serializers.DictField(), required=False)
    months = serializers.IntegerField(required=False)
    channel = serializers.CharField(required=False)
    conditions = serializers.DictField(required=False)
    valid_until = serializers.DateField(required=False, allow_null=True)
    budget_cap = serializers.DecimalField(max_digits=14, decimal_places=2, required=False, allow_null=True)
    exclusivity_group = serializers.CharField(required=False, allow_blank=True)
    priority = serializers.IntegerField(required=False)
    description = serializers.CharField(required=False, allow_blank=True)

    def data_for_service(self) -> dict:
        data = dict(self.validated_data)
        data.pop("programme", None)
        data.pop("rule_key", None)
        if "region" in data:
            data["region"] = Region.objects.filter(code=data["region"]).first()
        return data


class RulePreviewDistrictSerializer(serializers.Serializer):
    district = serializers.CharField()
    name = serializers.CharField()
    count = serializers.IntegerField()
    amount = serializers.DecimalField(max_digits=14, decimal_places=2)


class RulePreviewSerializer(serializers.Serializer):
    """What activating a rule would cost: people and yuan, by district (schema only)."""

    rule = serializers.IntegerField()
    count = serializers.IntegerField()
    amount = serializers.DecimalField(max_digits=14, decimal_places=2)
    districts = RulePreviewDistrictSerializer(many=True)


class RuleRetireInput(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True)


class ProgrammeInput(serializers.Serializer):
    code = serializers.SlugField(max_length=40, required=False)
    name = serializers.CharField(max_length=200, required=False)
    region = serializers.CharField(required=False)
    start_date = serializers.DateField(required=False)
    end_date = serializers.DateField(required=False)
    holiday_start = serializers.DateField(required=False)
    holiday_end = serializers.DateField(required=False)
    registration_deadline = serializers.DateField(required=False)
    budget = serializers.DecimalField(max_digits=14, decimal_places=2, required=False)
    status = serializers.ChoiceField(choices=ProgrammeStatus.choices, required=False)

    def data_for_service(self) -> dict:
        data = dict(self.validated_data)
        data.pop("code", None)
        if "region" in data:
            data["region"] = Region.objects.filter(code=data["region"]).first()
            if data["region"] is None:
                raise DomainError("找不到该区划代码。", errors={"region": "区划代码不存在。"})
        return data


class ProgrammeViewSet(ViewSet):
    """Read for staff in scope; create and change for province staff (services check)."""

    lookup_field = "code"
    lookup_value_converter = "slug"
    serializer_class = ProgrammeSerializer  # for the OpenAPI schema
    queryset = Programme.objects.none()  # for the schema's path types; reads go through selectors

    def list(self, request):
        return Response(ProgrammeSerializer(selectors.programmes_for(request.user), many=True).data)

    def retrieve(self, request, code=None):
        return Response(ProgrammeSerializer(selectors.programme_get(request.user, code)).data)

    @extend_schema(request=ProgrammeInput, responses={201: ProgrammeSerializer})
    def create(self, request):
        body = ProgrammeInput(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.data_for_service()
        missing = [f for f in services.PROGRAMME_FIELDS if f not in data and f not in ("budget", "status")]
        if missing or not body.validated_data.get("code"):
            raise DomainError("请填写项目的全部必填项。", errors={f: "必填" for f in missing or ["code"]})
        programme = services.programme_create(code=body.validated_data["code"], data=data, acting_user=request.user)
        return Response(ProgrammeSerializer(programme).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ProgrammeInput, responses=ProgrammeSerializer)
    def partial_update(self, request, code=None):
        programme = selectors.programme_get(request.user, code)
        body = ProgrammeInput(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        programme = services.programme_update(
            programme=programme, data=body.data_for_service(), acting_user=request.user
        )
        return Response(ProgrammeSerializer(programme).data)


class RuleViewSet(ViewSet):
    serializer_class = RuleSerializer  # for the OpenAPI schema
    lookup_value_converter = "int"  # a non-numeric id matches no route: 404, never a 500
    queryset = SubsidyRule.objects.none()  # for the schema's path types; reads go through selectors

    def list(self, request):
        programme = None
        if request.query_params.get("programme"):
            programme = selectors.programme_get(request.user, request.query_params["programme"])
        qs = selectors.rules_for(request.user, programme=programme, status=request.query_params.get("status", ""))
        return Response(RuleSerializer(qs, many=True).data)

    def retrieve(self, request, pk=None):
        return Response(RuleSerializer(selectors.rule_get(request.user, pk)).data)

    @extend_schema(request=RuleInput, responses={201: RuleSerializer})
    def create(self, request):
        if not services.can_manage_rules(request.user):
            raise PermissionDenied("只有省级、市级人员可以设置补贴规则。")
        body = RuleInput(data=request.data)
        body.is_valid(raise_exception=True)
        programme = selectors.programme_get(request.user, body.validated_data.get("programme", ""))
        rule = services.rule_create(
            programme=programme,
            data=body.data_for_service(),
            acting_user=request.user,
            rule_key=body.validated_data.get("rule_key", ""),
        )
        return Response(RuleSerializer(rule).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=RuleInput, responses={200: RuleSerializer, 201: RuleSerializer})
    def partial_update(self, request, pk=None):
        rule = selectors.rule_get(request.user, pk)
        body = RuleInput(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        changed = services.rule_update(rule=rule, data=body.data_for_service(), acting_user=request.user)
        code = status.HTTP_201_CREATED if changed.pk != rule.pk else status.HTTP_200_OK
        return Response(RuleSerializer(changed).data, status=code)

    @extend_schema(request=None, responses=RuleSerializer)
    @action(detail=True, methods=["post"])
    def activate(self, request, pk=None):
        rule = services.rule_activate(rule=selectors.rule_get(request.user, pk), acting_user=request.user)
        return Response(RuleSerializer(rule).data)

    @extend_schema(request=RuleRetireInput, responses=RuleSerializer)
    @action(detail=True, methods=["post"])
    def retire(self, request, pk=None):
        rule = services.rule_retire(
            rule=selectors.rule_get(request.user, pk),
            acting_user=request.user,
            comment=str(request.data.get("comment", "")),
        )
        return Response(RuleSerializer(rule).data)

    @extend_schema(responses=RulePreviewSerializer)
    @action(detail=True, methods=["get"])
    def preview(self, request, pk=None):
        rule = selectors.rule_get(request.user, pk)
        user = request.user
        within = None if is_admin(user) else user.region
        with transaction.atomic():  # read-only; lets the preview tune its plan with SET LOCAL
            p = rule_preview(rule, within=within)
        return Response(
            {
                "rule": rule.pk,
                "count": p["count"],
                "amount": str(p["amount"]),
                # Turned away by the budget cap; and against money already settled for the
                # rule key, the 补差 top-ups activating adds and the 多发 items it would list.
                "refused": p["refused"],
                "topups": p["topups"],
                "topup_amount": str(p["topup_amount"]),
                "flagged": p["flagged"],
                "flagged_amount": str(p["flagged_amount"]),
                "districts": [
                    {
                        **d,
                        "amount": str(d["amount"]),
                        "topup_amount": str(d["topup_amount"]),
                        "flagged_amount": str(d["flagged_amount"]),
                    }
                    for d in p["districts"]
                ],
            }
        )
