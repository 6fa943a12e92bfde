"""English pages: with the language cookie set to "en" the registry pages, the forms built in
beneficiaries/forms.py and the home page's to-do cards come from the English catalog, while
the data (names, regions, a return reason) stays as entered and escaped. Without the cookie
the same pages stay Chinese."""

import pytest
from django.conf import settings
from django.urls import reverse

from beneficiaries.models import Employer
from beneficiaries.services.employers import employer_return
from tests.factories import register


@pytest.fixture
def english(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def page(client, url) -> str:
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def test_employer_list_and_detail_in_english(english, officer_luquan, employer_luquan):
    Employer.objects.filter(pk=employer_luquan.pk).update(status="pending")
    english.force_login(officer_luquan)
    html = page(english, reverse("beneficiaries:employer_list"))
    assert "Unified social credit code" in html
    assert "All districts" in html
    assert ">Verify</button>" in html
    assert employer_luquan.name in html  # data is not translated
    html = page(english, reverse("beneficiaries:employer_detail", args=[employer_luquan.pk]))
    assert "Awaiting review by the" in html
    assert "Worker registrations" in html
    assert "审核通过" not in html


def test_returned_employer_reason_stays_escaped_in_english(english, agent_other, officer_luquan, employer_luquan):
    employer_return(employer=employer_luquan, acting_user=officer_luquan, reason="<b>营业执照</b>不清楚")
    english.force_login(agent_other)
    html = page(english, reverse("beneficiaries:employer_detail", args=[employer_luquan.pk]))
    assert "Returned: &lt;b&gt;营业执照&lt;/b&gt;不清楚" in html
    assert "edit the employer details</a>" in html
    assert "<b>营业执照</b>" not in html


def test_registration_pages_in_english(english, officer_luquan, agent_other, employer_luquan, programme):
    reg = register(agent_other, employer_luquan, programme)
    english.force_login(officer_luquan)
    html = page(english, reverse("beneficiaries:registration_detail", args=[reg.pk]))
    assert "Years of service" in html
    assert "3 years" in html
    assert "2021-01-25 to 2021-03-01" in html
    assert reg.person.name in html
    html = page(english, reverse("beneficiaries:registration_list"))
    assert "All categories" in html
    assert "No registrations match." not in html


def test_registration_form_labels_in_english(english, agent_other, employer_luquan, programme):
    english.force_login(agent_other)
    html = page(english, reverse("beneficiaries:registration_create"))
    assert "Register a worker" in html
    assert "Staying at work from" in html  # a label from beneficiaries/forms.py
    assert "Submit and register another" in html


def test_staff_home_todos_in_english(english, officer_luquan, employer_luquan):
    Employer.objects.filter(pk=employer_luquan.pk).update(status="pending")
    english.force_login(officer_luquan)
    html = page(english, reverse("home"))
    assert "To do" in html
    assert "Employers awaiting verification" in html


def test_same_pages_stay_chinese_without_the_cookie(client, officer_luquan, employer_luquan):
    Employer.objects.filter(pk=employer_luquan.pk).update(status="pending")
    client.force_login(officer_luquan)
    html = page(client, reverse("beneficiaries:employer_list"))
    assert "统一社会信用代码" in html and "全部区县" in html and "审核通过" in html
    assert "All districts" not in html


def test_status_labels_and_import_title_in_english(english, officer_luquan, employer_luquan):
    """Choice labels (models' TextChoices) and a title built in a view come from the catalog too."""
    Employer.objects.filter(pk=employer_luquan.pk).update(status="pending")
    english.force_login(officer_luquan)
    html = page(english, reverse("beneficiaries:employer_list"))
    assert '<span class="badge text-bg-warning">Awaiting review</span>' in html  # EmployerStatus.PENDING
    assert '<option value="verified">Verified</option>' in html  # the status filter's choices
    html = page(english, reverse("beneficiaries:import_employers"))
    assert '<h1 class="h3 mb-1">Import employers</h1>' in html
    assert "Employer list file" in html  # the upload form's label
    assert "批量导入用人单位" not in html and "待审核" not in html


def test_status_labels_and_import_title_stay_chinese_without_the_cookie(client, officer_luquan, employer_luquan):
    Employer.objects.filter(pk=employer_luquan.pk).update(status="pending")
    client.force_login(officer_luquan)
    html = page(client, reverse("beneficiaries:employer_list"))
    assert '<span class="badge text-bg-warning">待审核</span>' in html
    assert "Awaiting review" not in html
    html = page(client, reverse("beneficiaries:import_employers"))
    assert '<h1 class="h3 mb-1">批量导入用人单位</h1>' in html and "单位名单文件" in html
    assert "Import employers" not in html
