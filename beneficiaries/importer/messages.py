"""An import's messages in the page's language.

The importer, the spreadsheet reader and the validators write their messages in
Chinese, once: they are stored in the preview and the rejected-rows report, sent to API
clients, and the same file may be previewed by people reading either language. The
pages translate them when they show them, like job messages (accounts.job_messages):
each message is matched to its catalog entry below, whose `%(name)s` fields match the
text they stand for, and the figures are put back in. Fields that name a column
(`label`) are translated too. A message not listed is shown as written.

Each entry is the Chinese text exactly as the code writes it, with its variable parts
as fields; tests/test_english_messages.py makes real files and values fail in every way
listed and checks that the English shows no Chinese.
"""

import re
from functools import cache

from django.utils import translation
from django.utils.translation import gettext
from django.utils.translation import gettext_noop as _

MESSAGES = [
    # -- the file as a whole (beneficiaries/spreadsheets.py, columns.py) --------------
    _(
        "文件不是有效的 Excel (.xlsx) 文件（可能已损坏，或只是把扩展名改成了 .xlsx）。"
        "请用 Excel 打开后“另存为” Excel 工作簿 (.xlsx) 或 CSV (UTF-8) 后重新上传。"
    ),
    _(
        "这是旧版 Excel 97-2003 (.xls) 文件或设置了打开密码的工作簿，系统无法读取。"
        "请取消密码，并用 Excel“另存为” Excel 工作簿 (.xlsx) 或 CSV (UTF-8) 后重新上传。"
    ),
    _("只能上传 Excel 工作簿 (.xlsx/.xls)、WPS/LibreOffice 表格 (.ods) 或 CSV 文件，请使用下载的模板。"),
    _(
        "文件不是有效的 OpenDocument 表格 (.ods) 文件（可能已损坏）。"
        "请用 WPS 或 LibreOffice 打开后另存为 Excel 工作簿 (.xlsx) 或 CSV (UTF-8) 后重新上传。"
    ),
    _(
        "文件中有公式没有计算结果（例如单元格 %(cell)s），系统无法读出它们的值："
        "请用 Excel 或 WPS 打开文件、确认数据显示正确后保存，再重新上传（或把公式列复制后“粘贴为数值”）。"
    ),
    _(
        "文件中的文字是乱码（例如“%(sample)s”）：文件曾用错误的编码打开后又保存过，中文已被改坏。"
        "请回到原始文件，用 Excel“另存为” Excel 工作簿 (.xlsx) 或 “CSV UTF-8（逗号分隔）”后重新上传；"
        "也可以直接在下载的模板中填写。"
    ),
    _(
        "只在“%(sheet)s”工作表中找到了示例行，没有找到名单：请把名单填写在模板的“名单”工作表中"
        "（不要填在填写说明或示例里），保存后重新上传。"
    ),
    _("文件大小 %(size)s 超过上限 %(limit)s。请删除空白行和无关的工作表，或把名单拆分成几个文件分别上传。"),
    _("文件是空的，请检查后重新上传。"),
    _(
        "文件解压后过大（疑似“压缩炸弹”），系统拒绝读取。"
        "如果这是正常的名单，请删除空白行、格式和无关的工作表后另存为 .xlsx 或 CSV 再上传。"
    ),
    _("这是 Excel 二进制工作簿 (.xlsb)，请另存为 Excel 工作簿 (.xlsx) 或 CSV 后重新上传。"),
    _("文件超过 %(limit)s 行数据的上限，未导入任何数据。请把名单拆分成几个文件分别上传。"),
    _("文件不是文本格式的 CSV，请用 Excel 另存为 CSV (UTF-8) 或 .xlsx 后重新上传。"),
    _("CSV 文件第 %(row)s 行附近格式错误（%(error)s），请用 Excel 打开后另存为 CSV (UTF-8) 再上传。"),
    _("工作表“%(sheet)s”无法读取（文件可能已损坏或含有不支持的内容），请另存为 .xlsx 或 CSV 后重新上传。"),
    _(
        "没有找到表头：请确认表格前 %(rows)s 行中有一行列名（如“姓名”“身份证号”），"
        "列名与下载的模板一致。建议直接在模板中填写。"
    ),
    _("表头缺少必填列：%(columns)s。请使用下载的模板，不要修改或删除表头。"),
    _("缺少该列"),
    # -- a cell (beneficiaries/importer/cells.py) --------------------------------------
    _(
        "%(label)s被 Excel 存成了数字，后几位已丢失（变成了0或科学计数法）："
        "请把该列单元格格式设置为“文本”，重新填写完整号码"
    ),
    _("%(label)s不能是“是/否”，请填写号码"),
    _("%(label)s应为日期，如 2021-01-21"),
    _("%(label)s“%(value)s”不是有效日期，请按 2021-01-21 的格式填写"),
    _("%(label)s不能为空，请按 2021-01-21 的格式填写"),
    _("%(label)s“%(value)s”不是有效日期（没有这一天），请核对"),
    _("%(label)s“%(value)s”无法识别为日期，请按 2021-01-21 的格式填写"),
    _("%(label)s应为整数"),
    _("%(label)s“%(value)s”应为整数，请去掉小数"),
    _("%(label)s“%(value)s”应为整数（如 7），请核对"),
    _("%(label)s应在%(low)s至%(high)s之间，当前为%(value)s"),
    _("姓名不能为空"),
    _("姓名“%(value)s”含有无法识别的字符（文件编码可能有误）：请用 Excel 另存为 .xlsx 或 UTF-8 CSV 后重新上传"),
    _("姓名“%(value)s”过短，请填写完整姓名"),
    _("姓名过长（最多50个字）"),
    _("开户银行“%(value)s”不是可识别的银行：请从下拉列表选择，或填写银行全称（如“中国工商银行石家庄分行”）"),
    _("%(label)s不能为空"),
    _("%(label)s含有无法识别的字符（文件编码可能有误），请核对"),
    _("%(label)s过长（最多%(max)s个字）"),
    # -- ID numbers (beneficiaries/idcard.py) ------------------------------------------
    _("身份证号被 Excel 转成了科学计数法，数字已丢失：请把该列设置为“文本”格式后重新填写"),
    _("身份证号前17位应全部为数字，请核对"),
    _("15位身份证号应全部为数字，当前为“%(value)s”，请核对"),
    _("身份证号不能为空"),
    _("身份证号应为18位（或15位旧号码），当前为%(length)s位，请核对"),
    _("身份证号前17位应全部为数字，最后一位为数字或X，请核对"),
    _("身份证号最后一位应为数字或X，请核对"),
    _("校验位不正确，请核对"),
    _("出生日期无效：%(value)s，请核对"),
    _("出生日期晚于今天：%(value)s，请核对"),
    _("外国人永久居留身份证号第2至3位“%(value)s”不是有效的省级代码，请核对"),
    _("外国人永久居留身份证号第4至6位“%(value)s”不是有效的国籍代码，请核对"),
    _("地址码 %(code)s 不存在，请核对身份证号前6位"),
    # -- mobile numbers (beneficiaries/phone.py) ---------------------------------------
    _("手机号不能为空"),
    _("手机号“%(value)s”无效：应为以1开头的11位手机号码（第二位为3至9），请核对"),
    # -- credit codes (beneficiaries/uscc.py) -------------------------------------------
    _("统一社会信用代码应为18位，当前为%(length)s位，请核对营业执照。"),
    _("统一社会信用代码含有无效字符“%(value)s”（不使用 I、O、Z、S、V），请核对营业执照。"),
    _("统一社会信用代码校验位不正确，请核对营业执照上的18位代码。"),
    _("统一社会信用代码第1位“%(value)s”不是有效的登记管理部门代码，请核对营业执照。"),
    _("统一社会信用代码前两位“%(value)s”无效：登记管理部门“%(authority)s”没有机构类别“%(kind)s”，请核对营业执照。"),
    _("统一社会信用代码第3至8位“%(value)s”不是有效的行政区划代码，请核对营业执照。"),
    _("统一社会信用代码中的组织机构代码（第9至17位）校验不正确，请核对营业执照。"),
    # -- a worker's row (beneficiaries/importer/workers.py) -----------------------------
    _("与第%(row)s行的身份证号重复：同一人只需登记一次，请删除本行"),
    _("留岗开始日期 %(date)s 不在项目期间（%(start)s 至 %(end)s）内"),
    _("留岗结束日期 %(date)s 不在项目期间（%(start)s 至 %(end)s）内"),
    _("留岗结束日期不能早于开始日期"),
    _("人员类别“%(value)s”无效：请从下拉列表选择 外来务工人员、困难群众、失业人员 之一"),
    _("人员类别不能为空：请从下拉列表选择"),
    _("银行账号应为12至19位数字，请核对（本列应为文本格式）"),
    _("填写了银行账号，请同时填写开户银行"),
    _("填写了开户银行，请同时填写银行账号"),
    _("户籍地区代码“%(code)s”不存在：应为6位行政区划代码，不清楚可不填"),
    # -- the preview's summary (ImportResult.message), sentence by sentence ------------
    _("文件中没有数据行。"),
    _("共 %(total)s 行，无误 %(accepted)s 行，有误 %(rejected)s 行。"),
    _("默认有错误行时不导入任何数据：请修改后重新上传，或选择“仅导入无误的行”。"),
    _("无误的行导入后将新增 %(created)s 条登记，%(unchanged)s 行此前已导入。"),
    _(
        "无误的行导入后将新增 %(created)s 条登记（其中 %(conflicts)s 条与其他单位重复，待区县核实），"
        "%(unchanged)s 行此前已导入。"
    ),
    _("无误的行导入后将新增 %(created)s 家单位，%(unchanged)s 行此前已导入。"),
    _("因有错误行，未导入任何数据：请下载错误行报告，修改后重新上传。"),
]

# Fields that hold a column's name: shown in the page's language too.
_COLUMN_FIELDS = {"label"}
_FIELD = re.compile(r"%\((\w+)\)s")


@cache
def _compiled() -> list[tuple[re.Pattern, str]]:
    """Each entry's Chinese text as a pattern: its fields match any text (the shortest
    that fits), the rest literally."""
    out = []
    for source in MESSAGES:
        parts, pos = [], 0
        for m in _FIELD.finditer(source):
            parts.append(re.escape(source[pos : m.start()]))
            parts.append(f"(?P<{m[1]}>.+?)")
            pos = m.end()
        parts.append(re.escape(source[pos:]))
        out.append((re.compile("^" + "".join(parts) + "$", re.DOTALL), source))
    return out


_SENTENCE = re.compile(r"[^。]+。")


def _translate(text: str) -> str | None:
    for pattern, source in _compiled():
        m = pattern.match(text)
        if m:
            fields = {k: (gettext(v) if k in _COLUMN_FIELDS else v) for k, v in m.groupdict().items()}
            return gettext(source) % fields if fields else gettext(source)
    return None


def import_message(text: str) -> str:
    """`text` (as the importer stored it, in Chinese) in the active language. A message
    made of several sentences (the preview's summary) is translated sentence by
    sentence; if any is not listed, the whole is shown as written."""
    if not text or (translation.get_language() or "zh-hans").startswith("zh"):
        return text
    whole = _translate(text)
    if whole is not None:
        return whole
    sentences = _SENTENCE.findall(text)
    if len(sentences) > 1 and "".join(sentences) == text:
        parts = [_translate(s) for s in sentences]
        if all(p is not None for p in parts):
            return " ".join(parts)
    return text


def column_name(name: str) -> str:
    """A template column's name (as the importer stored it) in the active language."""
    return gettext(name) if name else name
