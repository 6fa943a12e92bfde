"""Programmes and subsidy rules as spreadsheets, for the admin's import and export.

Both decide money, so an import writes through programs.services (the permission check,
the rule's validation and versioning, and the audit row with old and new values)."""

from django.utils.translation import gettext_lazy as _
from import_export import fields, widgets

from core.resources import ChoiceWidget, IsoDateWidget, JsonWidget, LookupWidget, MoneyWidget, ServiceResource
from programs import services
from programs.choices import Channel, ProgrammeStatus, RuleKind, RuleStatus
from programs.models import Programme, SubsidyRule
from regions.models import Region


def _region_field(column_name):
    return fields.Field(attribute="region", column_name=column_name, widget=LookupWidget(Region, "code"))


class ProgrammeResource(ServiceResource):
    code = fields.Field(attribute="code", column_name=_("项目代码"), widget=widgets.CharWidget())
    name = fields.Field(attribute="name", column_name=_("项目名称"), widget=widgets.CharWidget())
    region = _region_field(_("实施区域代码"))
    start_date = fields.Field(attribute="start_date", column_name=_("开始日期"), widget=IsoDateWidget())
    end_date = fields.Field(attribute="end_date", column_name=_("结束日期"), widget=IsoDateWidget())
    holiday_start = fields.Field(attribute="holiday_start", column_name=_("春节假期开始"), widget=IsoDateWidget())
    holiday_end = fields.Field(attribute="holiday_end", column_name=_("春节假期结束"), widget=IsoDateWidget())
    registration_deadline = fields.Field(
        attribute="registration_deadline", column_name=_("登记截止日期"), widget=IsoDateWidget()
    )
    budget = fields.Field(attribute="budget", column_name=_("预算（元）"), widget=MoneyWidget())
    status = fields.Field(attribute="status", column_name=_("状态"), widget=ChoiceWidget(ProgrammeStatus))

    class Meta:
        model = Programme
        import_id_fields = ("code",)
        fields = ("code", *services.PROGRAMME_FIELDS)
        skip_unchanged = True
        report_skipped = True

    def service_save(self, instance, *, is_create, acting_user):
        data = {f: getattr(instance, f) for f in services.PROGRAMME_FIELDS}
        if is_create:
            return services.programme_create(code=instance.code, data=data, acting_user=acting_user)
        # The stored row, not the one the import changed in memory: the service compares
        # against it to write what changed.
        stored = Programme.objects.get(pk=instance.pk)
        return services.programme_update(programme=stored, data=data, acting_user=acting_user)


class SubsidyRuleResource(ServiceResource):
    """A rule a row, keyed by its programme and rule_key; a row changes the latest version.
    A rule that has produced entitlements is never edited in place: the service makes a
    new draft version with the changes (activated on the rule's page). Version and status
    are exported for reading and never imported."""

    programme = fields.Field(attribute="programme", column_name=_("项目代码"), widget=LookupWidget(Programme, "code"))
    rule_key = fields.Field(attribute="rule_key", column_name=_("规则编号"), widget=widgets.CharWidget())
    version = fields.Field(attribute="version", column_name=_("版本"), readonly=True)
    name = fields.Field(attribute="name", column_name=_("规则名称"), widget=widgets.CharWidget())
    region = _region_field(_("适用区域代码"))
    kind = fields.Field(attribute="kind", column_name=_("类型"), widget=ChoiceWidget(RuleKind))
    amount = fields.Field(attribute="amount", column_name=_("金额（元）"), widget=MoneyWidget())
    tiers = fields.Field(attribute="tiers", column_name=_("工龄档次"), widget=JsonWidget([]))
    months = fields.Field(attribute="months", column_name=_("发放月数"), widget=widgets.IntegerWidget())
    channel = fields.Field(attribute="channel", column_name=_("发放渠道"), widget=ChoiceWidget(Channel))
    alt_channel = fields.Field(attribute="alt_channel", column_name=_("可选发放渠道"), widget=ChoiceWidget(Channel))
    conditions = fields.Field(attribute="conditions", column_name=_("条件"), widget=JsonWidget({}))
    valid_until = fields.Field(attribute="valid_until", column_name=_("有效期至"), widget=IsoDateWidget())
    budget_cap = fields.Field(attribute="budget_cap", column_name=_("预算上限（元）"), widget=MoneyWidget())
    exclusivity_group = fields.Field(
        attribute="exclusivity_group", column_name=_("互斥组"), widget=widgets.CharWidget()
    )
    priority = fields.Field(attribute="priority", column_name=_("优先级"), widget=widgets.IntegerWidget())
    status = fields.Field(attribute="status", column_name=_("状态"), widget=ChoiceWidget(RuleStatus), readonly=True)
    description = fields.Field(attribute="description", column_name=_("政策依据"), widget=widgets.CharWidget())

    class Meta:
        model = SubsidyRule
        import_id_fields = ("programme", "rule_key")
        fields = ("programme", "rule_key", "version", *services.RULE_FIELDS, "status")
        skip_unchanged = True
        report_skipped = True

    def get_instance(self, instance_loader, row):
        """The latest version of the rule (older versions keep the entitlements they made)."""
        try:
            programme = self.fields["programme"].clean(row)
        except ValueError:  # an unknown programme: the row's error comes from the field
            return None
        rule_key = str(row.get(self.fields["rule_key"].column_name) or "").strip()
        return (
            SubsidyRule.objects.filter(programme=programme, rule_key=rule_key).order_by("-version").first()
            if programme and rule_key
            else None
        )

    def service_save(self, instance, *, is_create, acting_user):
        data = {f: getattr(instance, f) for f in services.RULE_FIELDS}
        if is_create:
            return services.rule_create(
                programme=instance.programme, data=data, rule_key=instance.rule_key, acting_user=acting_user
            )
        return services.rule_update(rule=instance, data=data, acting_user=acting_user)
