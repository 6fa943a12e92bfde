"""公示: notices from a batch or a district, masking, objections, the submission rule,
files for the notice board."""

import datetime as dt
from decimal import Decimal
from io import BytesIO

import pytest
from django.utils import timezone

from accounts.models import AuditEntry
from beneficiaries import pii
from beneficiaries.choices import RegistrationStatus
from core.errors import ConflictError, DomainError, PermissionDenied
from disbursements.choices import BatchStatus, EntitlementStatus
from disbursements.models import Notice, NoticeLine, Objection, PublicityRequirement
from disbursements.services.batches import batch_submit, batches_build
from disbursements.services.publicity import (
    batch_submission_block,
    clean_text,
    mask_person_name,
    notice_create,
    objection_file,
    objection_resolve,
)
from disbursements.services.publicity_files import notice_pdf, notice_xlsx
from tests.factories import make_entitlements, make_person, make_rule

pytestmark = pytest.mark.django_db


@pytest.fixture
def batch(programme, officer_luquan):
    make_entitlements(programme, make_rule(programme, "luquan_cash"), 4, start=500)
    return batches_build(programme=programme, acting_user=officer_luquan)[0]


def test_names_are_masked_as_notice_boards_print_them():
    assert mask_person_name("张三") == "张*"
    assert mask_person_name("张小三") == "张*三"
    assert mask_person_name("欧阳娜娜") == "欧阳**"
    assert mask_person_name("欧阳娜") == "欧阳*"
    assert mask_person_name("买买提江") == "买**江"


def test_free_text_is_cleaned_but_markup_is_kept_to_be_escaped():
    assert clean_text("  <script>alert(1)</script>\u202e\u200b 多发 \x00了 ", max_length=100) == (
        "<script>alert(1)</script> 多发 了"
    )
    assert clean_text("a" * 50, max_length=10) == "a" * 10


def test_notice_from_a_batch_lists_masked_lines_and_totals_and_no_pii(batch, officer_luquan):
    notice = notice_create(batch=batch, acting_user=officer_luquan, contact_phone="0311-82015678")
    assert notice.line_count == 4 and notice.total == Decimal("2000.00")
    assert notice.days == 5 and notice.ends_on >= notice.starts_on + dt.timedelta(days=4)
    lines = list(notice.lines.order_by("seq"))
    names = [line.entitlement.person.name for line in lines]
    assert [line.name_masked for line in lines] == [mask_person_name(n) for n in names]
    assert all(line.name_masked != name for line, name in zip(lines, names, strict=True))
    assert {f.name for f in NoticeLine._meta.fields} == {
        "id",
        "notice",
        "seq",
        "entitlement",
        "name_masked",
        "employer_name",
        "scheme",
        "amount",
        "status",
    }
    assert AuditEntry.objects.filter(action="notice_publish", object_id=str(notice.pk)).exists()


def test_only_the_districts_officer_publishes(batch, officer_cangzhou, city_shijiazhuang):
    for user in (officer_cangzhou, city_shijiazhuang):
        with pytest.raises(PermissionDenied):
            notice_create(batch=batch, acting_user=user, contact_phone="0311-1")


def test_a_required_notice_blocks_submission_until_it_has_run_and_says_until_when(programme, batch, officer_luquan):
    PublicityRequirement.objects.create(programme=programme, region_id="130100")  # the city covers 鹿泉
    with pytest.raises(ConflictError, match="先公示 5 个工作日"):
        batch_submit(batch=batch, acting_user=officer_luquan)
    notice = notice_create(batch=batch, acting_user=officer_luquan, contact_phone="0311-82015678")
    with pytest.raises(ConflictError) as exc:
        batch_submit(batch=batch, acting_user=officer_luquan)
    assert f"{notice.ends_on + dt.timedelta(days=1):%Y-%m-%d} 起" in exc.value.message
    # After the period, with no objection: it goes.
    assert batch_submission_block(batch, today=notice.ends_on + dt.timedelta(days=1)) is None
    Notice.objects.filter(pk=notice.pk).update(
        starts_on=notice.starts_on - dt.timedelta(days=30), ends_on=timezone.localdate() - dt.timedelta(days=1)
    )
    assert batch_submit(batch=batch, acting_user=officer_luquan).status == BatchStatus.SUBMITTED


def test_no_requirement_no_notice_submits_as_before(batch, officer_luquan):
    assert batch_submission_block(batch) is None


def test_an_unresolved_objection_blocks_submission_after_the_period(batch, officer_luquan):
    notice = notice_create(batch=batch, acting_user=officer_luquan, contact_phone="0311-82015678")
    objection = objection_file(
        notice=notice, line_seq=2, reason="此人春节期间已回老家，并未留岗", contact="", ip="1.2.3.4"
    )
    after = notice.ends_on + dt.timedelta(days=1)
    assert "1 条异议尚未处理" in batch_submission_block(batch, today=after)
    objection_resolve(
        objection=objection, acting_user=officer_luquan, decision="dismissed", resolution="经核实考勤记录，该人员在岗"
    )
    assert batch_submission_block(batch, today=after) is None
    assert AuditEntry.objects.filter(action="objection_resolve", object_id=str(objection.pk)).exists()


def test_an_upheld_objection_withdraws_the_line_through_the_services(batch, officer_luquan):
    notice = notice_create(batch=batch, acting_user=officer_luquan, contact_phone="0311-82015678")
    line = notice.lines.get(seq=3)
    objection = objection_file(notice=notice, line_seq=3, reason="该人员不是本单位职工", ip="1.2.3.4")
    objection_resolve(
        objection=objection,
        acting_user=officer_luquan,
        decision="upheld",
        resolution="单位确认该人员已离职",
        outcome="withdraw",
    )
    batch.refresh_from_db()
    assert batch.line_count == 3 and batch.total == Decimal("1500.00")
    assert list(batch.lines.order_by("seq").values_list("seq", flat=True)) == [1, 2, 3]
    line.refresh_from_db()
    assert line.status == "withdrawn"
    entitlement = line.entitlement
    entitlement.refresh_from_db()
    assert entitlement.status == EntitlementStatus.WITHDRAWN
    assert entitlement.registration.status == RegistrationStatus.WITHDRAWN
    removed = AuditEntry.objects.get(action="batch_line_remove")
    assert removed.changes["total"] == ["2000.00", "1500.00"]
    with pytest.raises(ConflictError):  # once only
        objection_resolve(objection=objection, acting_user=officer_luquan, decision="dismissed", resolution="x")


def test_objections_need_a_reason_an_open_notice_and_an_existing_line(batch, officer_luquan):
    notice = notice_create(batch=batch, acting_user=officer_luquan, contact_phone="0311-82015678")
    with pytest.raises(DomainError, match="至少 5 个字"):
        objection_file(notice=notice, line_seq=None, reason="  ", ip="1.1.1.1")
    with pytest.raises(DomainError, match="序号为 99"):
        objection_file(notice=notice, line_seq=99, reason="没有这个人吧这是", ip="1.1.1.1")
    Notice.objects.filter(pk=notice.pk).update(starts_on=dt.date(2021, 2, 1), ends_on=dt.date(2021, 2, 5))
    notice.refresh_from_db()
    with pytest.raises(ConflictError, match="不在公示期内"):
        objection_file(notice=notice, line_seq=None, reason="公示期已过还能提吗", ip="1.1.1.1")
    assert not Objection.objects.exists()


def test_district_notice_covers_granted_entitlements_and_then_its_batch(programme, officer_luquan):
    make_entitlements(programme, make_rule(programme, "luquan_cash"), 3, start=700)
    from regions.models import Region

    notice = notice_create(
        programme=programme, district=Region.objects.get(code="130110"), acting_user=officer_luquan, contact_phone="1"
    )
    assert notice.batch is None and notice.line_count == 3
    batch = batches_build(programme=programme, acting_user=officer_luquan)[0]
    assert "正在公示" in batch_submission_block(batch)


def test_pdf_and_xlsx_carry_the_lines_and_no_id_numbers(batch, officer_luquan):
    from python_calamine import CalamineWorkbook

    notice = notice_create(batch=batch, acting_user=officer_luquan, contact_phone="0311-82015678")
    pdf = notice_pdf(notice)
    assert pdf.startswith(b"%PDF")
    rows = CalamineWorkbook.from_filelike(BytesIO(notice_xlsx(notice))).get_sheet_by_index(0).to_python()
    table = [r for r in rows if r and isinstance(r[0], (int, float)) and r[0]]
    assert len(table) == 4
    first = notice.lines.get(seq=1)
    assert table[0][1] == first.name_masked and table[0][4] == 500
    person = first.entitlement.person
    flat = " ".join(str(c) for r in rows for c in r)
    assert (
        person.name not in flat and pii.decrypt(person.phone_cipher) not in flat and "合计：4 人，2,000.00 元" in flat
    )


def test_a_person_with_a_compound_surname_appears_masked(programme, officer_luquan):
    from tests.factories import make_entitlement

    person, _ = make_person(9001, name="欧阳娜娜")
    make_entitlement(programme, make_rule(programme, "luquan_cash"), person=person, n=9001)
    batch = batches_build(programme=programme, acting_user=officer_luquan)[0]
    notice = notice_create(batch=batch, acting_user=officer_luquan, contact_phone="1")
    assert notice.lines.get().name_masked == "欧阳**"


WQY = "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"


@pytest.mark.skipif(not __import__("os").path.exists(WQY), reason="fonts-wqy-zenhei not installed")
def test_pdf_embeds_a_truetype_font_when_one_is_configured(batch, officer_luquan, settings):
    settings.GONGSHI_PDF_FONT = WQY
    notice = notice_create(batch=batch, acting_user=officer_luquan, contact_phone="0311-82015678")
    pdf = notice_pdf(notice)
    assert pdf.startswith(b"%PDF") and b"FontFile2" in pdf and b"STSong-Light" not in pdf
