from django.core.management.base import BaseCommand

from regions.services import regions_load


class Command(BaseCommand):
    help = "加载河北省区划树和全国区划代码（可重复运行）。"

    def handle(self, *args, **options):
        counts = regions_load()
        self.stdout.write(f"区划 {counts['regions']} 个，全国区划代码 {counts['division_codes']} 个。")
