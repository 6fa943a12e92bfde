"""The downloadable upload templates (XlsxWriter), and the data-sheet layout that the
rejected-rows report shares with them.

A template has an instructions sheet (说明) and a data sheet whose identifier columns
(ID, account, phone, codes) are formatted as text ("@"), so Excel keeps all 18 digits
of an ID number; drop-down lists for the category, the bank and the ownership type;
date and whole-number checks. It never contains an example data row (it would be
imported): the example is on the instructions sheet.
"""

import datetime as dt

import xlsxwriter

from beneficiaries.importer.columns import EMPLOYER_COLUMNS, WORKER_COLUMNS

VALIDATED_ROWS = 200_000
WORKER_SHEET = "留岗人员名单"
EMPLOYER_SHEET = "用人单位名单"

WORKER_EXAMPLE = (
    "张三",
    "130102199001011237",
    "13812345678",
    "2021-01-21",
    "2021-03-31",
    "7",
    "3",
    "外来务工人员",
    "中国工商银行",
    "6222021234567890123",
    "",
)
EMPLOYER_EXAMPLE = (
    "91130110MA0XXXXXXX",
    "石家庄某某制造有限公司",
    "私营/非公",
    "130110",
    "制造业",
    "李四",
    "0311-12345678",
)


def formats(workbook) -> dict:
    return {
        "header": workbook.add_format(
            {
                "bold": True,
                "bg_color": "#DCE6F1",
                "border": 1,
                "align": "center",
                "valign": "vcenter",
                "text_wrap": True,
            }
        ),
        "required": workbook.add_format(
            {
                "bold": True,
                "bg_color": "#FDE9D9",
                "border": 1,
                "align": "center",
                "valign": "vcenter",
                "text_wrap": True,
            }
        ),
        "text": workbook.add_format({"num_format": "@"}),
        "date": workbook.add_format({"num_format": "yyyy-mm-dd"}),
        "reason": workbook.add_format({"font_color": "#C00000", "text_wrap": True}),
        "title": workbook.add_format({"bold": True, "font_size": 14}),
        "wrap": workbook.add_format({"text_wrap": True, "valign": "top"}),
        "bold": workbook.add_format({"bold": True}),
    }


def write_data_header(
    workbook, sheet, columns, fmt: dict, *, extra: tuple[str, ...] = (), programme=None, lists_sheet=None
):
    """The header row, column formats and checks of a data sheet (template or report)."""
    for i, col in enumerate(columns):
        sheet.set_column(
            i, i, col.width, fmt["text"] if col.text else (fmt["date"] if col.key.endswith("_date") else None)
        )
        sheet.write_string(0, i, col.header, fmt["required"] if col.required else fmt["header"])
    for j, header in enumerate(extra, start=len(columns)):
        sheet.set_column(j, j, 60, fmt["reason"])
        sheet.write_string(0, j, header, fmt["header"])
    sheet.set_row(0, 24)
    sheet.freeze_panes(1, 0)
    last = VALIDATED_ROWS
    for i, col in enumerate(columns):
        if col.choices and lists_sheet is not None:
            name, row = lists_sheet
            ref = f"='{name}'!$A${row[col.key][0]}:$A${row[col.key][1]}"
            sheet.data_validation(
                1,
                i,
                last,
                i,
                {
                    "validate": "list",
                    "source": ref,
                    "error_type": "stop" if col.strict_choices else "information",
                    "error_title": col.header,
                    "error_message": f"请从下拉列表中选择{col.header}。",
                },
            )
        elif col.key in ("start_date", "end_date"):
            start = programme.start_date if programme else dt.date(2021, 1, 21)
            end = programme.end_date if programme else dt.date(2021, 3, 31)
            sheet.data_validation(
                1,
                i,
                last,
                i,
                {
                    "validate": "date",
                    "criteria": "between",
                    "minimum": dt.datetime.combine(start, dt.time()),
                    "maximum": dt.datetime.combine(end, dt.time()),
                    "error_type": "warning",
                    "error_title": col.header,
                    "error_message": f"请填写 {start:%Y-%m-%d} 至 {end:%Y-%m-%d} 之间的日期，如 {start:%Y-%m-%d}。",
                },
            )
        elif col.key in ("duty_days", "seniority_years"):
            high = 60
            if col.key == "duty_days":
                high = (programme.holiday_end - programme.holiday_start).days + 1 if programme else 7
            sheet.data_validation(
                1,
                i,
                last,
                i,
                {
                    "validate": "integer",
                    "criteria": "between",
                    "minimum": 0,
                    "maximum": high,
                    "error_title": col.header,
                    "error_message": f"请填写0至{high}之间的整数。",
                },
            )


def _lists_sheet(workbook, columns, fmt) -> tuple[str, dict]:
    """A hidden sheet holding the drop-down lists (a list typed into the validation
    itself is limited to 255 characters)."""
    sheet = workbook.add_worksheet("下拉选项")
    rows = {}
    row = 0
    for col in columns:
        if not col.choices:
            continue
        sheet.write_string(row, 1, col.header, fmt["bold"])
        first = row + 1
        for value in col.choices:
            sheet.write_string(row, 0, value)
            row += 1
        rows[col.key] = (first, row)
        row += 1
    sheet.hide()
    return "下拉选项", rows


def _instructions(workbook, fmt, *, title: str, columns, example, extra_lines: list[str]):
    sheet = workbook.add_worksheet("说明")
    sheet.set_column(0, 0, 18)
    sheet.set_column(1, 1, 10)
    sheet.set_column(2, 2, 90)
    sheet.write_string(0, 0, title, fmt["title"])
    row = 2
    for line in extra_lines:
        sheet.write_string(row, 0, line)
        row += 1
    row += 1
    sheet.write_string(row, 0, "列名", fmt["header"])
    sheet.write_string(row, 1, "是否必填", fmt["header"])
    sheet.write_string(row, 2, "填写要求", fmt["header"])
    for col in columns:
        row += 1
        sheet.write_string(row, 0, col.header)
        sheet.write_string(row, 1, "必填" if col.required else "选填")
        sheet.write_string(row, 2, col.note, fmt["wrap"])
    row += 2
    sheet.write_string(row, 0, "填写示例（请勿复制到名单中）：", fmt["bold"])
    row += 1
    for i, col in enumerate(columns):
        sheet.write_string(row, i, col.header, fmt["header"])
        sheet.write_string(row + 1, i, example[i] if i < len(example) else "")
    return sheet


def worker_template(target, *, programme=None) -> None:
    """Write the workers' template to `target` (a path or a binary file object)."""
    workbook = xlsxwriter.Workbook(target, {"strings_to_formulas": False, "strings_to_urls": False, "in_memory": True})
    fmt = formats(workbook)
    period = (
        f"{programme.start_date:%Y-%m-%d} 至 {programme.end_date:%Y-%m-%d}" if programme else "2021-01-21 至 2021-03-31"
    )
    _instructions(
        workbook,
        fmt,
        title="稳岗留工人员登记表 · 填写说明",
        columns=WORKER_COLUMNS,
        example=WORKER_EXAMPLE,
        extra_lines=[
            f"1. 在“{WORKER_SHEET}”工作表中从第2行起每人填写一行，不要修改、删除或调整表头（可以在最后增加备注列，系统会忽略）。",
            "2. 身份证号、手机号、银行账号列已设为“文本”格式：请直接输入或粘贴为“只保留文本”，不要改成数字格式，否则身份证号后几位会变成0。",
            f"3. 留岗日期应在项目期间（{period}）内；春节在岗天数按春节假期实际在岗天数填写。",
            "4. 同一人只填写一行；已由其他单位登记的人员会标记为“重复登记待处理”，由区县人社专员核实。",
            "5. 上传后系统先检查每一行并列出问题（第几行、哪一列、怎么改），确认无误后才会导入。",
            "6. 有错误的行可以下载“错误行报告”，改好后只上传这些行即可。",
        ],
    )
    lists = _lists_sheet(workbook, WORKER_COLUMNS, fmt)
    data = workbook.add_worksheet(WORKER_SHEET)
    write_data_header(workbook, data, WORKER_COLUMNS, fmt, programme=programme, lists_sheet=lists)
    data.activate()
    workbook.close()


def employer_template(target) -> None:
    workbook = xlsxwriter.Workbook(target, {"strings_to_formulas": False, "strings_to_urls": False, "in_memory": True})
    fmt = formats(workbook)
    _instructions(
        workbook,
        fmt,
        title="用人单位名单 · 填写说明",
        columns=EMPLOYER_COLUMNS,
        example=EMPLOYER_EXAMPLE,
        extra_lines=[
            f"1. 在“{EMPLOYER_SHEET}”工作表中从第2行起每个单位填写一行，不要修改表头。",
            "2. 统一社会信用代码按营业执照填写18位；所在区县代码为6位行政区划代码（功能区用其统计代码）。",
            "3. 只能导入您所辖区县的单位；已登记的单位不会重复导入。",
            "4. 导入的单位状态为“待审核”，由区县人社专员核实后其留岗人员方可享受补贴。",
        ],
    )
    lists = _lists_sheet(workbook, EMPLOYER_COLUMNS, fmt)
    data = workbook.add_worksheet(EMPLOYER_SHEET)
    write_data_header(workbook, data, EMPLOYER_COLUMNS, fmt, lists_sheet=lists)
    data.activate()
    workbook.close()
