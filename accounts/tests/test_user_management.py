"""User management at /accounts/users/: provincial staff manage every user, city staff
the district officers of their city; every change audited; nobody raises their own rights."""

import pytest
from django.urls import reverse

from accounts.choices import Role
from accounts.models import AuditEntry, User
from accounts.services.users import user_create, user_password_reset, user_set_active, user_update, users_for_manager
from core.errors import DomainError, PermissionDenied
from regions.models import Region

pytestmark = pytest.mark.django_db


def region(code):
    return Region.objects.get(code=code)


def test_city_manages_only_the_district_officers_of_its_city(
    city_shijiazhuang, officer_luquan, officer_cangzhou, province_staff
):
    assert set(users_for_manager(city_shijiazhuang)) == {officer_luquan}
    user, password = user_create(
        username="gaocheng",
        full_name="藁城专员",
        role=Role.DISTRICT,
        region=region("130109"),
        acting_user=city_shijiazhuang,
    )
    assert user.check_password(password) and len(password) == 12
    with pytest.raises(PermissionDenied, match="不能授予"):
        user_create(
            username="x1", full_name="x", role=Role.CITY, region=region("130100"), acting_user=city_shijiazhuang
        )
    with pytest.raises(PermissionDenied, match="不在您的管理范围"):
        user_create(
            username="x2", full_name="x", role=Role.DISTRICT, region=region("130903"), acting_user=city_shijiazhuang
        )
    with pytest.raises(PermissionDenied, match="不在您的管理范围"):
        user_update(user=officer_cangzhou, full_name="改名", acting_user=city_shijiazhuang)
    with pytest.raises(PermissionDenied):
        user_update(user=province_staff, full_name="改名", acting_user=city_shijiazhuang)


def test_province_manages_every_user_and_levels_must_match(province_staff, officer_luquan):
    with pytest.raises(DomainError, match="区县级"):
        user_create(
            username="y", full_name="y", role=Role.DISTRICT, region=region("130100"), acting_user=province_staff
        )
    user_update(user=officer_luquan, role=Role.CITY, region=region("130100"), acting_user=province_staff)
    officer_luquan.refresh_from_db()
    assert officer_luquan.role == Role.CITY and officer_luquan.region_id == "130100"
    entry = AuditEntry.objects.get(action="user_update", object_id=str(officer_luquan.pk))
    assert entry.user == province_staff
    assert entry.changes == {"role": ["district", "city"], "region": ["130110", "130100"]}


def test_nobody_raises_their_own_rights(province_staff, city_shijiazhuang):
    for actor in (province_staff, city_shijiazhuang):
        with pytest.raises(PermissionDenied):
            user_update(user=actor, can_view_pii=True, acting_user=actor)
        with pytest.raises(PermissionDenied):
            user_set_active(user=actor, active=False, acting_user=actor)
    with pytest.raises(PermissionDenied):
        user_update(
            user=province_staff,
            role=Role.PROVINCE,
            region=region("130000"),
            can_view_pii=True,
            acting_user=province_staff,
        )
    # A city user cannot reach itself at all (it manages district officers only).
    assert city_shijiazhuang not in users_for_manager(city_shijiazhuang)


def test_disable_and_reset_are_audited_without_the_password(city_shijiazhuang, officer_luquan, client):
    user_set_active(user=officer_luquan, active=False, acting_user=city_shijiazhuang)
    officer_luquan.refresh_from_db()
    assert not officer_luquan.is_active
    response = client.post(reverse("accounts:login"), {"username": "officer_luquan", "password": "Test-pass-2021"})
    assert "退出登录" not in response.content.decode()  # a disabled account cannot log in
    password = user_password_reset(user=officer_luquan, acting_user=city_shijiazhuang)
    entry = AuditEntry.objects.get(action="user_password_reset")
    assert entry.user == city_shijiazhuang and password not in str(entry.changes) and password not in entry.comment
    assert AuditEntry.objects.get(action="user_disable").changes == {"is_active": [True, False]}


def test_pages_create_edit_disable_reset_and_scope(
    client, city_shijiazhuang, officer_luquan, officer_cangzhou, agent_gree
):
    client.force_login(city_shijiazhuang)
    listing = client.get(reverse("accounts:user_list")).content.decode()
    assert "officer_luquan" in listing and "officer_cangzhou" not in listing
    response = client.post(
        reverse("accounts:user_create"),
        {"username": "gaocheng2", "full_name": "藁城专员", "role": "district", "region": "130109"},
    )
    assert response.status_code == 200 and "data-one-time-password" in response.content.decode()
    assert response["Cache-Control"] == "no-store"
    created = User.objects.get(username="gaocheng2")
    assert created.role == Role.DISTRICT and created.region_id == "130109"
    # A region outside the city: refused beside the form, nothing created.
    response = client.post(
        reverse("accounts:user_create"),
        {"username": "far", "full_name": "x", "role": "district", "region": "130903"},
    )
    # (not even offered: the form's districts are the city's own)
    assert response.context["form"].errors["region"] and not User.objects.filter(username="far").exists()
    assert client.get(reverse("accounts:user_edit", args=[officer_cangzhou.pk])).status_code == 404
    client.post(reverse("accounts:user_active", args=[officer_luquan.pk]), {"active": "0"})
    officer_luquan.refresh_from_db()
    assert not officer_luquan.is_active
    client.force_login(agent_gree)
    assert client.get(reverse("accounts:user_list")).status_code == 403


def test_audit_trail_reads_user_changes(province_staff, officer_luquan):
    from accounts.audit_display import audit_rows

    user_update(user=officer_luquan, role=Role.CITY, region=region("130100"), acting_user=province_staff)
    (row,) = audit_rows(AuditEntry.objects.filter(action="user_update"))
    assert row.label == "修改用户" and row.object_label == "用户"
    assert "角色：区县人社专员 → 市级人员" in row.text
