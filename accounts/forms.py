from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _

from accounts.login_gate import LoginBusy


class LoginForm(AuthenticationForm):
    """The stock form with Chinese labels and messages."""

    username = forms.CharField(
        label=_("用户名"), widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "username"})
    )
    password = forms.CharField(
        label=_("密码"), strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )
    error_messages = {
        "invalid_login": _("用户名或密码不正确。连续输错多次后账号将被暂时锁定。"),
        "inactive": _("该账号已停用，请联系管理员。"),
        "busy": _("此刻登录的人较多，系统正在排队核对密码。请等几秒后再点一次“登录”。"),
    }

    def clean(self):
        try:
            return super().clean()
        except LoginBusy:
            # Not a failed login (django-axes counts nothing): the password was never checked.
            raise forms.ValidationError(self.error_messages["busy"], code="busy") from None

    @property
    def is_busy(self) -> bool:
        return any(e.code == "busy" for e in self.non_field_errors().as_data())


class UserForm(forms.Form):
    """Create or edit a user within the manager's scope (the choices are the manager's)."""

    username = forms.CharField(label=_("登录名"), max_length=150, required=False)
    full_name = forms.CharField(label=_("姓名"), max_length=150)
    role = forms.ChoiceField(label=_("角色"))
    region = forms.ChoiceField(label=_("管辖区域"), required=False)
    phone = forms.CharField(label=_("手机号"), max_length=20, required=False)
    can_view_pii = forms.BooleanField(label=_("可查看完整证件号和账号"), required=False)

    def __init__(self, *args, roles, regions, creating: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = roles
        self.fields["region"].choices = [("", "—")] + [
            (r.code, f"{r.parent.name} {r.name}" if r.parent_id and r.level == "district" else r.name) for r in regions
        ]
        if creating:
            self.fields["username"].required = True
        else:
            del self.fields["username"]
        for name, field in self.fields.items():
            css = (
                "form-check-input"
                if name == "can_view_pii"
                else ("form-select" if name in ("role", "region") else "form-control")
            )
            field.widget.attrs["class"] = css
