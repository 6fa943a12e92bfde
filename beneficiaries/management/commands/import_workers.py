"""manage.py import_workers FILE --employer CREDIT_CODE --programme CODE [--dry-run] [--valid-only] [--report PATH]

Imports an employer's stay-behind workers from .xlsx or .csv, as the system (no
acting user). The JSON report lists every data row with its sheet row number, status
and errors. Exit status 0 when the file was read (even with rejected rows); a file
that cannot be read is a CommandError (non-zero).
"""

from django.core.management.base import BaseCommand, CommandError

from beneficiaries.importer.workers import workers_import
from beneficiaries.management.commands._import_command import run_import_command
from beneficiaries.models import Employer
from beneficiaries.uscc import normalize_uscc
from programs.models import Programme


class Command(BaseCommand):
    help = "导入留岗人员名单（.xlsx 或 .csv），输出逐行结果报告（JSON）。"

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--employer", required=True, help="用人单位的统一社会信用代码")
        parser.add_argument("--programme", required=True, help="项目代码，如 HEBEI-2021")
        parser.add_argument("--dry-run", action="store_true", help="只检查，不写入")
        parser.add_argument("--valid-only", action="store_true", help="有错误行时仍导入无误的行")
        parser.add_argument("--report", help="把逐行结果写入此 JSON 文件")
        parser.add_argument("--max-rows", type=int, default=None, help="行数上限（默认 IMPORT_MAX_ROWS）")

    def handle(self, *args, **opts):
        employer = (
            Employer.objects.select_related("district").filter(credit_code=normalize_uscc(opts["employer"])).first()
        )
        if employer is None:
            raise CommandError(f"用人单位 {opts['employer']} 不存在")
        programme = Programme.objects.filter(code=opts["programme"]).first()
        if programme is None:
            raise CommandError(f"项目 {opts['programme']} 不存在")
        message = run_import_command(
            lambda: workers_import(
                path=opts["file"],
                filename=opts["file"],
                employer=employer,
                programme=programme,
                dry_run=opts["dry_run"],
                valid_only=opts["valid_only"],
                max_rows=opts["max_rows"],
            ),
            file=opts["file"],
            report=opts["report"],
        )
        self.stdout.write(message)
