"""The audit trail as a spreadsheet (the audit page's export): one line per entry, bulk
entries too (the file is for checking), in the words the page uses."""

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from import_export import fields, resources

from accounts.audit_display import ACTION_LABELS, OBJECT_LABELS, changes_text, value_label
from accounts.choices import Role
from accounts.models import AuditEntry
from accounts.services.audit import audit_record
from core.resources import IsoDateTimeWidget, export_response


class AuditEntryResource(resources.ModelResource):
    at = fields.Field(attribute="at", column_name=_("时间"), widget=IsoDateTimeWidget())
    who = fields.Field(column_name=_("人员"))
    username = fields.Field(column_name=_("登录名"))
    role = fields.Field(column_name=_("角色"))
    action = fields.Field(column_name=_("操作"))
    object_type = fields.Field(column_name=_("对象"))
    object_id = fields.Field(attribute="object_id", column_name=_("对象编号"))
    changes = fields.Field(column_name=_("变更"))
    comment = fields.Field(attribute="comment", column_name=_("备注"))

    class Meta:
        model = AuditEntry
        fields = ("at", "who", "username", "role", "action", "object_type", "object_id", "changes", "comment")

    def dehydrate_who(self, entry):
        user = entry.user
        return (user.get_full_name() or user.username) if user else gettext("系统")

    def dehydrate_username(self, entry):
        return entry.user.username if entry.user else ""

    def dehydrate_role(self, entry):
        user = entry.user
        if user is None:
            return ""
        return value_label("accounts.user", "role", Role.ADMIN if user.is_superuser else user.role)

    def dehydrate_action(self, entry):
        return str(ACTION_LABELS.get(entry.action, entry.action))

    def dehydrate_object_type(self, entry):
        return str(OBJECT_LABELS.get(entry.object_type, entry.object_type))

    def dehydrate_changes(self, entry):
        return changes_text(entry.object_type, entry.action, entry.changes)


def list_export(*, user, resource, queryset, fmt: str, action: str, filters: dict, filename: str, title: str):
    """A list page's rows as a file, with the audit row every export writes (who, how many
    rows, with which filters): the caller passes the page's own scoped, filtered queryset."""
    response, count = export_response(resource, queryset, fmt, filename=filename, title=title)
    audit_record(
        user=user,
        action=action,
        object_type="accounts.user",
        object_id=str(user.pk),
        changes={"rows": count, **{k: v for k, v in filters.items() if v}},
    )
    return response
