"""manage.py import_employers FILE [--dry-run] [--valid-only] [--report PATH]

Imports a list of employers from .xlsx or .csv, as the system (every district). The
JSON report lists every data row with its sheet row number, status and errors. Exit
status 0 when the file was read (even with rejected rows); CommandError otherwise.
"""

from django.core.management.base import BaseCommand

from beneficiaries.importer.employers import employers_import
from beneficiaries.management.commands._import_command import run_import_command


class Command(BaseCommand):
    help = "导入用人单位名单（.xlsx 或 .csv），输出逐行结果报告（JSON）。"

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--dry-run", action="store_true", help="只检查，不写入")
        parser.add_argument("--valid-only", action="store_true", help="有错误行时仍导入无误的行")
        parser.add_argument("--report", help="把逐行结果写入此 JSON 文件")

    def handle(self, *args, **opts):
        message = run_import_command(
            lambda: employers_import(
                path=opts["file"], filename=opts["file"], dry_run=opts["dry_run"], valid_only=opts["valid_only"]
            ),
            file=opts["file"],
            report=opts["report"],
        )
        self.stdout.write(message)
