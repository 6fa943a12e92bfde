from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from core.errors import DomainError
from disbursements.services.vouchers import vouchers_import_redemptions


class Command(BaseCommand):
    help = "导入消费券平台的核销文件（券码、核销时间、核销商户）。"

    def add_arguments(self, parser):
        parser.add_argument("file")

    def handle(self, *args, **opts):
        try:
            result = vouchers_import_redemptions(path=Path(opts["file"]), acting_user=None)
        except DomainError as exc:
            for error in exc.errors or []:
                self.stderr.write(str(error))
            raise CommandError(exc.message) from exc
        self.stdout.write(result["message"])
