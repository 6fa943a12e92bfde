"""The columns of the two upload templates: headers, aliases, drop-downs, notes.

One definition serves the downloadable template, the header matching of uploads and
the layout of the rejected-rows report, so the three can never drift apart.
"""

from dataclasses import dataclass

from django.utils import translation

from beneficiaries.choices import Category, Ownership, PayoutChoice
from beneficiaries.spreadsheets import SpreadsheetError, normalize_header


def chinese(label) -> str:
    """A choice label as the import files, previews and reports write it: Chinese, by
    design, whatever the page language (the choices' labels are translatable)."""
    with translation.override("zh-hans"):
        return str(label)


BANKS = (
    "中国工商银行",
    "中国农业银行",
    "中国银行",
    "中国建设银行",
    "交通银行",
    "中国邮政储蓄银行",
    "招商银行",
    "中信银行",
    "中国光大银行",
    "华夏银行",
    "中国民生银行",
    "兴业银行",
    "广发银行",
    "平安银行",
    "浦发银行",
    "河北银行",
    "河北省农村信用社",
    "农村商业银行",
    "村镇银行",
)

CATEGORY_BY_LABEL = {
    "外来务工人员": Category.MIGRANT,
    "外来务工": Category.MIGRANT,
    "外地务工人员": Category.MIGRANT,
    "农民工": Category.MIGRANT,
    "困难群众": Category.HARDSHIP,
    "困难人员": Category.HARDSHIP,
    "失业人员": Category.UNEMPLOYED,
    "失业": Category.UNEMPLOYED,
    **{c.value: c for c in Category},
}
OWNERSHIP_BY_LABEL = {
    "国有": Ownership.STATE,
    "国有企业": Ownership.STATE,
    "集体": Ownership.COLLECTIVE,
    "集体企业": Ownership.COLLECTIVE,
    "私营/非公": Ownership.PRIVATE,
    "私营": Ownership.PRIVATE,
    "非公": Ownership.PRIVATE,
    "民营": Ownership.PRIVATE,
    "私营企业": Ownership.PRIVATE,
    "民营企业": Ownership.PRIVATE,
    "个体工商户": Ownership.INDIVIDUAL,
    "个体": Ownership.INDIVIDUAL,
    "外资": Ownership.FOREIGN,
    "外资企业": Ownership.FOREIGN,
    "外商投资": Ownership.FOREIGN,
    "施工项目": Ownership.CONSTRUCTION,
    "建筑施工": Ownership.CONSTRUCTION,
    "其他": Ownership.OTHER,
    **{c.value: c for c in Ownership},
}


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    required: bool
    note: str
    aliases: tuple[str, ...] = ()
    text: bool = False  # an identifier: the template formats the column as text ("@")
    width: int = 14
    choices: tuple[str, ...] = ()
    strict_choices: bool = True  # False: the drop-down suggests, other values are allowed


WORKER_COLUMNS = (
    Column("name", "姓名", True, "必填。与身份证一致；少数民族姓名中间用“·”。", ("职工姓名", "人员姓名"), width=12),
    Column(
        "id_number",
        "身份证号",
        True,
        "必填。18位（或15位旧号码），末位X大小写均可。本列已设为文本格式，请勿改成数字格式，否则后几位会变成0。",
        ("身份证号码", "公民身份号码", "证件号码", "身份证", "证件号"),
        text=True,
        width=22,
    ),
    Column(
        "phone", "手机号", True, "必填。11位手机号码。", ("手机号码", "手机", "联系电话", "电话"), text=True, width=14
    ),
    Column(
        "start_date",
        "留岗开始日期",
        True,
        "必填。如 2021-01-21，也可写 2021/1/21 或 2021年1月21日；应在项目期间内。",
        ("开始日期", "留岗开始时间", "留岗起始日期"),
        width=14,
    ),
    Column(
        "end_date",
        "留岗结束日期",
        True,
        "必填。不早于开始日期，且在项目期间内。",
        ("结束日期", "留岗结束时间", "留岗截止日期"),
        width=14,
    ),
    Column(
        "duty_days",
        "春节在岗天数",
        False,
        "选填，整数，默认0。春节假期（2月11日至17日）实际在岗的天数。",
        ("在岗天数", "春节期间在岗天数"),
        width=12,
    ),
    Column("seniority_years", "工龄", False, "选填，整数（年），默认0。", ("工龄年", "工作年限", "工龄(年)"), width=8),
    Column(
        "category",
        "人员类别",
        True,
        "必填。从下拉列表选择：外来务工人员、困难群众、失业人员。",
        ("类别", "人员类型"),
        width=14,
        choices=("外来务工人员", "困难群众", "失业人员"),
    ),
    Column(
        "bank_name",
        "开户银行",
        False,
        "选填（与银行账号一起填写）。可从下拉列表选择，也可填写其他银行全称。",
        ("开户行", "银行名称", "开户银行名称"),
        width=18,
        choices=BANKS,
        strict_choices=False,
    ),
    Column(
        "account",
        "银行账号",
        False,
        "选填（与开户银行一起填写），12至19位数字。本列为文本格式。",
        ("银行卡号", "账号", "卡号", "银行账户", "社保卡号"),
        text=True,
        width=24,
    ),
    Column(
        "hukou_code",
        "户籍地区代码",
        False,
        "选填，6位行政区划代码。不填时按身份证号前6位确定户籍地。",
        ("户籍地代码", "户籍所在地代码", "户籍地区划代码"),
        text=True,
        width=14,
    ),
    # Last, so that files made from the earlier template still map column by column.
    Column(
        "payout_choice",
        "领取方式",
        False,
        "选填。补贴规则允许选择时（如循环化工园区“电子红包或现金”）填写：电子红包、现金 或 银行卡；不填按补贴规则发放。",
        ("红包或现金", "领取渠道"),
        width=12,
        choices=("电子红包", "现金", "银行卡"),
    ),
)
# 领取方式 cell text → PayoutChoice value.
PAYOUT_CHOICES = {
    "电子红包": PayoutChoice.RED_PACKET,
    "红包": PayoutChoice.RED_PACKET,
    "现金": PayoutChoice.CASH,
    "银行卡": PayoutChoice.BANK_CARD,
    **{c.value: c for c in PayoutChoice if c.value},
}

EMPLOYER_COLUMNS = (
    Column(
        "credit_code",
        "统一社会信用代码",
        True,
        "必填。营业执照上的18位代码，本列为文本格式。",
        ("信用代码", "社会信用代码", "统一信用代码"),
        text=True,
        width=22,
    ),
    Column(
        "name", "单位名称", True, "必填。与营业执照一致。", ("企业名称", "用人单位", "用人单位名称", "单位"), width=30
    ),
    Column(
        "ownership",
        "经济类型",
        True,
        "必填。从下拉列表选择：国有、集体、私营/非公、个体工商户、外资、施工项目、其他。",
        ("企业类型", "所有制", "经济性质", "单位性质"),
        width=14,
        # Written out, like the categories': the template and its drop-down stay Chinese
        # whatever the language of the page it is downloaded from.
        choices=("国有", "集体", "私营/非公", "个体工商户", "外资", "施工项目", "其他"),
    ),
    Column(
        "district_code",
        "所在区县代码",
        True,
        "必填。单位所在区县（或功能区）的6位代码，如鹿泉区 130110。",
        ("区县代码", "所在区县", "区县"),
        text=True,
        width=14,
    ),
    Column("industry", "行业", False, "选填。", ("所属行业",), width=16),
    Column("contact_name", "联系人", False, "选填。", ("联系人姓名", "经办人"), width=12),
    Column(
        "contact_phone",
        "联系电话",
        False,
        "选填。手机号或带区号的固定电话。",
        ("联系人电话", "电话", "手机号"),
        text=True,
        width=16,
    ),
)


def _lookup(columns) -> dict[str, Column]:
    table = {}
    for col in columns:
        for name in (col.header, *col.aliases):
            table.setdefault(normalize_header(name), col)
    return table


_LOOKUPS = {id(WORKER_COLUMNS): _lookup(WORKER_COLUMNS), id(EMPLOYER_COLUMNS): _lookup(EMPLOYER_COLUMNS)}


def header_scorer(columns):
    lookup = _LOOKUPS[id(columns)]

    def score(normalized: list[str]) -> int:
        return len({lookup[h].key for h in normalized if h in lookup})

    return score


def map_headers(columns, headers: list[str]) -> dict[str, int]:
    """{column key: position} for the header row; raise if a required column is missing.

    Unknown columns are ignored (employers add 序号, 备注 …); a column given twice is
    taken from its first position."""
    lookup = _LOOKUPS[id(columns)]
    positions: dict[str, int] = {}
    for i, h in enumerate(headers):
        col = lookup.get(normalize_header(h))
        if col is not None and col.key not in positions:
            positions[col.key] = i
    missing = [c.header for c in columns if c.required and c.key not in positions]
    if missing:
        raise SpreadsheetError(
            f"表头缺少必填列：{'、'.join(missing)}。请使用下载的模板，不要修改或删除表头。",
            errors=[{"column": m, "message": "缺少该列"} for m in missing],
        )
    return positions
