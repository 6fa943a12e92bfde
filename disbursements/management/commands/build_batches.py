from django.core.management.base import BaseCommand, CommandError

from disbursements.services.batches import batches_build
from programs.models import Programme
from regions.models import Region


class Command(BaseCommand):
    help = "从已核定、未入批次的补贴生成发放批次（每个区县 × 发放渠道一个批次）。可重复运行：已入批次的不会重复。"

    def add_arguments(self, parser):
        parser.add_argument("--programme", required=True, help="项目代码，如 HEBEI-2021")
        parser.add_argument("--district", help="只生成一个区县（或一个市的各区县）")

    def handle(self, *args, **opts):
        programme = Programme.objects.filter(code=opts["programme"]).first()
        if programme is None:
            raise CommandError(f"找不到项目 {opts['programme']}")
        district = None
        if opts.get("district"):
            district = Region.objects.filter(code=opts["district"]).first()
            if district is None:
                raise CommandError(f"找不到区划 {opts['district']}")
        built = batches_build(programme=programme, district=district, acting_user=None, system=True)
        for batch in built:
            self.stdout.write(f"{batch.number}\t{batch.line_count} 笔\t{batch.total} 元")
        self.stdout.write(self.style.SUCCESS(f"生成 {len(built)} 个批次"))
