"""User management in the portal (/accounts/users/): who may manage whom, and the
changes, each audited with old and new values.

- Provincial staff (and superusers) manage every user except superusers, in any role
  but the system administrator's, in any region of the province.
- City staff manage the district officers of their city: create, disable, reset a
  password, move between the city's districts. They cannot give any other role.
- Nobody changes their own role, region, PII right or active flag: a user cannot raise
  their own rights (nor lock themself out).

Reads start from `users_for_manager(actor)`: a user outside it is not found (404).
"""

import secrets

from django.db import transaction
from django.db.models import Q, QuerySet

from accounts.choices import Role
from accounts.models import User
from accounts.scopes import is_admin
from accounts.services.audit import audit_record
from core.errors import DomainError, PermissionDenied
from regions.choices import Level
from regions.models import Region

ALL_STAFF_ROLES = (Role.PROVINCE, Role.CITY, Role.DISTRICT, Role.EMPLOYER)


def may_manage_users(actor: User) -> bool:
    return actor.is_superuser or actor.role in (Role.PROVINCE, Role.CITY)


def _is_province(actor: User) -> bool:
    return is_admin(actor) or actor.role == Role.PROVINCE


def users_for_manager(actor: User) -> QuerySet[User]:
    qs = User.objects.select_related("region").exclude(is_superuser=True)
    if _is_province(actor):
        return qs
    if actor.role == Role.CITY and actor.region_id:
        return qs.filter(role=Role.DISTRICT, region__path__startswith=actor.region.path)
    return qs.none()


def roles_for_manager(actor: User) -> list[tuple[str, str]]:
    """The roles `actor` may give."""
    if _is_province(actor):
        return [(r.value, r.label) for r in ALL_STAFF_ROLES]
    if actor.role == Role.CITY:
        return [(Role.DISTRICT.value, Role.DISTRICT.label)]
    return []


def regions_for_manager(actor: User) -> QuerySet[Region]:
    if _is_province(actor):
        return Region.objects.select_related("parent").order_by("path")
    if actor.role == Role.CITY and actor.region_id:
        return Region.objects.within(actor.region).filter(level=Level.DISTRICT).select_related("parent")
    return Region.objects.none()


def _check_grant(actor: User, *, role: str, region: Region | None) -> None:
    """May `actor` give `role` in `region`? Raises PermissionDenied with the reason."""
    allowed = {value for value, _label in roles_for_manager(actor)}
    if role not in allowed:
        raise PermissionDenied(f"您不能授予“{Role(role).label}”角色。")
    if role in (Role.PROVINCE, Role.CITY, Role.DISTRICT):
        if region is None:
            raise DomainError("人社部门工作人员必须指定管辖区域。", errors={"region": "请选择管辖区域"})
        expected = {Role.PROVINCE: Level.PROVINCE, Role.CITY: Level.CITY, Role.DISTRICT: Level.DISTRICT}[role]
        if region.level != expected:
            raise DomainError(
                f"“{Role(role).label}”的管辖区域应为{Level(expected).label}级，“{region.name}”不是。",
                errors={"region": "区域层级与角色不符"},
            )
        if not regions_for_manager(actor).filter(pk=region.pk).exists():
            raise PermissionDenied(f"“{region.name}”不在您的管理范围内。")


def _check_target(actor: User, user: User) -> None:
    if not users_for_manager(actor).filter(pk=user.pk).exists():
        raise PermissionDenied("该用户不在您的管理范围内。")


def user_create(
    *,
    username: str,
    full_name: str,
    role: str,
    region: Region | None,
    phone: str = "",
    can_view_pii: bool = False,
    acting_user: User,
) -> tuple[User, str]:
    """Create a user with a one-time password (returned, shown once, never stored in clear)."""
    _check_grant(acting_user, role=role, region=region)
    username = (username or "").strip()
    if not username:
        raise DomainError("请填写登录名。", errors={"username": "必填"})
    if User.objects.filter(username__iexact=username).exists():
        raise DomainError(f"登录名“{username}”已被使用。", errors={"username": "已被使用"})
    if role == Role.EMPLOYER:
        region, can_view_pii = None, False
    password = _temporary_password()
    with transaction.atomic():
        user = User.objects.create_user(
            username=username,
            password=password,
            first_name=(full_name or "").strip()[:150],
            role=role,
            region=region,
            phone=(phone or "").strip()[:20],
            can_view_pii=bool(can_view_pii),
        )
        audit_record(
            user=acting_user,
            action="user_create",
            obj=user,
            changes={
                "username": username,
                "role": role,
                "region": region.code if region else None,
                "can_view_pii": bool(can_view_pii),
            },
        )
    return user, password


def user_update(
    *,
    user: User,
    acting_user: User,
    full_name: str | None = None,
    role: str | None = None,
    region: Region | None = None,
    phone: str | None = None,
    can_view_pii: bool | None = None,
) -> User:
    """Change name, phone, role, region or the PII right; only what changed is written and audited."""
    _check_target(acting_user, user)
    new_role = role if role is not None else user.role
    new_region = region if role is not None or region is not None else user.region
    if new_role == Role.EMPLOYER:
        new_region = None
    rights_change = (
        new_role != user.role
        or (new_region.pk if new_region else None) != user.region_id
        or (can_view_pii is not None and bool(can_view_pii) != user.can_view_pii)
    )
    if rights_change and acting_user.pk == user.pk:
        raise PermissionDenied("不能修改自己的角色、管辖区域或查看完整号码的权限，请由上级管理员办理。")
    if rights_change:
        _check_grant(acting_user, role=new_role, region=new_region)
    changes = {}
    fields = []
    for name, new in (
        ("first_name", (full_name or "").strip()[:150] if full_name is not None else None),
        ("phone", (phone or "").strip()[:20] if phone is not None else None),
        ("role", new_role),
        ("can_view_pii", bool(can_view_pii) if can_view_pii is not None else None),
    ):
        if new is None:
            continue
        old = getattr(user, name)
        if old != new:
            changes[name] = [old, new]
            setattr(user, name, new)
            fields.append(name)
    if (new_region.pk if new_region else None) != user.region_id:
        changes["region"] = [user.region_id, new_region.pk if new_region else None]
        user.region = new_region
        fields.append("region")
    if not fields:
        return user
    with transaction.atomic():
        user.save(update_fields=fields)
        audit_record(user=acting_user, action="user_update", obj=user, changes=changes)
    return user


def user_set_active(*, user: User, active: bool, acting_user: User) -> User:
    _check_target(acting_user, user)
    if acting_user.pk == user.pk:
        raise PermissionDenied("不能停用或启用自己的账号。")
    if user.is_active == active:
        return user
    with transaction.atomic():
        old = user.is_active
        user.is_active = active
        user.save(update_fields=["is_active"])
        audit_record(
            user=acting_user,
            action="user_enable" if active else "user_disable",
            obj=user,
            changes={"is_active": [old, active]},
        )
    return user


def user_password_reset(*, user: User, acting_user: User) -> str:
    """A new one-time password for `user` (shown once to the manager; the audit row says
    that it was reset, never what to)."""
    _check_target(acting_user, user)
    if acting_user.pk == user.pk:
        raise PermissionDenied("请通过“修改密码”修改自己的密码。")
    password = _temporary_password()
    with transaction.atomic():
        user.set_password(password)
        user.save(update_fields=["password"])
        audit_record(user=acting_user, action="user_password_reset", obj=user, changes={})
    return password


def _temporary_password() -> str:
    # 12 characters from a set without look-alikes (0/O, 1/l/I): read out on the phone.
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789"
    return "".join(secrets.choice(alphabet) for _ in range(12))


def user_search(qs: QuerySet[User], q: str) -> QuerySet[User]:
    q = (q or "").strip()
    if not q:
        return qs
    return qs.filter(Q(username__icontains=q) | Q(first_name__contains=q) | Q(region__name__contains=q))
