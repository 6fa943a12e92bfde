"""消费券: issue after approval (unique, unguessable codes, 衡水's expiry), the issuance
list, redemptions (unknown, twice, expired refused), reconciliation."""

import datetime as dt
import io
from decimal import Decimal

import pytest

from accounts.models import AuditEntry
from core.errors import ConflictError, DomainError
from disbursements.choices import BatchStatus, LineStatus, VoucherStatus
from disbursements.models import Voucher
from disbursements.services.batches import batches_build
from disbursements.services.reconciliation import reconcile
from disbursements.services.vouchers import (
    ALPHABET,
    issuance_csv,
    vouchers_expire,
    vouchers_import_redemptions,
    vouchers_issue,
)
from tests.factories import approve, make_entitlements, make_programme, make_rule, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def hengshui():
    officer = make_user("taocheng_t", "district", "131102")
    city = make_user("hengshui_t", "city", "131100")
    province = make_user("sheng_t", "province", "130000")
    programme = make_programme("HB-VOU")
    rule = make_rule(
        programme,
        "hs_voucher",
        region="131100",
        kind="voucher",
        channel="e_voucher",
        amount="500.00",
        valid_until=dt.date(2021, 3, 8),
    )
    duty = make_rule(
        programme,
        "hs_duty",
        region="131100",
        kind="voucher",
        channel="e_voucher",
        amount="100.00",
        valid_until=dt.date(2021, 3, 8),
    )
    ents = make_entitlements(programme, rule, 4, district="131102", start=600)
    make_entitlements(programme, duty, 2, district="131102", start=650)
    batch = batches_build(programme=programme, acting_user=officer)[0]
    assert batch.channel == "e_voucher" and batch.total == Decimal("2200.00")
    return programme, batch, officer, city, province, ents


def test_issue_after_approval_with_unique_codes_and_expiry(hengshui):
    programme, batch, officer, city, province, _ents = hengshui
    with pytest.raises(ConflictError):
        vouchers_issue(batch=batch, acting_user=officer)
    batch = approve(batch, officer, city, province)
    result = vouchers_issue(batch=batch, acting_user=officer)
    assert result["issued"] == 6
    vouchers = list(Voucher.objects.filter(entitlement__programme=programme))
    codes = {v.code for v in vouchers}
    assert len(codes) == 6 and all(len(c) == 16 and set(c) <= set(ALPHABET) for c in codes)
    assert {v.expires_on for v in vouchers} == {dt.date(2021, 3, 8)}
    assert sorted(v.face_value for v in vouchers) == [Decimal("100.00")] * 2 + [Decimal("500.00")] * 4
    batch.refresh_from_db()
    assert batch.status == BatchStatus.RECONCILED and not batch.lines.exclude(status=LineStatus.PAID).exists()
    with pytest.raises(ConflictError):  # reconciled: nothing more to issue
        vouchers_issue(batch=batch, acting_user=officer)
    total, _ = reconcile(programme=programme)
    assert total.paid == Decimal("2200.00") and total.balanced
    out = io.BytesIO()
    assert issuance_csv(batch, out) == 6
    text = out.getvalue().decode("utf-8-sig")
    assert text.splitlines()[0] == "序号,券码,姓名,证件号码,手机号,面值,有效期至,批次号"
    assert "2021-03-08" in text and "410102" in text


def test_expiry_is_audited_with_old_and_new_status(hengshui):
    _programme, batch, officer, city, province, _ents = hengshui
    batch = approve(batch, officer, city, province)
    vouchers_issue(batch=batch, acting_user=officer)
    redeemed = Voucher.objects.order_by("id").first()
    Voucher.objects.filter(pk=redeemed.pk).update(status=VoucherStatus.REDEEMED)
    assert vouchers_expire(today=dt.date(2021, 3, 8)) == 0  # usable through the 8th
    assert not AuditEntry.objects.filter(action="vouchers_expire").exists()

    assert vouchers_expire(today=dt.date(2021, 3, 9)) == 5
    assert set(Voucher.objects.exclude(pk=redeemed.pk).values_list("status", flat=True)) == {VoucherStatus.EXPIRED}
    entry = AuditEntry.objects.get(action="vouchers_expire")
    assert entry.object_type == "disbursements.voucher" and entry.user is None
    assert entry.changes == {"status": ["issued", "expired"], "expires_on": "2021-03-08", "count": 5}
    assert vouchers_expire(today=dt.date(2021, 3, 10)) == 0  # nothing left: no second row
    assert AuditEntry.objects.filter(action="vouchers_expire").count() == 1


def test_redemptions(hengshui, tmp_path):
    _programme, batch, officer, city, province, _ents = hengshui
    batch = approve(batch, officer, city, province)
    vouchers_issue(batch=batch, acting_user=officer)
    v1, v2, v3 = Voucher.objects.order_by("id")[:3]
    path = tmp_path / "hx.csv"
    path.write_text(
        f"券码,核销时间,核销商户\n{v1.code[:4]}-{v1.code[4:8]}-{v1.code[8:12]}-{v1.code[12:]},2021-02-20 10:30:00,衡水某超市\n{v2.code},2021-03-08 21:00,北国超市\n",
        encoding="utf-8",
    )
    result = vouchers_import_redemptions(path=path, acting_user=officer)
    assert result["redeemed"] == 2
    v1.refresh_from_db()
    assert v1.status == VoucherStatus.REDEEMED and v1.merchant == "衡水某超市"
    assert vouchers_import_redemptions(path=path, acting_user=officer)["redeemed"] == 0  # idempotent

    bad = tmp_path / "bad.csv"
    bad.write_text(
        f"券码,核销时间,核销商户\nNOSUCHCODE2345678,2021-02-20 10:00,x\n{v1.code},2021-02-21 10:00,x\n{v3.code},2021-03-09 09:00,x\n{v3.code},2021-03-01,x\n",
        encoding="utf-8",
    )
    with pytest.raises(DomainError) as exc:
        vouchers_import_redemptions(path=bad, acting_user=officer)
    errors = exc.value.errors
    assert any("不存在" in e for e in errors) and any("不能重复核销" in e for e in errors)
    assert any("过期" in e for e in errors) and any("重复" in e for e in errors)
    v3.refresh_from_db()
    assert v3.status == VoucherStatus.ISSUED  # nothing written
    other = make_user("other_off", "district", "130110")
    with pytest.raises(DomainError, match="错误"):
        vouchers_import_redemptions(path=path, acting_user=other)


def test_voucher_pages(hengshui, client, tmp_path, django_capture_on_commit_callbacks):
    _programme, batch, officer, city, province, _ents = hengshui
    batch = approve(batch, officer, city, province)
    client.force_login(officer)
    page = client.get(f"/payments/batches/{batch.pk}/").content.decode()
    assert "发放消费券" in page
    with django_capture_on_commit_callbacks(execute=True):  # the issuing job runs in-process here
        client.post(f"/payments/batches/{batch.pk}/vouchers/issue/")
    assert Voucher.objects.count() == 6
    page = client.get(f"/payments/batches/{batch.pk}/").content.decode()
    assert "已发 6 张" in page
    listing = client.get(f"/payments/batches/{batch.pk}/vouchers/list/")
    assert listing.status_code == 200 and listing.content.decode("utf-8-sig").count("\r\n") == 7
    code = Voucher.objects.first().code
    path = tmp_path / "hx.csv"
    path.write_text(f"券码,核销时间,核销商户\n{code},2021-02-20 10:30:00,超市\n", encoding="utf-8")
    with open(path, "rb") as fh, django_capture_on_commit_callbacks(execute=True):
        client.post(f"/payments/batches/{batch.pk}/vouchers/redemptions/", {"file": fh})
    assert Voucher.objects.get(code=code).status == VoucherStatus.REDEEMED
    client.force_login(city)
    assert client.get(f"/payments/batches/{batch.pk}/vouchers/list/").status_code == 404
