"""manage.py compute_entitlements --programme CODE [--district CODE] [--json]"""

import json

from django.core.management.base import BaseCommand, CommandError

from core.errors import DomainError
from core.money import format_yuan
from disbursements.services.entitlements import entitlements_compute
from programs.models import Programme


class Command(BaseCommand):
    help = "计算项目的补贴核定（与页面上的“计算”按钮、夜间任务使用同一服务）。可重复运行：无变化时不写入。"

    def add_arguments(self, parser):
        parser.add_argument("--programme", required=True, help="项目代码，如 HEBEI-2021")
        parser.add_argument("--district", help="只计算该区县（或该市所辖区县）")
        parser.add_argument("--json", action="store_true", help="以 JSON 输出各规则的人数与金额")

    def handle(self, *args, **options):
        programme = Programme.objects.filter(code=options["programme"]).first()
        if programme is None:
            raise CommandError(f"找不到项目 {options['programme']}。")

        def progress(done, total, code):
            if not options["json"] and options["verbosity"] > 1:
                self.stderr.write(f"  {done}/{total} {code}")

        try:
            result = entitlements_compute(programme=programme, district=options.get("district"), progress=progress)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        totals = result.totals()
        if options["json"]:
            out = {
                "programme": programme.code,
                "rules": [
                    {
                        "rule": r["rule"],
                        "name": r["name"],
                        "region": r["region"],
                        "count": r["count"],
                        "amount": format_yuan(r["amount"]),
                        # Met the rule, turned away by its budget cap (预算已用完).
                        "refused": r["refused"],
                        "refused_amount": format_yuan(r["refused_amount"]),
                    }
                    for r in totals["rules"]
                ],
                "count": totals["count"],
                "amount": format_yuan(totals["amount"]),
                "refused": totals["refused"],
                "topups": result.topups,
                "overpaid": result.flagged,
            }
            self.stdout.write(json.dumps(out, ensure_ascii=False))
            return
        self.stdout.write(
            f"{programme.code}：{len(result.districts)} 个区县，写入 {result.written} 条，"
            f"撤销 {result.withdrawn} 条，补差 {result.topups} 条，多发待核查 {result.flagged} 条，"
            f"用时 {result.seconds:.2f} 秒"
        )
        for r in totals["rules"]:
            line = f"  {r['name']}（{r['region']}）：{r['count']} 人，{format_yuan(r['amount'])} 元"
            if r["refused"]:
                line += f"；预算已用完未能核定 {r['refused']} 人（{format_yuan(r['refused_amount'])} 元）"
            self.stdout.write(line)
        self.stdout.write(f"合计：{totals['count']} 人次，{format_yuan(totals['amount'])} 元")
