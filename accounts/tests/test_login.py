import re

import pytest
from django.urls import reverse

from tests.factories import make_user

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("role", "region", "template"),
    [
        ("province", "130000", "portal/home_staff.html"),
        ("city", "130100", "portal/home_staff.html"),
        ("district", "130110", "portal/home_staff.html"),
        ("employer", None, "portal/home_employer.html"),
    ],
)
def test_each_role_lands_on_its_home_page(client, role, region, template):
    make_user("u1", role, region)
    response = client.post(reverse("accounts:login"), {"username": "u1", "password": "Test-pass-2021"}, follow=True)
    assert response.status_code == 200
    assert template in [t.name for t in response.templates]
    assert "退出登录" in response.content.decode()


def test_login_page_is_chinese_and_wrong_password_says_so(client, officer_luquan):
    page = client.get(reverse("accounts:login")).content.decode()
    assert "登录稳岗留工管理平台" in page and 'lang="zh-hans"' in page
    response = client.post(reverse("accounts:login"), {"username": "officer_luquan", "password": "wrong"})
    assert "用户名或密码不正确" in response.content.decode()


def test_repeated_failures_lock_the_account(client, officer_luquan, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("accounts:login"), {"username": "officer_luquan", "password": "wrong"})
    # Even the right password is refused now.
    response = client.post(reverse("accounts:login"), {"username": "officer_luquan", "password": "Test-pass-2021"})
    assert response.status_code == 429
    assert "账号已暂时锁定" in response.content.decode()


def test_anonymous_is_sent_to_login(client):
    response = client.get("/")
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")


def test_api_needs_authentication_and_accepts_tokens(client, officer_luquan):
    assert client.get("/api/v1/regions/").status_code in (401, 403)
    got = client.post("/api/v1/auth/token/", {"username": "officer_luquan", "password": "Test-pass-2021"})
    assert got.status_code == 200, got.content
    token = got.json()["token"]
    response = client.get("/api/v1/regions/", HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code == 200


def test_api_tokens_expire_and_can_be_revoked(client, officer_luquan, settings):
    import datetime as dt

    from django.utils import timezone
    from knox.models import AuthToken

    got = client.post("/api/v1/auth/token/", {"username": "officer_luquan", "password": "Test-pass-2021"}).json()
    expiry = dt.datetime.fromisoformat(got["expiry"])
    hours = (expiry - timezone.now()).total_seconds() / 3600
    assert 7.9 < hours <= 8  # API_TOKEN_TTL_HOURS
    auth = {"HTTP_AUTHORIZATION": f"Token {got['token']}"}
    assert client.get("/api/v1/regions/", **auth).status_code == 200
    # Stored as a hash only: the database never holds the token itself.
    assert not AuthToken.objects.filter(digest__contains=got["token"]).exists()
    AuthToken.objects.filter(user=officer_luquan).update(expiry=timezone.now() - dt.timedelta(seconds=1))
    assert client.get("/api/v1/regions/", **auth).status_code in (401, 403)
    # Logout revokes a live token.
    again = client.post("/api/v1/auth/token/", {"username": "officer_luquan", "password": "Test-pass-2021"}).json()
    auth = {"HTTP_AUTHORIZATION": f"Token {again['token']}"}
    assert client.post("/api/v1/auth/token/logout/", **auth).status_code == 204
    assert client.get("/api/v1/regions/", **auth).status_code in (401, 403)


def test_api_token_refuses_a_wrong_password_in_chinese(client, officer_luquan):
    response = client.post("/api/v1/auth/token/", {"username": "officer_luquan", "password": "wrong"})
    assert response.status_code == 400 and "密码不正确" in response.json()["detail"]


def test_schema_and_docs_need_a_login(client):
    assert client.get("/api/schema/").status_code in (401, 403)
    docs = client.get("/api/docs/")
    assert docs.status_code == 302 and "/accounts/login/" in docs["Location"]


def test_schema_and_swagger_are_served_locally(client, officer_luquan):
    client.force_login(officer_luquan)
    assert client.get("/api/schema/").status_code == 200
    page = client.get("/api/docs/").content.decode()
    assert "swagger" in page.lower()
    # No asset from a CDN or any other host (the page's random CSRF token may contain "cdn",
    # so look at the URLs, not the whole text).
    urls = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert urls and not [u for u in urls if "cdn" in u.lower() or "//" in u]
    assert "https://" not in page


def test_password_validation_refuses_weak_passwords(db):
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        validate_password("12345678")


def test_english_is_available_but_chinese_comes_first(client, officer_luquan):
    # The browser asks for English: Chinese is still shown until the user switches.
    page = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content.decode()
    assert "登录稳岗留工管理平台" in page
    client.post("/i18n/setlang/", {"language": "en", "next": "/accounts/login/"})
    page = client.get("/accounts/login/").content.decode()
    assert "Log in to the Stay-in-Place Portal" in page and 'lang="en"' in page


def test_the_page_language_ends_with_its_request(client):
    """What runs after an English page (an in-process task, the next test) writes Chinese."""
    from django.utils import translation

    from disbursements.choices import LineStatus

    before = translation.get_language()
    client.post("/i18n/setlang/", {"language": "en", "next": "/accounts/login/"})
    assert "Log in" in client.get("/accounts/login/").content.decode()
    assert translation.get_language() == before
    assert str(LineStatus.PAID.label) == "已发放"
