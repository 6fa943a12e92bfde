"""English pages: with the language cookie set to "en" the batch, reconciliation, lookup,
rule, survey and dashboard pages come from the English catalog, while the data (batch
numbers, rule and region names) stays as entered. Without the cookie they stay Chinese.

Passes once the English translations of these templates are merged into
locale/en/LC_MESSAGES/django.po and compiled."""

import pytest
from django.conf import settings
from django.urls import reverse

from disbursements.services.batches import batches_build
from programs.demo import demo_programme
from programs.models import SubsidyRule
from tests.factories import make_entitlements, make_programme, make_rule

pytestmark = pytest.mark.django_db


@pytest.fixture
def english(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


@pytest.fixture
def batch(officer_luquan):
    programme = make_programme("HB-EN")
    make_entitlements(programme, make_rule(programme, "luquan_cash"), 4, start=100)
    return batches_build(programme=programme, acting_user=officer_luquan)[0]


def page(client, url, params=None) -> str:
    response = client.get(url, params or {})
    assert response.status_code == 200
    return response.content.decode()


def test_batch_list_and_detail_in_english(english, batch, officer_luquan):
    english.force_login(officer_luquan)
    html = page(english, reverse("disbursements:batch_list"))
    assert "Batch number" in html and "Amount (yuan)" in html
    assert batch.number in html  # data is not translated
    html = page(english, reverse("disbursements:batch_detail", args=[batch.pk]))
    assert "4 payments" in html  # the plural form
    assert "Submit for city review" in html
    assert "Payment lines" in html and "Audit trail" in html
    assert f"Reconciliation ({batch.district.name} · by rule)" in html
    assert "发放明细" not in html and "提交市级复核" not in html


def test_worker_lookup_and_reconciliation_in_english(english, batch, officer_luquan):
    html = page(english, reverse("disbursements:worker_lookup"))  # public, no login
    assert "Look up your own registration and subsidy payments" in html
    assert "Last 4 digits of mobile" in html
    english.force_login(officer_luquan)
    html = page(english, reverse("disbursements:reconciliation"), {"programme": "HB-EN"})
    assert "Reconciliation (entitled = paid + failed + pending, to the fen)" in html
    assert "All balanced: entitled" in html


def test_rule_pages_in_english(english, city_shijiazhuang):
    demo_programme()
    rule = SubsidyRule.objects.get(rule_key="LUQUAN-CASH", status="active")
    english.force_login(city_shijiazhuang)
    html = page(english, reverse("programs:rule_list"))
    assert "Compute subsidies" in html and "Amount (yuan)" in html
    html = page(english, reverse("programs:rule_detail", args=[rule.pk]))
    assert "Rule key / version" in html and f"version {rule.version}" in html
    assert "Payment channel" in html
    assert rule.name in html  # data is not translated


def test_survey_list_and_dashboard_in_english(english, province_staff):
    make_programme("HB-EN")
    english.force_login(province_staff)
    html = page(english, reverse("programs:survey_list"))
    assert "Survey reports" in html and "No survey reports." in html
    html = page(english, reverse("dashboard"), {"programme": "HB-EN"})
    assert "Enterprises surveyed" in html and "Export all (XLSX)" in html
    assert 'data-label-staying="Staying at work"' in html  # the chart legends come from the page


def test_same_pages_stay_chinese_without_the_cookie(client, batch, officer_luquan):
    client.force_login(officer_luquan)
    html = page(client, reverse("disbursements:batch_detail", args=[batch.pk]))
    assert "4 笔" in html and "发放明细" in html and "提交市级复核" in html
    assert "Payment lines" not in html


def test_batch_status_and_steps_in_english(english, batch, officer_luquan):
    """The batch's status (a TextChoices label), its approval steps and audit labels (built in
    the view) and the worker lookup's messages come from the catalog."""
    english.force_login(officer_luquan)
    html = page(english, reverse("disbursements:batch_detail", args=[batch.pk]))
    assert 'data-status="draft">Draft</span>' in html
    assert 'data-status="pending">Pending</span>' in html  # a line's status
    assert "Create batch" in html  # the audit trail's label of batch_build
    assert "草稿" not in html and "生成批次" not in html
    english.logout()  # a logout drops the cookies: set the language again
    english.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    response = english.post(reverse("disbursements:worker_lookup"), {"name": "张三"})
    assert "Please enter ID number, Last 4 digits of mobile." in response.content.decode()


def test_batch_status_and_steps_stay_chinese_without_the_cookie(client, batch, officer_luquan):
    client.force_login(officer_luquan)
    html = page(client, reverse("disbursements:batch_detail", args=[batch.pk]))
    assert 'data-status="draft">草稿</span>' in html and "生成批次" in html
    assert ">Draft</span>" not in html
    client.logout()
    response = client.post(reverse("disbursements:worker_lookup"), {"name": "张三"})
    assert "请填写身份证号、手机号后四位。" in response.content.decode()
