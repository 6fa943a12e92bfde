from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone, translation

from core.pdf import pdf_font
from disbursements.management.arguments import programme_arg, region_arg
from disbursements.models import Batch
from disbursements.services.paper import batch_approval_pdf, district_summary_pdf


class Command(BaseCommand):
    help = (
        "打印用 PDF：批次审批表（--batch 批次号或 ID）或区县发放汇总表（--programme 与 --district）。"
        "不做范围检查：供运维人员在服务器上使用。"
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch", help="批次号或批次 ID：输出该批次的审批表")
        parser.add_argument("--programme", help="项目代码，如 HEBEI-2021：与 --district 一起输出汇总表")
        parser.add_argument("--district", help="区县（或市）的区划代码，如 130110")
        parser.add_argument("--out", required=True, help="PDF 文件路径")

    def handle(self, *args, **opts):
        # Paper from the shell is in the site's language (Chinese), whatever the thread had.
        with translation.override(settings.LANGUAGE_CODE):
            content = self._render(opts)
        Path(opts["out"]).write_bytes(content)
        font = pdf_font()
        embedded = "嵌入字体子集" if font.embedded else "未嵌入字体（阅读器须自备中文字体）"
        self.stdout.write(f"{opts['out']}：{len(content)} 字节，字体 {font.source}（{embedded}）")

    def _render(self, opts) -> bytes:
        if opts.get("batch"):
            key = opts["batch"]
            batch = Batch.objects.filter(number=key).first() or (
                Batch.objects.filter(pk=int(key)).first() if key.isdigit() else None
            )
            if batch is None:
                raise CommandError(f"找不到批次 {key}")
            return batch_approval_pdf(batch, printed_at=timezone.now())
        elif opts.get("programme") and opts.get("district"):
            return district_summary_pdf(programme_arg(opts["programme"]), region_arg(opts["district"]))
        raise CommandError("请给出 --batch，或同时给出 --programme 和 --district。")
