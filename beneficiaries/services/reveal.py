"""Showing a person's full ID or account number to a user whose role needs it, audited."""

from django.db import transaction

from accounts.models import User
from accounts.services.audit import audit_record
from beneficiaries import pii
from beneficiaries.models import Registration
from core.errors import DomainError, PermissionDenied

REVEALABLE = {("person", "id_number"), ("registration", "id_number"), ("registration", "account")}


def pii_reveal(*, acting_user: User, obj, field: str) -> str:
    """The full ID or account number, for a user whose role needs it; always audited."""
    kind = obj._meta.model_name
    if (kind, field) not in REVEALABLE:
        raise DomainError("不能查看该字段。")
    if not (acting_user.is_authenticated and acting_user.can_view_pii):
        raise PermissionDenied("您没有查看完整证件号码和银行账号的权限。")
    if kind == "person":
        in_scope = Registration.objects.for_user(acting_user).filter(person_id=obj.pk).exists()
        person = obj
    else:
        in_scope = Registration.objects.for_user(acting_user).filter(pk=obj.pk).exists()
        person = obj.person
    if not in_scope:
        raise PermissionDenied("该记录不在您的管辖范围内。")
    if field == "id_number":
        value = pii.decrypt(person.id_cipher)
    else:
        value = pii.decrypt(obj.account_cipher) if obj.account_cipher else ""
    with transaction.atomic():
        audit_record(user=acting_user, action="reveal", obj=obj, changes={"field": field})
    return value
