"""公示 files for the notice board: the notice as PDF and as XLSX.

Only the notice's snapshot columns go in (masked name, employer, scheme, amount):
nothing here can reach an ID number, a phone or an account.
"""

from io import BytesIO

from core.pdf import pdf_build, pdf_font, pdf_styles, table_style
from core.spreadsheets import safe_cell
from disbursements.choices import NoticeLineStatus
from disbursements.models import Notice
from disbursements.services.publicity import notice_totals


def _file_rows(notice: Notice):
    return notice.lines.order_by("seq").values_list("seq", "name_masked", "employer_name", "scheme", "amount", "status")


def notice_xlsx(notice: Notice) -> bytes:
    """The notice as an .xlsx for a notice board (XlsxWriter, in memory: a notice is one
    district's list)."""
    import xlsxwriter

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


def notice_pdf(notice: Notice) -> bytes:
    """The notice as a PDF (ReportLab; the font and page frame: core/pdf.py)."""
    from xml.sax.saxutils import escape

    from reportlab.lib.units import mm
    from reportlab.platypus import LongTable, Paragraph, Spacer

    font = pdf_font().name
    styles = pdf_styles(font)
    title_style, body, cell = styles["title"], styles["body"], styles["cell"]
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
    table.setStyle(table_style(font, money_cols=(4,), total_row=True))
    story += [table, Spacer(1, 5 * mm)]
    story.append(
        Paragraph(escape(f"{notice.district.name}人力资源和社会保障局    {notice.starts_on:%Y年%m月%d日}"), body)
    )
    return pdf_build(
        story,
        title=notice.title,
        author=notice.district.name,
        footer=f"{notice.district.name} · {notice.starts_on:%Y-%m-%d} — {notice.ends_on:%Y-%m-%d}",
        page_label=lambda page, pages: f"第 {page} 页 共 {pages} 页",
    )
