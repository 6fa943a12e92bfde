"""/accounts/users/: provincial and city staff manage the users in their scope.
Adapters over accounts.services.users (scope, rules, audit)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as PageForbidden
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from accounts.choices import Role
from accounts.forms import UserForm
from accounts.services import users as svc
from core.errors import DomainError
from core.views import flash_outcome
from regions.models import Region


def _manager(request):
    if not svc.may_manage_users(request.user):
        raise PageForbidden(gettext("用户管理供省级和市级人社部门使用。"))


def _target(request, pk: int):
    user = svc.users_for_manager(request.user).filter(pk=pk).first()
    if user is None:
        raise Http404("不存在或不在您的管理范围内")
    return user


def _region(code: str):
    return Region.objects.filter(code=code).first() if code else None


@login_required
def user_list(request):
    _manager(request)
    q = request.GET.get("q", "").strip()[:50]
    role = request.GET.get("role", "")
    qs = svc.user_search(svc.users_for_manager(request.user), q).order_by("role", "region__path", "username")
    if role in Role.values:
        qs = qs.filter(role=role)
    return render(
        request,
        "accounts/user_list.html",
        {"users": qs[:500], "q": q, "role": role, "roles": svc.roles_for_manager(request.user)},
    )


def _form(request, *, user=None):
    roles = svc.roles_for_manager(request.user)
    regions = svc.regions_for_manager(request.user)
    initial = (
        {
            "full_name": user.first_name,
            "role": user.role,
            "region": user.region_id or "",
            "phone": user.phone,
            "can_view_pii": user.can_view_pii,
        }
        if user
        else {"role": roles[-1][0] if len(roles) == 1 else ""}
    )
    return UserForm(request.POST or None, roles=roles, regions=regions, creating=user is None, initial=initial)


def _apply_error(form, exc: DomainError):
    if isinstance(exc.errors, dict):
        for name, message in exc.errors.items():
            if name in form.fields:
                form.add_error(name, message)
    form.add_error(None, exc.message)


@login_required
def user_create(request):
    _manager(request)
    form = _form(request)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user, password = svc.user_create(
                username=data["username"],
                full_name=data["full_name"],
                role=data["role"],
                region=_region(data["region"]),
                phone=data["phone"],
                can_view_pii=data["can_view_pii"],
                acting_user=request.user,
            )
        except DomainError as exc:
            _apply_error(form, exc)
        else:
            return _show_password(request, user, password, created=True)
    return render(request, "accounts/user_form.html", {"form": form, "creating": True})


@login_required
def user_edit(request, pk: int):
    _manager(request)
    user = _target(request, pk)
    form = _form(request, user=user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            svc.user_update(
                user=user,
                acting_user=request.user,
                full_name=data["full_name"],
                role=data["role"],
                region=_region(data["region"]),
                phone=data["phone"],
                can_view_pii=data["can_view_pii"],
            )
        except DomainError as exc:
            _apply_error(form, exc)
        else:
            messages.success(request, gettext("已保存用户 %(name)s。") % {"name": user.username})
            return redirect("accounts:user_list")
    return render(request, "accounts/user_form.html", {"form": form, "creating": False, "target": user})


@login_required
@require_POST
def user_active(request, pk: int):
    _manager(request)
    user = _target(request, pk)
    active = request.POST.get("active") == "1"
    flash_outcome(
        request,
        lambda: svc.user_set_active(user=user, active=active, acting_user=request.user),
        (gettext("已启用 %(name)s。") if active else gettext("已停用 %(name)s，该账号不能再登录。"))
        % {"name": user.username},
    )
    return redirect("accounts:user_list")


@login_required
@require_POST
def user_password(request, pk: int):
    _manager(request)
    user = _target(request, pk)
    try:
        password = svc.user_password_reset(user=user, acting_user=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("accounts:user_list")
    return _show_password(request, user, password, created=False)


def _show_password(request, user, password: str, *, created: bool):
    """The one-time password, on this response only (not in a message, not cached)."""
    response = render(
        request, "accounts/user_password.html", {"target": user, "password": password, "created": created}
    )
    response["Cache-Control"] = "no-store"
    return response
