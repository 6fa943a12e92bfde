"""Forms of the registry pages. They check formats; the services check the rules."""

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from beneficiaries.choices import Category, Ownership, PayoutChoice
from beneficiaries.idcard import IdNumberError, validate_id_number
from beneficiaries.phone import PhoneError, validate_mobile
from beneficiaries.uscc import USCCError, validate_uscc
from regions.models import Region

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class DistrictField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Region) -> str:
        parent = obj.parent.name if obj.parent_id and obj.parent.level != "province" else ""
        return f"{parent} {obj.name}".strip()


class EmployerRegisterForm(forms.Form):
    credit_code = forms.CharField(
        label=_("统一社会信用代码"),
        max_length=30,
        help_text=_("营业执照上的18位代码"),
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "latin", "class": "form-control"}),
    )
    name = forms.CharField(label=_("单位名称"), max_length=200, widget=forms.TextInput(attrs={"class": "form-control"}))
    ownership = forms.ChoiceField(
        label=_("经济类型"), choices=Ownership.choices, widget=forms.Select(attrs={"class": "form-select"})
    )
    district = DistrictField(
        label=_("所在区县（或功能区）"),
        queryset=Region.objects.none(),
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    industry = forms.CharField(
        label=_("行业"), max_length=100, required=False, widget=forms.TextInput(attrs={"class": "form-control"})
    )
    contact_name = forms.CharField(
        label=_("联系人"), max_length=50, widget=forms.TextInput(attrs={"class": "form-control"})
    )
    contact_phone = forms.CharField(
        label=_("联系电话"), max_length=20, widget=forms.TextInput(attrs={"class": "form-control", "inputmode": "tel"})
    )
    address = forms.CharField(
        label=_("地址"), max_length=200, required=False, widget=forms.TextInput(attrs={"class": "form-control"})
    )

    def __init__(self, *args, districts=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["district"].queryset = districts if districts is not None else Region.objects.districts()

    def clean_credit_code(self):
        try:
            return validate_uscc(self.cleaned_data["credit_code"])
        except USCCError as exc:
            raise forms.ValidationError(str(exc)) from None


class EmployerEditForm(EmployerRegisterForm):
    """The same fields without the credit code, which identifies the employer for good."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        del self.fields["credit_code"]


class ReturnForm(forms.Form):
    reason = forms.CharField(
        label=_("退回原因"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2, "class": "form-control"}),
        help_text=_("告诉企业需要修改什么"),
    )


class RegistrationForm(forms.Form):
    programme = forms.ModelChoiceField(
        label=_("项目"), queryset=None, widget=forms.Select(attrs={"class": "form-select"})
    )
    employer = forms.ModelChoiceField(
        label=pgettext_lazy("field", "用人单位"), queryset=None, widget=forms.Select(attrs={"class": "form-select"})
    )
    id_number = forms.CharField(
        label=_("身份证号"),
        max_length=30,
        widget=forms.TextInput(attrs={"autocomplete": "off", "class": "form-control", "inputmode": "latin"}),
        help_text=_("18位居民身份证号（15位旧号码自动转换）；港澳台居住证、外国人永久居留身份证也可"),
    )
    name = forms.CharField(label=_("姓名"), max_length=50, widget=forms.TextInput(attrs={"class": "form-control"}))
    phone = forms.CharField(
        label=_("手机号"),
        max_length=20,
        widget=forms.TextInput(attrs={"class": "form-control", "inputmode": "tel", "autocomplete": "off"}),
    )
    start_date = forms.DateField(label=_("留岗开始日期"), widget=DATE)
    end_date = forms.DateField(label=_("留岗结束日期"), widget=DATE)
    duty_days = forms.IntegerField(
        label=_("春节在岗天数"),
        min_value=0,
        max_value=366,
        initial=0,
        widget=forms.NumberInput(attrs={"class": "form-control"}),
    )
    seniority_years = forms.IntegerField(
        label=_("工龄（年）"),
        min_value=0,
        max_value=60,
        initial=0,
        widget=forms.NumberInput(attrs={"class": "form-control"}),
    )
    category = forms.ChoiceField(
        label=_("人员类别"),
        choices=Category.choices,
        initial=Category.MIGRANT,
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    bank_name = forms.CharField(
        label=_("开户银行"), max_length=100, required=False, widget=forms.TextInput(attrs={"class": "form-control"})
    )
    account = forms.CharField(
        label=_("银行账号"),
        max_length=40,
        required=False,
        widget=forms.TextInput(attrs={"class": "form-control", "inputmode": "numeric", "autocomplete": "off"}),
    )
    payout_choice = forms.ChoiceField(
        label=_("领取方式"),
        required=False,
        choices=PayoutChoice.choices,
        widget=forms.Select(attrs={"class": "form-select"}),
        help_text=_("补贴规则允许选择时（如循环化工园区“电子红包或现金”）按本人意愿选择；电子红包发到上面的手机号。"),
    )

    def __init__(self, *args, programmes, employers, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["programme"].queryset = programmes
        self.fields["employer"].queryset = employers
        for name in ("start_date", "end_date"):
            self.fields[name].widget.attrs["class"] = "form-control"
        if programmes.count() == 1:
            self.fields["programme"].initial = programmes.first()
        if employers.count() == 1:
            self.fields["employer"].initial = employers.first()

    def clean_id_number(self):
        try:
            return validate_id_number(self.cleaned_data["id_number"]).number
        except IdNumberError as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean_phone(self):
        try:
            return validate_mobile(self.cleaned_data["phone"])
        except PhoneError as exc:
            raise forms.ValidationError(str(exc)) from None


class ResolveForm(forms.Form):
    keep = forms.IntegerField(widget=forms.HiddenInput)
    note = forms.CharField(
        label=_("处理说明"),
        max_length=500,
        widget=forms.TextInput(attrs={"class": "form-control"}),
        help_text=_("例如：经核实该人员春节期间在本单位留岗"),
    )
