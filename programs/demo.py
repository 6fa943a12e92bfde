"""The demo programme HEBEI-2021 and every scheme of the article as a rule.

Source: seed/hebei-2021-stay-in-place-article.txt (河北省“迎新春送温暖、稳岗留工”,
January–March 2021). Each rule's `description` quotes the clause it implements.
"""

import datetime as dt
from decimal import Decimal

from django.db import transaction

from programs.choices import Channel, RuleKind
from programs.models import Programme, SubsidyRule
from programs.services import rule_activate, rule_create
from regions.models import Region

PROGRAMME_CODE = "HEBEI-2021"

# The employers whose own red packets the article reports (credit codes valid under
# GB 32100; beneficiaries' demo creates the employers with these codes).
DEMO_EMPLOYER_CODES = {
    "gree": "9113017110785302XA",  # 石家庄格力电器（高新区）, as beneficiaries.demo creates it
    "mengniu": "91130773MN202101XC",  # 蒙牛（塞北管理区）
    "modern_dairy": "91130773XD20210134",  # 现代牧业（塞北管理区）
}

# Monthly 失业补助金: 定州 paid 963 people ¥633,700 in February (≈ ¥658 a month each).
UNEMPLOYMENT_MONTHLY = Decimal("658.00")


def _hengshui_voucher(
    rule_key: str, name: str, amount: Decimal, conditions: dict, description: str
) -> tuple[str, str, dict]:
    """衡水's consumption vouchers, usable in the city's major supermarkets until 2021-03-08."""
    fields = dict(
        name=name,
        kind=RuleKind.VOUCHER,
        amount=amount,
        channel=Channel.E_VOUCHER,
        valid_until=dt.date(2021, 3, 8),
        conditions=conditions,
        description=description,
    )
    return rule_key, "131100", fields


def _unemployment(rule_key: str, region: str, name: str, description: str) -> tuple[str, str, dict]:
    """Six months of 失业补助金 for insured unemployed people (定州, 辛集)."""
    fields = dict(
        name=name,
        kind=RuleKind.MONTHLY,
        amount=UNEMPLOYMENT_MONTHLY,
        months=6,
        channel=Channel.SOCIAL_SECURITY_CARD,
        conditions={"category_in": ["unemployed"], "employer_verified": False},
        description=description,
    )
    return rule_key, region, fields


def _employer_funded(
    rule_key: str, region: str, name: str, employer: str, description: str, **amount
) -> tuple[str, str, dict]:
    """An employer's own red packet (recorded for statistics, not paid by the programme);
    `amount` is amount=… or tiers=[…]."""
    fields = dict(
        name=name,
        kind=RuleKind.EMPLOYER_FUNDED,
        **amount,
        channel=Channel.EMPLOYER,
        conditions={"employer_codes": [DEMO_EMPLOYER_CODES[employer]]},
        description=description,
    )
    return rule_key, region, fields


# rule_key, region, fields
DEMO_RULES = [
    (
        "LUQUAN-CASH",
        "130110",
        dict(
            name="鹿泉区留鹿过年补贴",
            kind=RuleKind.CASH,
            amount=Decimal("500"),
            channel=Channel.BANK_CARD,
            conditions={
                "hukou_outside": "city",
                "ownership_in": ["private", "individual", "construction"],
                "stayed_through_holiday": True,
            },
            description="鹿泉区人社局为留在鹿泉过年的户籍为石家庄市以外地区且家庭和常住地不在石家庄域内的"
            "各类非公企业、工商户员工及施工工地务工人员按每人500元发放补贴。",
        ),
    ),
    (
        "XUNHUAN-RED",
        "130172",
        dict(
            name="循环化工园区外市留园人员红包",
            kind=RuleKind.RED_PACKET,
            amount=Decimal("800"),
            # "电子红包或现金补贴": the red packet by default, cash for whoever chooses it.
            channel=Channel.RED_PACKET,
            alt_channel=Channel.CASH,
            conditions={"hukou_outside": "city"},
            description="对因疫情主动留在园区过年的外市人员，每人给予800元的电子红包或现金补贴。",
        ),
    ),
    (
        "CANGZHOU-RED",
        "130900",
        dict(
            name="沧州市暖心红包",
            kind=RuleKind.RED_PACKET,
            amount=Decimal("500"),
            channel=Channel.BANK_CARD,
            conditions={"hukou_outside": "city"},
            description="沧州市为外地留沧务工人员每人发放500元暖心红包。",
        ),
    ),
    _hengshui_voucher(
        "HENGSHUI-VOUCHER",
        "衡水市外地留衡务工人员消费券",
        Decimal("500"),
        {"hukou_outside": "city"},
        "为外地留衡务工人员每人发放500元消费券，可在全市大型商超使用，有效期至2021年3月8日。",
    ),
    _hengshui_voucher(
        "HENGSHUI-DUTY",
        "衡水市春节在岗加发消费券",
        Decimal("100"),
        {"hukou_outside": "city", "on_duty_min_days": 1},
        "春节期间在岗的外地留衡务工人员，每人再加发100元消费券，有效期至2021年3月8日。",
    ),
    (
        "KANGBAO-RELIEF",
        "130723",
        dict(
            name="康保县困难群众春节慰问金",
            kind=RuleKind.RELIEF,
            amount=Decimal("300"),
            channel=Channel.BANK_CARD,
            budget_cap=Decimal("1982400"),
            conditions={"category_in": ["hardship"], "employer_verified": False},
            description="康保县摸排特困、低保、边缘户等共6608人，每人发放慰问金300元，共发放慰问金198.24万元。",
        ),
    ),
    _unemployment(
        "DINGZHOU-UNEMP",
        "130682",
        "定州市失业补助金（六个月）",
        "2021年1月1日后的参保失业人员及2020年3月至12月份未申领过失业补助金的参保失业人员"
        "可以申领六个月的失业补助金（2月份为963人发放63.37万元）。",
    ),
    _unemployment(
        "XINJI-UNEMP",
        "130181",
        "辛集市失业补助金（六个月）",
        "自2021年1月1日起，辛集市继续落实失业补助金申领发放工作，参保失业人员可以申领六个月的失业补助金。",
    ),
    _employer_funded(
        "GREE-RED",
        "130171",
        "格力（高新区）留石职工过年补贴（企业自发）",
        "gree",
        "石家庄格力(空调)有限公司对留石过年企业职工每人发放过年补贴1000元。",
        amount=Decimal("1000"),
    ),
    _employer_funded(
        "MENGNIU-RED",
        "130773",
        "蒙牛春节留岗红包（企业自发）",
        "mengniu",
        "蒙牛公司对春节留岗人员发放1000元红包。",
        amount=Decimal("1000"),
    ),
    _employer_funded(
        "MODERN-DAIRY-RED",
        "130773",
        "现代牧业按工龄过年红包（企业自发）",
        "modern_dairy",
        "塞北管理区现代牧业公司根据工龄发放最高600元过年红包。",
        tiers=[
            {"min_years": 0, "amount": "200.00"},
            {"min_years": 3, "amount": "400.00"},
            {"min_years": 5, "amount": "600.00"},
        ],
    ),
]


def demo_programme_data() -> dict:
    return dict(
        name="2021年河北省“迎新春送温暖、稳岗留工”专项行动",
        region=Region.objects.get(code="130000"),
        start_date=dt.date(2021, 1, 21),
        end_date=dt.date(2021, 3, 31),
        holiday_start=dt.date(2021, 2, 11),
        holiday_end=dt.date(2021, 2, 17),
        registration_deadline=dt.date(2021, 2, 28),
        budget=Decimal("50000000.00"),
    )


@transaction.atomic
def demo_programme() -> Programme:
    """HEBEI-2021 with every rule of the article, active. Idempotent."""
    programme, _ = Programme.objects.get_or_create(code=PROGRAMME_CODE, defaults=demo_programme_data())
    for rule_key, region_code, fields in DEMO_RULES:
        if SubsidyRule.objects.filter(programme=programme, rule_key=rule_key).exists():
            continue
        rule = rule_create(
            programme=programme,
            data={**fields, "region": Region.objects.get(code=region_code)},
            rule_key=rule_key,
            system=True,
        )
        rule_activate(rule=rule, system=True)
    return programme


DEMO_STEPS = [("项目 HEBEI-2021 与补贴规则", demo_programme)]
