from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from core.errors import DomainError
from disbursements.models import Batch
from disbursements.services.bank_results import batch_import_results


class Command(BaseCommand):
    help = "导入银行回盘文件（CSV/XLSX：备注（参考号）、状态、失败原因）。重复导入同一文件不会重复登记。"

    def add_arguments(self, parser):
        parser.add_argument("batch_id", type=int)
        parser.add_argument("file")

    def handle(self, *args, **opts):
        batch = Batch.objects.filter(pk=opts["batch_id"]).first()
        if batch is None:
            raise CommandError(f"找不到批次 {opts['batch_id']}")
        try:
            result = batch_import_results(batch=batch, path=Path(opts["file"]), acting_user=None)
        except DomainError as exc:
            for error in exc.errors or []:
                self.stderr.write(str(error))
            raise CommandError(exc.message) from exc
        self.stdout.write(result["message"])
