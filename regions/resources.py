"""The region tree as a spreadsheet, for the admin's import and export of reference data."""

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from import_export import fields, resources, widgets

from core.resources import ChoiceWidget, LookupWidget
from regions.choices import Kind, Level
from regions.models import Region


class RegionResource(resources.ModelResource):
    """One region a row, keyed by its code. `path` (the chain of codes the scope checks
    match on) is worked out from the parent; a new region hangs under an existing one.
    Moving a region under another parent would move its whole subtree's scope, so an
    import refuses it (the tree is reloaded by `regions_load` instead). A region decides
    scope, not money: like the region admin's change form, an import is kept in the admin's
    history (LogEntry), not the audit trail."""

    code = fields.Field(attribute="code", column_name=_("区划代码"), widget=widgets.CharWidget())
    name = fields.Field(attribute="name", column_name=_("名称"), widget=widgets.CharWidget())
    level = fields.Field(attribute="level", column_name=_("层级"), widget=ChoiceWidget(Level))
    kind = fields.Field(attribute="kind", column_name=_("类别"), widget=ChoiceWidget(Kind))
    parent = fields.Field(attribute="parent", column_name=_("上级代码"), widget=LookupWidget(Region, field="code"))
    official_parent_code = fields.Field(
        attribute="official_parent_code", column_name=_("法定上级代码"), widget=widgets.CharWidget()
    )
    direct_report = fields.Field(attribute="direct_report", column_name=_("省直管"), widget=widgets.BooleanWidget())

    class Meta:
        model = Region
        import_id_fields = ("code",)
        fields = ("code", "name", "level", "kind", "parent", "official_parent_code", "direct_report")
        skip_unchanged = True
        report_skipped = True

    def before_save_instance(self, instance, row, **kwargs):
        if not re.fullmatch(r"\d{6}", instance.code or ""):
            raise ValidationError({"code": [_("区划代码应为6位数字。")]})
        stored = Region.objects.filter(pk=instance.pk).values_list("parent_id", flat=True).first()
        if instance.path and stored != instance.parent_id:
            raise ValidationError({"parent": [_("不能通过导入更改上级区划（会移动整棵下级区划的范围）。")]})
        if not instance.path:
            instance.path = (instance.parent.path if instance.parent else "") + instance.code + "/"
