"""Paper: the batch 审批表 and the district 汇总表 as PDFs — what they carry, scope,
embedded fonts, determinism, English labels."""

import datetime as dt
import os
from decimal import Decimal
from io import BytesIO, StringIO

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone, translation

from core import pdf as pdf_lib
from disbursements.services.bank_results import example_result_csv
from disbursements.services.batches import batches_build
from disbursements.services.paper import batch_approval_pdf, batch_scheme_totals, district_summary_pdf
from regions.models import Region
from tests.factories import approve, make_entitlements, make_programme, make_rule

pytestmark = pytest.mark.django_db
pypdf = pytest.importorskip("pypdf")


def pdf_text(content: bytes) -> str:
    reader = pypdf.PdfReader(BytesIO(content))
    return "\n".join(page.extract_text() for page in reader.pages)


def pdf_fonts(content: bytes) -> list[dict]:
    """Every font of every page: its BaseFont and which font file it embeds (if any)."""
    reader = pypdf.PdfReader(BytesIO(content))
    fonts = []
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            descriptor = font.get("/FontDescriptor")
            if descriptor is None and "/DescendantFonts" in font:  # Type0 (CID) fonts
                descriptor = font["/DescendantFonts"][0].get_object().get("/FontDescriptor")
            descriptor = descriptor.get_object() if descriptor is not None else {}
            files = [k for k in ("/FontFile", "/FontFile2", "/FontFile3") if k in descriptor]
            fonts.append({"name": str(font["/BaseFont"]), "files": files})
    return fonts


@pytest.fixture
def programme():
    return make_programme("HB-P")


@pytest.fixture
def batch(programme, officer_luquan, city_shijiazhuang, province_staff):
    make_entitlements(programme, make_rule(programme, "luquan_cash"), 4, start=300)
    built = batches_build(programme=programme, acting_user=officer_luquan)[0]
    return approve(built, officer_luquan, city_shijiazhuang, province_staff)


def test_batch_totals_by_scheme_add_up_to_the_batch(batch):
    (scheme,) = batch_scheme_totals(batch)
    assert scheme.count == 4 and scheme.total == batch.total == scheme.pending
    assert isinstance(scheme.total, type(batch.total))


def test_approval_pdf_carries_header_totals_steps_signatures_and_hash(client, batch, officer_luquan):
    client.force_login(officer_luquan)
    response = client.get(reverse("disbursements:batch_approval_pdf", args=[batch.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert batch.number in response["Content-Disposition"]
    text = pdf_text(response.content)
    for expected in (
        batch.number,
        "补贴发放审批表",
        "2,000.00",  # the total, in the common amount format
        "贰仟元整",  # and in capitals
        "鹿泉区留岗补贴" if "鹿泉区留岗补贴" in text else batch.lines.first().entitlement.rule.name,
        "鹿泉专员",  # who submitted
        "石家庄市级",  # who reviewed
        "省级审批",  # who approved
        "市级人员",  # a role
        "市级复核人",  # a signature box
        "签字",
        batch.content_hash,
        "第 1 页 共 1 页",
        "打印时间",
    ):
        assert expected in text.replace("\n", ""), expected
    assert "410102" not in text and "6222" not in text  # no ID number, no account


def test_approval_pdf_shows_bank_results_by_status(batch, officer_luquan, tmp_path):
    from disbursements.services.bank_results import batch_import_results
    from disbursements.services.payment_files import batch_export

    batch_export(batch=batch, fmt="csv", acting_user=officer_luquan)
    batch.refresh_from_db()
    path = tmp_path / "results.csv"
    path.write_text(example_result_csv(batch, {1: "已销户"}), encoding="utf-8")
    batch_import_results(batch=batch, path=path, acting_user=officer_luquan)
    batch.refresh_from_db()
    (scheme,) = batch_scheme_totals(batch)
    assert (scheme.paid, scheme.failed, scheme.pending) == (Decimal("1500.00"), Decimal("500.00"), Decimal("0"))
    with translation.override("zh-hans"):
        content = batch_approval_pdf(batch, printed_at=timezone.now())
    if os.environ.get("PAPER_DUMP"):  # to look at it: PAPER_DUMP=/tmp/approval.pdf
        open(os.environ["PAPER_DUMP"], "wb").write(content)
    text = pdf_text(content).replace("\n", "")
    assert "1,500.00" in text and "已对账" in text and batch.file_checksum in text


def test_approval_pdf_scope(client, batch, officer_cangzhou, city_cangzhou, city_shijiazhuang, agent_gree):
    url = reverse("disbursements:batch_approval_pdf", args=[batch.pk])
    for user in (officer_cangzhou, city_cangzhou):
        client.force_login(user)
        assert client.get(url).status_code == 404
    client.force_login(agent_gree)
    assert client.get(url).status_code == 403
    client.force_login(city_shijiazhuang)
    assert client.get(url).status_code == 200
    client.logout()
    assert client.get(url).status_code == 302  # to the login page


def test_batch_page_links_to_its_approval_pdf(client, batch, officer_luquan):
    client.force_login(officer_luquan)
    html = client.get(reverse("disbursements:batch_detail", args=[batch.pk])).content.decode()
    assert reverse("disbursements:batch_approval_pdf", args=[batch.pk]) in html


def test_district_summary_reconciles_by_scheme(client, batch, programme, officer_luquan, officer_cangzhou):
    url = reverse("disbursements:district_summary_pdf", args=["130110"]) + f"?programme={programme.code}"
    client.force_login(officer_luquan)
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    text = pdf_text(response.content).replace("\n", "")
    for expected in (
        "鹿泉区",
        "补贴发放汇总表",
        batch.number,
        "2,000.00",
        "平衡",
        "省级审批",
        "制表人",
        "第 1 页 共 1 页",
    ):
        assert expected in text, expected
    # another district's officer: neither 鹿泉's sheet nor a made-up code
    client.force_login(officer_cangzhou)
    assert client.get(url).status_code == 404
    assert client.get(url.replace("HB-P", "NOPE")).status_code == 404
    client.force_login(officer_luquan)
    assert client.get(url.replace("HB-P", "NOPE")).status_code == 404


def test_reconciliation_page_links_each_district_to_its_summary(client, batch, programme, city_shijiazhuang):
    client.force_login(city_shijiazhuang)
    html = client.get(reverse("disbursements:reconciliation"), {"programme": programme.code, "by": "district"})
    assert reverse("disbursements:district_summary_pdf", args=["130110"]) in html.content.decode()


def test_same_data_same_bytes(batch, programme):
    at = timezone.make_aware(dt.datetime(2021, 2, 20, 9, 30))
    assert batch_approval_pdf(batch, printed_at=at) == batch_approval_pdf(batch, printed_at=at)
    luquan = Region.objects.get(code="130110")
    first = district_summary_pdf(programme, luquan)
    assert district_summary_pdf(programme, luquan) == first


def _truetype_available() -> bool:
    return any(os.path.isfile(p) for p in pdf_lib.KNOWN_TRUETYPE) or bool(pdf_lib._fontconfig_truetype())


@pytest.mark.skipif(
    not _truetype_available() and not os.environ.get("CI"),
    reason="no TrueType CJK font here (apt-get install fonts-wqy-zenhei); CI installs one and runs this",
)
def test_fonts_are_embedded_by_default(batch, programme, settings):
    settings.PDF_FONT = settings.GONGSHI_PDF_FONT = ""
    chosen = pdf_lib.pdf_font()
    assert chosen.embedded, "no TrueType CJK font found: install fonts-wqy-zenhei (see .ci/run)"
    for content in (
        batch_approval_pdf(batch, printed_at=timezone.now()),
        district_summary_pdf(programme, Region.objects.get(code="130110")),
    ):
        fonts = pdf_fonts(content)
        assert fonts and all(f["files"] for f in fonts), fonts
        assert "STSong-Light" not in str(fonts)


def test_cid_font_when_asked(batch, settings):
    settings.PDF_FONT = "cid"
    fonts = pdf_fonts(batch_approval_pdf(batch, printed_at=timezone.now()))
    assert any("STSong-Light" in f["name"] and not f["files"] for f in fonts)


def test_a_configured_file_that_is_no_truetype_font_is_an_error(batch, settings, tmp_path):
    from django.core.exceptions import ImproperlyConfigured

    bogus = tmp_path / "font.ttf"
    bogus.write_bytes(b"not a font")
    settings.PDF_FONT = str(bogus)
    with pytest.raises(ImproperlyConfigured, match="PDF_FONT"):
        batch_approval_pdf(batch, printed_at=timezone.now())


def test_paper_in_english(client, batch, programme, officer_luquan):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    client.force_login(officer_luquan)
    text = pdf_text(client.get(reverse("disbursements:batch_approval_pdf", args=[batch.pk])).content)
    flat = text.replace("\n", " ")
    assert "Approval form" in flat and "Page 1 of 1" in flat and "Signature" in flat and "2,000.00" in flat
    url = reverse("disbursements:district_summary_pdf", args=["130110"]) + f"?programme={programme.code}"
    flat = pdf_text(client.get(url).content).replace("\n", " ")
    assert "Disbursement summary" in flat and "Balanced" in flat
    with translation.override("zh-hans"):
        assert "审批表" in pdf_text(batch_approval_pdf(batch, printed_at=timezone.now()))


def test_print_paper_command(batch, programme, tmp_path):
    from django.core.management import CommandError, call_command

    out = StringIO()
    call_command("print_paper", "--batch", batch.number, "--out", str(tmp_path / "a.pdf"), stdout=out)
    assert batch.number in pdf_text((tmp_path / "a.pdf").read_bytes()) and "字节" in out.getvalue()
    call_command(
        "print_paper",
        "--programme",
        programme.code,
        "--district",
        "130110",
        "--out",
        str(tmp_path / "s.pdf"),
        stdout=out,
    )
    assert "汇总表" in pdf_text((tmp_path / "s.pdf").read_bytes())
    with pytest.raises(CommandError, match="找不到批次"):
        call_command("print_paper", "--batch", "NOPE", "--out", str(tmp_path / "x.pdf"))
    with pytest.raises(CommandError, match="--programme"):
        call_command("print_paper", "--out", str(tmp_path / "x.pdf"))


def test_every_page_is_numbered_out_of_the_total():
    from reportlab.platypus import PageBreak, Paragraph

    styles = pdf_lib.pdf_styles(pdf_lib.pdf_font().name)
    story = [Paragraph("第一页", styles["body"]), PageBreak(), Paragraph("第二页", styles["body"]), PageBreak()]
    story.append(Paragraph("第三页", styles["body"]))
    content = pdf_lib.pdf_build(
        story, title="t", author="a", footer="打印时间 2021-02-03", page_label=lambda p, n: f"第 {p} 页 共 {n} 页"
    )
    pages = [page.extract_text() for page in pypdf.PdfReader(BytesIO(content)).pages]
    assert len(pages) == 3
    for number, text in enumerate(pages, start=1):
        assert f"第 {number} 页 共 3 页" in text and "打印时间 2021-02-03" in text


def test_queries_do_not_grow_with_batches_or_steps(programme, batch, officer_luquan, city_shijiazhuang, province_staff):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    luquan = Region.objects.get(code="130110")

    def count(render) -> int:
        with CaptureQueriesContext(connection) as ctx:
            render()
        return len(ctx.captured_queries)

    district_summary_pdf(programme, luquan)  # warm: the first render caches reference data
    summary_one = count(lambda: district_summary_pdf(programme, luquan))
    approval_one = count(lambda: batch_approval_pdf(batch, printed_at=timezone.now()))
    make_entitlements(programme, make_rule(programme, "luquan_cash2", amount="300.00"), 3, start=900)
    more = batches_build(programme=programme, acting_user=officer_luquan)[0]
    approve(more, officer_luquan, city_shijiazhuang, province_staff)
    assert count(lambda: district_summary_pdf(programme, luquan)) == summary_one
    assert count(lambda: batch_approval_pdf(more, printed_at=timezone.now())) == approval_one
