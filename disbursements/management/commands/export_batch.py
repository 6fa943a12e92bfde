import shutil
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from core.errors import DomainError
from disbursements.models import Batch
from disbursements.services.payment_files import batch_export


class Command(BaseCommand):
    help = "导出已审批批次的银行批量代发文件（CSV 或 XLSX），写到 --out 指定的路径并打印 SHA-256。"

    def add_arguments(self, parser):
        parser.add_argument("batch_id", type=int)
        parser.add_argument("--format", dest="fmt", choices=["csv", "xlsx"], default="csv")
        parser.add_argument(
            "--encoding", choices=["utf-8", "gb18030"], default="utf-8", help="CSV 编码（默认 UTF-8 带 BOM）"
        )
        parser.add_argument("--out", required=True, help="输出文件路径")

    def handle(self, *args, **opts):
        batch = Batch.objects.filter(pk=opts["batch_id"]).first()
        if batch is None:
            raise CommandError(f"找不到批次 {opts['batch_id']}")
        try:
            record = batch_export(batch=batch, fmt=opts["fmt"], encoding=opts["encoding"], acting_user=None)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        out = Path(opts["out"])
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(record.path, out)
        self.stdout.write(f"{out}\t{record.line_count} 笔\t{record.total} 元\tsha256 {record.checksum}")
