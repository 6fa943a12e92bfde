from django.core.management.base import BaseCommand

from regions.division_history import SUPPLEMENT_CSV, write_supplement


class Command(BaseCommand):
    help = "由 python-stdnum 的区划代码表生成全国区划代码历史缺少的代码（regions/data/cn_division_codes_stdnum.csv），提交前请核对。"

    def handle(self, *args, **options):
        n = write_supplement()
        self.stdout.write(f"{SUPPLEMENT_CSV.name}：{n} 个代码。")
