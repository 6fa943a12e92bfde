import json

from django.core.management.base import BaseCommand

from core.money import format_yuan
from disbursements.management.arguments import programme_arg, region_arg
from disbursements.services.reconciliation import programme_alarms, reconcile

GROUPINGS = {"rule": ("district_id", "rule_key"), "district": ("district_id",), "channel": ("district_id", "channel")}
GROUP_TITLES = {"rule": "区县 · 规则", "district": "区县", "channel": "区县 · 发放渠道"}


class Command(BaseCommand):
    help = (
        "对账：核定 = 已发放 + 发放失败 + 待发放 + 追回，精确到分。--json 输出机器可读结果，"
        "alarms 列出批次校验值不符、区县不平和未处理的多发记录。"
    )

    def add_arguments(self, parser):
        parser.add_argument("--programme", required=True, help="项目代码，如 HEBEI-2021")
        parser.add_argument("--district", help="只对一个区县（或市）的区划代码对账")
        parser.add_argument("--json", action="store_true", help="输出 JSON")
        parser.add_argument(
            "--by",
            choices=sorted(GROUPINGS),
            default="rule",
            help="明细分组：rule 按区县和规则（默认），district 按区县，channel 按区县和发放渠道（电子红包、现金……）",
        )

    def handle(self, *args, **opts):
        programme = programme_arg(opts["programme"])
        district = region_arg(opts.get("district"))
        total, rows = reconcile(programme=programme, district=district, by=GROUPINGS[opts["by"]])
        if opts["json"]:
            self.stdout.write(json.dumps(total.as_json_with_alarms(programme, district, rows=None), ensure_ascii=False))
            return
        self.stdout.write(f"{programme.code} {programme.name}")
        self.stdout.write(
            f"{GROUP_TITLES[opts['by']]:<40}{'核定':>14}{'已入批次':>14}{'已发放':>14}{'失败':>14}{'待发放':>14}{'追回':>14}  平衡"
        )
        for row in [*rows, total]:
            label = row.label or "合计"
            figures = "".join(
                f"{format_yuan(getattr(row, n)):>14}"
                for n in ("entitled", "batched", "paid", "failed", "pending", "adjusted")
            )
            self.stdout.write(f"{label:<40}{figures}  {'是' if row.balanced else '否 ⚠'}")
        for problem in total.problems:
            self.stdout.write(self.style.ERROR(f"⚠ {problem}"))
        for alarm in programme_alarms(programme, district):
            if alarm["kind"] in ("hash", "overpaid"):
                self.stdout.write(self.style.ERROR(f"⚠ {alarm['message']}"))
        if not total.balanced:
            self.stderr.write(self.style.ERROR("对账不平！"))
