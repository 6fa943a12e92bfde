"""Forms of the survey pages: they only read the input; the rules are in programs.surveys.validate."""

from django import forms
from django.utils.translation import gettext_lazy as _

from programs.models import Programme, SurveyReport
from programs.surveys.fields import COUNT_FIELDS, display_label

HELP = {
    "outside_workers": _("外地务工人员 = 外省 + 省内外市 + 市内外县（分项之和不能大于总数）。"),
    "staying": _("准备在本地过年（留岗）的职工总数；其中春节在岗、本地/非本地户籍、贫困劳动力均为其中数。"),
    "enterprises_with_benefits": _("为留岗职工发放红包、慰问品、提供免费食宿等的企业数（不超过摸排企业数）。"),
}


class SurveyForm(forms.Form):
    programme = forms.ModelChoiceField(label=_("项目"), queryset=Programme.objects.none(), empty_label=None)
    as_of = forms.DateField(
        label=_("统计截止日期"),
        # An <input type="date"> accepts only ISO dates: without the format the zh-hans
        # locale renders "2021/03/31" and the browser shows an empty field.
        widget=forms.DateInput(attrs={"type": "date", "class": "form-control"}, format="%Y-%m-%d"),
    )
    confirm_jump = forms.BooleanField(
        label=_("确认数据无误（与上期相比变化较大时需勾选）"),
        required=False,
        widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
    )

    def __init__(self, *args, programmes=None, show_confirm=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["programme"].queryset = programmes if programmes is not None else Programme.objects.all()
        self.fields["programme"].widget.attrs["class"] = "form-select"
        # Counts after the date, in the order of the paper form.
        for field in COUNT_FIELDS:
            self.fields[field] = forms.IntegerField(
                label=display_label(field),
                min_value=0,
                initial=0,
                help_text=HELP.get(field, ""),
                error_messages={"min_value": _("不能为负数，请填写 0 或正整数。"), "invalid": _("请填写整数。")},
                widget=forms.NumberInput(attrs={"class": "form-control", "min": 0, "step": 1}),
            )
        self.fields["benefits_amount"] = forms.DecimalField(
            label=display_label("benefits_amount"),
            min_value=0,
            max_digits=14,
            decimal_places=2,
            initial=0,
            error_messages={"min_value": _("不能为负数。"), "invalid": _("请填写金额（元，最多两位小数）。")},
            widget=forms.NumberInput(attrs={"class": "form-control", "min": 0, "step": "0.01"}),
        )
        confirm = self.fields.pop("confirm_jump")
        if show_confirm:
            self.fields["confirm_jump"] = confirm

    @classmethod
    def initial_from(cls, report: SurveyReport) -> dict:
        data = {f: getattr(report, f) for f in [*COUNT_FIELDS, "benefits_amount"]}
        return {**data, "programme": report.programme_id, "as_of": report.as_of}

    def figures(self) -> dict:
        return {f: self.cleaned_data[f] for f in [*COUNT_FIELDS, "benefits_amount"]}


class ReturnForm(forms.Form):
    reason = forms.CharField(
        label=_("退回原因"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2, "class": "form-control", "placeholder": _("请写明需要区县修改的内容")}),
        error_messages={"required": _("请填写退回原因。")},
    )
