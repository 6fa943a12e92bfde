"""The rule form: fields for people, turned into the service's data dict."""

from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.scopes import is_admin
from programs.choices import Channel, HukouScope, RuleKind
from programs.rules.conditions import CATEGORIES, OWNERSHIPS
from regions.models import Region

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def parse_tiers(text: str) -> list[dict]:
    """ "0:200, 3:400, 5:600" → [{"min_years": 0, "amount": "200"}, …]."""
    tiers = []
    for part in (text or "").replace("，", ",").replace("：", ":").split(","):
        part = part.strip()
        if not part:
            continue
        years, _, amount = part.partition(":")
        if not _:
            raise forms.ValidationError(f"“{part}”格式不对，应为“工龄:金额”，如 3:400。")
        tiers.append({"min_years": years.strip(), "amount": amount.strip()})
    return tiers


class RuleForm(forms.Form):
    name = forms.CharField(label=_("规则名称"), max_length=200)
    region = forms.ModelChoiceField(
        label=_("适用区域"), queryset=Region.objects.none(), help_text=_("适用于在该区域及其下级区域留岗的人员。")
    )
    kind = forms.ChoiceField(label=_("补贴类型"), choices=RuleKind.choices)
    amount = forms.DecimalField(
        label=_("金额（元/人）"), required=False, min_value=Decimal("0"), decimal_places=2, max_digits=14
    )
    tiers = forms.CharField(
        label=_("按工龄分档（可选）"),
        required=False,
        help_text=_("如 0:200, 3:400, 5:600（工龄满 N 年的金额）。与“金额”二选一。"),
    )
    months = forms.IntegerField(
        label=_("发放月数"),
        initial=1,
        min_value=1,
        max_value=24,
        help_text=_("按月发放的补助金填写月数，其他类型为 1。"),
    )
    channel = forms.ChoiceField(label=_("发放渠道"), choices=Channel.choices)
    alt_channel = forms.ChoiceField(
        label=_("可选发放渠道"),
        required=False,
        choices=[("", _("不提供选择")), *((c, label) for c, label in Channel.choices if c != Channel.EMPLOYER)],
        help_text=_("如“电子红包或现金”：登记时可为本人选择此渠道代替上面的发放渠道。"),
    )
    hukou_outside = forms.ChoiceField(
        label=_("户籍条件"), required=False, choices=[("", _("不限")), *HukouScope.choices]
    )
    ownership_in = forms.MultipleChoiceField(
        label=_("用人单位经济类型"),
        required=False,
        choices=list(OWNERSHIPS.items()),
        widget=forms.CheckboxSelectMultiple,
        help_text=_("不选为不限。"),
    )
    category_in = forms.MultipleChoiceField(
        label=_("人员类别"),
        required=False,
        choices=list(CATEGORIES.items()),
        widget=forms.CheckboxSelectMultiple,
        help_text=_("不选为不限。"),
    )
    on_duty_min_days = forms.IntegerField(label=_("春节在岗至少（天）"), required=False, min_value=0)
    stayed_through_holiday = forms.BooleanField(label=_("须春节假期全程留岗"), required=False)
    employer_verified = forms.BooleanField(label=_("用人单位须经区县核实"), required=False, initial=True)
    employer_codes = forms.CharField(
        label=_("限定企业（统一社会信用代码）"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("企业自发福利填写发放企业；多个用逗号或换行分隔。"),
    )
    valid_until = forms.DateField(label=_("有效期至"), required=False, widget=DATE, help_text=_("消费券必填。"))
    budget_cap = forms.DecimalField(
        label=_("预算上限（元）"),
        required=False,
        min_value=Decimal("0"),
        decimal_places=2,
        max_digits=14,
        help_text=_("按核实先后顺序发放，达到上限即止。"),
    )
    exclusivity_group = forms.CharField(
        label=_("互斥组"), required=False, max_length=40, help_text=_("同组规则一人只享受金额最高的一项。")
    )
    priority = forms.IntegerField(label=_("优先级"), initial=100, help_text=_("数字小者优先（互斥组内金额相同时）。"))
    description = forms.CharField(label=_("政策依据"), required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, user=None, programme=None, **kwargs):
        super().__init__(*args, **kwargs)
        regions = Region.objects.all()
        if programme is not None:
            regions = regions.filter(path__startswith=programme.region.path)
        if user is not None and not is_admin(user):
            regions = regions.filter(path__startswith=user.region.path) if user.region_id else regions.none()
        self.fields["region"].queryset = regions.order_by("path")
        for name, field in self.fields.items():
            widget = field.widget
            if isinstance(widget, forms.CheckboxSelectMultiple):
                continue
            css = (
                "form-check-input"
                if isinstance(widget, forms.CheckboxInput)
                else ("form-select" if isinstance(widget, forms.Select) else "form-control")
            )
            widget.attrs.setdefault("class", css)
            widget.attrs.setdefault("id", f"id_{name}")

    def clean_tiers(self):
        return parse_tiers(self.cleaned_data.get("tiers", ""))

    def to_data(self) -> dict:
        c = self.cleaned_data
        return {
            "name": c["name"],
            "region": c["region"],
            "kind": c["kind"],
            "amount": c.get("amount"),
            "tiers": c.get("tiers") or [],
            "months": c.get("months") or 1,
            "channel": c["channel"],
            "alt_channel": c.get("alt_channel") or "",
            "conditions": {
                "hukou_outside": c.get("hukou_outside") or "",
                "ownership_in": c.get("ownership_in") or [],
                "category_in": c.get("category_in") or [],
                "on_duty_min_days": c.get("on_duty_min_days") or 0,
                "stayed_through_holiday": bool(c.get("stayed_through_holiday")),
                "employer_verified": bool(c.get("employer_verified")),
                "employer_codes": c.get("employer_codes") or "",
            },
            "valid_until": c.get("valid_until"),
            "budget_cap": c.get("budget_cap"),
            "exclusivity_group": c.get("exclusivity_group") or "",
            "priority": c.get("priority") if c.get("priority") is not None else 100,
            "description": c.get("description") or "",
        }

    @classmethod
    def initial_from(cls, rule) -> dict:
        cond = rule.conditions or {}
        return {
            "name": rule.name,
            "region": rule.region_id,
            "kind": rule.kind,
            "amount": rule.amount,
            "tiers": ", ".join(f"{t['min_years']}:{t['amount']}" for t in rule.tiers or []),
            "months": rule.months,
            "channel": rule.channel,
            "alt_channel": rule.alt_channel,
            "hukou_outside": cond.get("hukou_outside", ""),
            "ownership_in": cond.get("ownership_in", []),
            "category_in": cond.get("category_in", []),
            "on_duty_min_days": cond.get("on_duty_min_days"),
            "stayed_through_holiday": cond.get("stayed_through_holiday", False),
            "employer_verified": cond.get("employer_verified", True),
            "employer_codes": ", ".join(cond.get("employer_codes", [])),
            "valid_until": rule.valid_until,
            "budget_cap": rule.budget_cap,
            "exclusivity_group": rule.exclusivity_group,
            "priority": rule.priority,
            "description": rule.description,
        }


def apply_rule_error(form: RuleForm, exc) -> None:
    """Put a service's DomainError beside the fields it names."""
    errors = exc.errors if isinstance(exc.errors, dict) else {}
    placed = False
    for field, message in errors.items():
        target = field if field in form.fields else None
        if target is None and field == "conditions":
            target = None
        form.add_error(target, message)
        placed = placed or target is not None
    if not errors:
        form.add_error(None, exc.message)
