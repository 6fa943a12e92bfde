"""The 电子红包 channel (循环化工园区: "800元的电子红包或现金补贴"): the worker's choice decides
the channel, red packets go out in the platform's bulk upload keyed by phone and come back
in a result file like the bank's, through the same chain, paid-once and reconciliation."""

import csv
import io
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse

from accounts.models import AuditEntry
from beneficiaries import pii
from beneficiaries.models import Registration
from core.errors import DomainError
from disbursements.choices import BatchStatus, LineStatus
from disbursements.models import Batch, Entitlement, PaymentLine
from disbursements.services.bank_results import batch_import_results
from disbursements.services.batches import batch_build_supplement, batches_build, line_correct
from disbursements.services.entitlements import entitlements_compute
from disbursements.services.payment_files import batch_export
from disbursements.services.reconciliation import reconcile
from disbursements.services.red_packets import DETAIL_HEADER, RESULT_HEADER, example_result_csv
from programs.choices import Channel
from programs.demo import demo_programme
from programs.rules.validate import rule_validate
from tests.factories import approve, make_entitlements, make_programme, make_rule, make_user, reg

pytestmark = pytest.mark.django_db

ZONE = "130172"  # 石家庄循环化工园区


@pytest.fixture
def officer_xunhuan(db):
    return make_user("officer_xunhuan", "district", ZONE, first_name="循环化工园区专员", can_view_pii=True)


@pytest.fixture
def packets(officer_xunhuan, city_shijiazhuang, province_staff, tmp_path, settings):
    """Five red packets of ¥800 in an approved, exported batch."""
    settings.BANK_FILES_DIR = str(tmp_path / "files")
    programme = make_programme("HB-HB")
    rule = make_rule(programme, "xh_red", region=ZONE, kind="red_packet", channel="red_packet", amount="800.00")
    ents = make_entitlements(programme, rule, 5, district=ZONE, start=700)
    (batch,) = batches_build(programme=programme, acting_user=officer_xunhuan)
    batch = approve(batch, officer_xunhuan, city_shijiazhuang, province_staff)
    batch_export(batch=batch, fmt="csv", acting_user=officer_xunhuan)
    batch.refresh_from_db()
    return programme, rule, ents, batch


def _import(batch, failures, tmp_path, officer, name="结果.csv"):
    path = Path(tmp_path) / name
    path.write_text(example_result_csv(batch, failures), encoding="utf-8-sig")
    return batch_import_results(batch=batch, path=path, acting_user=officer)


# --------------------------------------------------------------------------- the choice


def test_the_workers_choice_decides_the_channel_where_the_rule_offers_one():
    p = demo_programme()  # XUNHUAN-RED: 电子红包, or 现金 for whoever chooses it
    chose_packet = reg(p, ZONE, "130602")
    chose_cash = reg(p, ZONE, "130602")
    no_choice = reg(p, ZONE, "130602")
    card_elsewhere = reg(p, "130110", "410102")  # 鹿泉: a bank-card rule without a choice
    Registration.objects.filter(pk=chose_packet.pk).update(payout_choice="red_packet")
    Registration.objects.filter(pk=chose_cash.pk).update(payout_choice="cash")
    Registration.objects.filter(pk=card_elsewhere.pk).update(payout_choice="cash")  # not offered: ignored
    entitlements_compute(programme=p)

    def channel(r):
        return Entitlement.objects.get(registration=r).channel

    assert channel(chose_packet) == Channel.RED_PACKET
    assert channel(chose_cash) == Channel.CASH
    assert channel(no_choice) == Channel.RED_PACKET  # the rule's own channel
    assert channel(card_elsewhere) == Channel.BANK_CARD

    # Changing one's mind before payment: the next computation moves the entitlement, audited.
    Registration.objects.filter(pk=chose_cash.pk).update(payout_choice="red_packet")
    entitlements_compute(programme=p)
    ent = Entitlement.objects.get(registration=chose_cash)
    assert ent.channel == Channel.RED_PACKET
    audit = AuditEntry.objects.get(action="entitlement_recompute", object_id=str(ent.pk))
    assert audit.changes["channel"] == ["cash", "red_packet"]


def test_a_rule_offers_a_second_channel_only_when_it_makes_sense():
    from regions.models import Region

    p = make_programme("HB-RV")
    base = dict(name="红包", region=Region.objects.get(code=ZONE), kind="red_packet", amount="800")
    assert rule_validate({**base, "channel": "red_packet", "alt_channel": "cash"}, programme=p)["alt_channel"] == "cash"
    for bad in ({"channel": "red_packet", "alt_channel": "red_packet"}, {"channel": "cash", "alt_channel": "employer"}):
        with pytest.raises(DomainError) as exc:
            rule_validate({**base, **bad}, programme=p)
        assert "alt_channel" in exc.value.errors


def test_the_employer_changes_the_choice_on_the_registration_page_and_it_is_audited(client, agent_gree):
    p = demo_programme()
    registration = reg(p, ZONE, "130602")
    registration.employer.agents.add(agent_gree)
    client.force_login(agent_gree)
    url = reverse("beneficiaries:registration_detail", args=[registration.pk])
    assert "领取方式" in client.get(url).content.decode()
    client.post(reverse("beneficiaries:registration_payout", args=[registration.pk]), {"payout_choice": "cash"})
    registration.refresh_from_db()
    assert registration.payout_choice == "cash"
    audit = AuditEntry.objects.get(action="registration_update", object_id=str(registration.pk))
    assert audit.changes["payout_choice"] == ["", "cash"]
    response = client.post(
        reverse("beneficiaries:registration_payout", args=[registration.pk]), {"payout_choice": "bitcoin"}, follow=True
    )
    assert "领取方式“bitcoin”无法识别" in response.content.decode()
    registration.refresh_from_db()
    assert registration.payout_choice == "cash"


# --------------------------------------------------------------------------- the files


def test_the_upload_is_keyed_by_phone_adds_up_and_carries_no_id_number(packets, tmp_path, officer_xunhuan):
    _programme, _rule, ents, batch = packets
    export = batch.exports.get()
    raw = Path(export.path).read_bytes()
    assert raw.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0] == ["商家批次单号", "批次名称", "发放方", "总金额（元）", "总笔数"]
    assert rows[1][0] == batch.number and rows[1][3:] == ["4000.00", "5"]
    assert rows[2] == DETAIL_HEADER
    details = rows[3:]
    phones = [pii.decrypt(e.person.phone_cipher) for e in sorted(ents, key=lambda e: e.pk)]
    assert [r[1] for r in details] == phones  # the whole phone: the platform's account key
    assert [r[0] for r in details] == [f"{batch.number}-{n:07d}" for n in range(1, 6)]
    assert sum(Decimal(r[3]) for r in details) == batch.total
    for e in ents:  # the platform pays a phone: no ID number leaves
        assert pii.decrypt(e.person.id_cipher) not in raw.decode("utf-8-sig")
    # The same batch gives the same bytes; the XLSX is the platform's shape too.
    again = batch_export(batch=batch, fmt="csv", acting_user=officer_xunhuan)
    assert again.checksum == export.checksum
    xlsx = batch_export(batch=batch, fmt="xlsx", acting_user=officer_xunhuan)
    from python_calamine import CalamineWorkbook

    sheet = CalamineWorkbook.from_path(xlsx.path).get_sheet_by_name("红包明细").to_python()
    assert sheet[3] == DETAIL_HEADER and [r[1] for r in sheet[4:]] == phones
    assert batch.lines.first().bank_name == "电子红包（手机号）"


def test_a_red_packet_needs_a_phone_before_submission(officer_xunhuan):
    from beneficiaries.models import Person
    from disbursements.services.batches import batch_submit

    programme = make_programme("HB-NP")
    rule = make_rule(programme, "xh_red", region=ZONE, kind="red_packet", channel="red_packet", amount="800.00")
    ents = make_entitlements(programme, rule, 3, district=ZONE, start=800)
    no_phone = dict(phone_cipher="", phone_hash="", phone_tail="", phone_masked="")
    Person.objects.filter(pk__in=[ents[0].person_id, ents[2].person_id]).update(**no_phone)
    (batch,) = batches_build(programme=programme, acting_user=officer_xunhuan)
    assert batch.lines.filter(account_cipher="").count() == 2
    with pytest.raises(DomainError, match=r"第 1 笔.*第 3 笔"):
        batch_submit(batch=batch, acting_user=officer_xunhuan)
    # The phone given since is taken into the draft's line (audited); the other still refuses.
    Person.objects.filter(pk=ents[0].person_id).update(
        phone_cipher=pii.encrypt("13800000001"), phone_masked=pii.mask_phone("13800000001")
    )
    with pytest.raises(DomainError, match="第 3 笔"):
        batch_submit(batch=batch, acting_user=officer_xunhuan)
    assert pii.decrypt(batch.lines.get(seq=1).account_cipher) == "13800000001"
    assert AuditEntry.objects.filter(action="line_phone_fill").count() == 1


def test_the_platform_result_file_is_read_like_the_banks(packets, tmp_path, officer_xunhuan):
    _p, _r, _e, batch = packets
    table = example_result_csv(batch, {2: "超时未领取已退回"})
    assert table.splitlines()[0].split(",") == RESULT_HEADER
    result = _import(batch, {2: "超时未领取已退回"}, tmp_path, officer_xunhuan)
    assert (result["paid"], result["failed"], result["pending"]) == (4, 1, 0)
    batch.refresh_from_db()
    assert batch.status == BatchStatus.RECONCILED
    failed = batch.lines.get(seq=2)
    assert failed.failure_reason == "超时未领取已退回" and failed.bank_reference.startswith("HB")
    # The same file twice changes nothing.
    assert _import(batch, {2: "超时未领取已退回"}, tmp_path, officer_xunhuan, "again.csv")["changed"] == 0


# --------------------------------------------------------------------------- paid once, counted once


def test_a_red_packet_is_paid_at_most_once_and_counted_once(packets, tmp_path, officer_xunhuan):
    programme, _rule, ents, batch = packets
    _import(batch, {}, tmp_path, officer_xunhuan)
    assert batch.lines.filter(status=LineStatus.PAID).count() == 5

    # A build again takes nothing, even with the channel switched under a paid packet:
    # the paid-once index keeps the cash build from paying the same entitlement.
    assert batches_build(programme=programme, acting_user=officer_xunhuan) == []
    Entitlement.objects.filter(pk=ents[0].pk).update(channel=Channel.CASH)
    assert batches_build(programme=programme, acting_user=officer_xunhuan) == []
    assert PaymentLine.objects.filter(entitlement=ents[0]).count() == 1
    Entitlement.objects.filter(pk=ents[0].pk).update(channel=Channel.RED_PACKET)
    with pytest.raises(IntegrityError), transaction.atomic():
        PaymentLine.objects.create(
            batch=batch, entitlement=ents[0], seq=99, amount=Decimal("800.00"), name="x", id_cipher="", id_masked=""
        )

    total, rows = reconcile(programme=programme, by=("district_id", "channel"))
    assert total.entitled == total.paid == Decimal("4000.00")
    assert total.paid_count == 5 and total.failed == total.pending == 0 and total.balanced
    assert [(r.label, r.paid) for r in rows] == [("石家庄循环化工园区 · 电子红包", Decimal("4000.00"))]


def test_a_failed_packet_is_reissued_to_a_corrected_phone_or_taken_as_cash(
    packets, tmp_path, officer_xunhuan, city_shijiazhuang, province_staff
):
    programme, _rule, _ents, batch = packets
    _import(batch, {1: "手机号未注册", 2: "超时未领取已退回"}, tmp_path, officer_xunhuan)
    wrong, unclaimed = batch.lines.get(seq=1), batch.lines.get(seq=2)

    # 1. A wrong number: the officer corrects the phone (audited masked) and re-issues it.
    with pytest.raises(DomainError, match="手机号"):
        line_correct(line=wrong, phone="", acting_user=officer_xunhuan)
    line_correct(line=wrong, phone="13912345678", acting_user=officer_xunhuan, comment="本人来电更正")
    audit = AuditEntry.objects.get(action="line_correct", object_id=str(wrong.pk))
    assert audit.changes["phone"][1] == pii.mask_phone("13912345678")
    assert AuditEntry.objects.filter(action="person_correct", object_id=str(wrong.entitlement.person_id)).exists()
    supplement = batch_build_supplement(batch=batch, acting_user=officer_xunhuan)
    assert supplement.channel == Channel.RED_PACKET and supplement.number.endswith("-HB-BF001")
    (line,) = supplement.lines.all()
    assert pii.decrypt(line.account_cipher) == "13912345678" and line.reissue_of_id == wrong.pk

    # 2. Not claimed in time: the worker takes cash instead; the cash build pays it.
    Entitlement.objects.filter(pk=unclaimed.entitlement_id).update(channel=Channel.CASH)
    (cash,) = batches_build(programme=programme, acting_user=officer_xunhuan)
    assert cash.channel == Channel.CASH and cash.lines.get().entitlement_id == unclaimed.entitlement_id

    total, _rows = reconcile(programme=programme)
    assert total.balanced
    # 3 paid, 2 on their way again (the 补发 packet, the cash) — nothing failed left, nothing twice.
    assert (total.paid, total.failed, total.pending) == (Decimal("2400.00"), 0, Decimal("1600.00"))

    supplement = approve(supplement, officer_xunhuan, city_shijiazhuang, province_staff)
    batch_export(batch=supplement, fmt="csv", acting_user=officer_xunhuan)
    supplement.refresh_from_db()
    _import(supplement, {}, tmp_path, officer_xunhuan, "bf.csv")
    total, rows = reconcile(programme=programme, by=("channel",))
    assert (total.paid, total.pending, total.failed) == (Decimal("3200.00"), Decimal("800.00"), 0)
    assert total.paid_count == 4 and total.balanced
    assert {r.label: (r.paid, r.pending) for r in rows} == {
        "电子红包": (Decimal("3200.00"), 0),
        "现金": (0, Decimal("800.00")),
    }


def test_the_batch_page_shows_phones_and_the_red_packet_file(client, packets, officer_xunhuan):
    _p, _r, _e, batch = packets
    client.force_login(officer_xunhuan)
    html = client.get(reverse("disbursements:batch_detail", args=[batch.pk])).content.decode()
    assert "电子红包发放文件" in html and "收红包手机号" in html and "导入电子红包平台结果" in html
    assert batch.lines.first().account_masked in html
    assert Batch.objects.get(pk=batch.pk).number.split("-")[-2] == "HB"


def test_the_employer_sees_a_failed_packet_with_what_to_do_and_no_account_form(
    client, packets, tmp_path, officer_xunhuan, agent_gree
):
    _p, _r, ents, batch = packets
    _import(batch, {1: "超时未领取已退回"}, tmp_path, officer_xunhuan)
    ents[0].registration.employer.agents.add(agent_gree)
    client.force_login(agent_gree)
    response = client.get(reverse("disbursements:employer_payments"), {"state": "failed"})
    (row,) = response.context["rows"]
    assert row.channel == "电子红包" and "联系区县人社专员更正或确认" in row.todo and not row.correctable
    assert "data-account-correct" not in response.content.decode()


def test_reconcile_command_splits_by_channel(packets, tmp_path, officer_xunhuan):
    from django.core.management import call_command

    programme, _r, _e, batch = packets
    _import(batch, {3: "实名信息不符"}, tmp_path, officer_xunhuan)
    out = io.StringIO()
    call_command("reconcile", "--programme", programme.code, "--by", "channel", stdout=out)
    (line,) = [ln for ln in out.getvalue().splitlines() if "电子红包" in ln]
    assert line.split()[3:] == ["4000.00", "3200.00", "3200.00", "800.00", "0.00", "0.00", "是"]
