"""公示 files for the notice board: the notice as PDF and as XLSX.

Only the notice's snapshot columns go in (masked name, employer, scheme, amount):
nothing here can reach an ID number, a phone or an account.
"""

from io import BytesIO

from disbursements.publicity import notice_totals
from disbursements.trust_models import Notice, NoticeLineStatus


def _file_rows(notice: Notice):
    return notice.lines.order_by("seq").values_list("seq", "name_masked", "employer_name", "scheme", "amount", "status")


def notice_xlsx(notice: Notice) -> bytes:
    """The notice as an .xlsx for a notice board (XlsxWriter, in memory: a notice is one
    district's list)."""
    import xlsxwriter

    from disbursements.payment_files import safe_cell

    out = BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    sheet = book.add_worksheet("公示名单")
    bold = book.add_format({"bold": True})
    money = book.add_format({"num_format": "#,##0.00"})
    sheet.write(0, 0, safe_cell(notice.title), bold)
    sheet.write(
        1,
        0,
        f"公示期：{notice.starts_on:%Y-%m-%d} 至 {notice.ends_on:%Y-%m-%d}    监督电话：{safe_cell(notice.contact_phone)}",
    )
    sheet.write_row(3, 0, ["序号", "姓名", "用人单位", "补贴项目", "金额（元）", "备注"], bold)
    row = 4
    for seq, name, employer, scheme, amount, status in _file_rows(notice).iterator(chunk_size=2000):
        sheet.write_row(row, 0, [seq, safe_cell(name), safe_cell(employer), safe_cell(scheme)])
        sheet.write_number(row, 4, float(amount), money)  # display only; the figure is also in the total row
        sheet.write(row, 5, "" if status == NoticeLineStatus.LISTED else NoticeLineStatus(status).label)
        row += 1
    totals = notice_totals(notice)
    sheet.write(row + 1, 0, f"合计：{totals['count']} 人，{totals['total']:,.2f} 元", bold)
    sheet.set_column(1, 1, 10)
    sheet.set_column(2, 3, 36)
    sheet.set_column(4, 4, 12)
    book.close()
    return out.getvalue()


_FONT = "STSong-Light"
_EMBEDDED = "GongshiEmbedded"


def _pdf_font(pdfmetrics, cid_font) -> str:
    """The font the notice is set in. STSong-Light is one of the Adobe CJK fonts every
    PDF reader supplies itself, so it needs no font file and no network, but it is not
    embedded; with GONGSHI_PDF_FONT naming a TrueType file (e.g. WenQuanYi Zen Hei,
    Debian's fonts-wqy-zenhei) the glyphs used are embedded as a subset, so the file
    prints the same on any machine."""
    from django.conf import settings

    path = getattr(settings, "GONGSHI_PDF_FONT", "")
    registered = pdfmetrics.getRegisteredFontNames()
    if path:
        if _EMBEDDED not in registered:
            from reportlab.pdfbase.ttfonts import TTFont

            pdfmetrics.registerFont(TTFont(_EMBEDDED, path, subfontIndex=0))
        return _EMBEDDED
    if _FONT not in registered:
        pdfmetrics.registerFont(cid_font(_FONT))
    return _FONT


def notice_pdf(notice: Notice) -> bytes:
    """The notice as a PDF (ReportLab; the font: `_pdf_font`)."""
    from xml.sax.saxutils import escape

    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import LongTable, Paragraph, SimpleDocTemplate, Spacer, TableStyle

    font = _pdf_font(pdfmetrics, UnicodeCIDFont)
    title_style = ParagraphStyle("t", fontName=font, fontSize=15, leading=20, alignment=1)
    body = ParagraphStyle("b", fontName=font, fontSize=9.5, leading=13)
    cell = ParagraphStyle("c", fontName=font, fontSize=8.5, leading=11)
    out = BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        title=notice.title,
        author=notice.district.name,
    )
    totals = notice_totals(notice)
    story = [
        Paragraph(escape(notice.title), title_style),
        Spacer(1, 4 * mm),
        Paragraph(
            escape(
                f"根据稳岗留工补贴发放规定，现将拟发放人员名单予以公示。公示期为 {notice.starts_on:%Y年%m月%d日} 至 "
                f"{notice.ends_on:%Y年%m月%d日}（{notice.days} 个工作日）。如有异议，请在公示期内通过公示网页提出，"
                f"或拨打监督电话 {notice.contact_phone}。"
            ),
            body,
        ),
        Spacer(1, 4 * mm),
    ]
    data = [["序号", "姓名", "用人单位", "补贴项目", "金额（元）"]]
    for seq, name, employer, scheme, amount, status in _file_rows(notice).iterator(chunk_size=2000):
        mark = "" if status == NoticeLineStatus.LISTED else f"（{NoticeLineStatus(status).label}）"
        data.append(
            [
                str(seq),
                Paragraph(escape(name + mark), cell),
                Paragraph(escape(employer), cell),
                Paragraph(escape(scheme), cell),
                f"{amount:,.2f}",
            ]
        )
    data.append(["", "合计", f"{totals['count']} 人", "", f"{totals['total']:,.2f}"])
    table = LongTable(data, colWidths=[14 * mm, 26 * mm, 70 * mm, 50 * mm, 20 * mm], repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), font),
                ("FONTSIZE", (0, 0), (-1, -1), 8.5),
                ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#f2f2f2")),
                ("ALIGN", (-1, 0), (-1, -1), "RIGHT"),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ]
        )
    )
    story += [table, Spacer(1, 5 * mm)]
    story.append(
        Paragraph(escape(f"{notice.district.name}人力资源和社会保障局    {notice.starts_on:%Y年%m月%d日}"), body)
    )
    doc.build(story)
    return out.getvalue()
