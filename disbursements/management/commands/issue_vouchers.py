from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from core.errors import DomainError
from core.private_files import open_private
from disbursements.models import Batch
from disbursements.services.vouchers import issuance_csv, vouchers_issue


class Command(BaseCommand):
    help = "为已审批的电子消费券批次发券，并可导出发券清单（--out）供消费券平台导入。"

    def add_arguments(self, parser):
        parser.add_argument("batch_id", type=int)
        parser.add_argument("--out", help="发券清单 CSV 的输出路径")

    def handle(self, *args, **opts):
        batch = Batch.objects.filter(pk=opts["batch_id"]).first()
        if batch is None:
            raise CommandError(f"找不到批次 {opts['batch_id']}")
        try:
            if batch.status in ("approved", "exported"):
                self.stdout.write(vouchers_issue(batch=batch, acting_user=None)["message"])
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        if opts.get("out"):
            # Names, ID numbers and phones: created 0600 like every file of personal data.
            with open_private(Path(opts["out"]), "wb") as fh:
                count = issuance_csv(batch, fh)
            self.stdout.write(f"发券清单 {opts['out']}：{count} 张")
