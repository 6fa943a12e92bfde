"""The cleaning of typed values that the employer and registration services share (a
district, a line of text, a contact phone), raising domain errors with the field named."""

from beneficiaries.phone import PhoneError, clean_contact_phone
from core.errors import DomainError
from regions.choices import Level
from regions.models import Region


def district_region(district) -> Region:
    if isinstance(district, Region):
        region = district
    else:
        region = Region.objects.filter(code=str(district or "").strip()).first()
        if region is None:
            raise DomainError(f"所在区县“{district}”不存在，请选择区县。", errors={"district": "区县不存在"})
    if region.level != Level.DISTRICT:
        raise DomainError(
            f"“{region.name}”不是区县级单位，请选择单位所在的区县（或功能区）。", errors={"district": "请选择区县"}
        )
    return region


def clean_text(value, field: str, label: str, *, max_length: int, required: bool = True) -> str:
    s = " ".join(str(value or "").split())
    if required and not s:
        raise DomainError(f"{label}不能为空。", errors={field: f"请填写{label}"})
    if len(s) > max_length:
        raise DomainError(f"{label}过长（最多{max_length}个字）。", errors={field: f"最多{max_length}个字"})
    return s


def clean_phone(raw, field: str = "contact_phone") -> str:
    """A mobile number, or a landline as typed (employers give office numbers too)."""
    s = str(raw or "").strip()
    if not s:
        return ""
    try:
        return clean_contact_phone(s)
    except PhoneError:
        raise DomainError(
            f"联系电话“{s}”无效：请填写11位手机号或带区号的固定电话。", errors={field: "电话无效"}
        ) from None
