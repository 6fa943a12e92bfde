from django.core.management.base import BaseCommand

from disbursements.management.arguments import programme_arg, region_arg
from disbursements.services.batches import batches_build


class Command(BaseCommand):
    help = "从已核定、未入批次的补贴生成发放批次（每个区县 × 发放渠道一个批次）。可重复运行：已入批次的不会重复。"

    def add_arguments(self, parser):
        parser.add_argument("--programme", required=True, help="项目代码，如 HEBEI-2021")
        parser.add_argument("--district", help="只生成一个区县（或一个市的各区县）")

    def handle(self, *args, **opts):
        programme = programme_arg(opts["programme"])
        district = region_arg(opts.get("district"))
        built = batches_build(programme=programme, district=district, acting_user=None, system=True)
        for batch in built:
            self.stdout.write(f"{batch.number}\t{batch.line_count} 笔\t{batch.total} 元")
        self.stdout.write(self.style.SUCCESS(f"生成 {len(built)} 个批次"))
