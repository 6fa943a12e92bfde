"""PDFs for paper (公示, 审批表, 汇总表): one font choice and one page frame, on ReportLab.

ReportLab is pure Python and needs no network. Chinese needs a font, and a PDF shows the
same on every reader only if the font is embedded. ReportLab embeds TrueType outlines
(as a subset of the glyphs used) but not CFF/PostScript ones, so Debian's Noto CJK
(OpenType/CFF) cannot be used; WenQuanYi Zen Hei (fonts-wqy-zenhei) or AR PL UMing
(fonts-arphic-uming) can. The font is chosen once per process:

1. `PDF_FONT` (settings; the old name `GONGSHI_PDF_FONT` still works) naming a
   .ttf/.ttc file: that file, and a file that cannot be read is an error, not a quiet
   fallback (the operator asked for it);
2. `PDF_FONT=cid`: the Adobe CID font STSong-Light, never embedded (readers with an
   Asian font pack supply it; others show blank text);
3. unset: the first TrueType CJK font found in the usual Debian paths or through
   fontconfig (`fc-list :lang=zh`), else STSong-Light with a warning in the log.

Output is deterministic for the same content (ReportLab's `invariant`: fixed document
id and dates), so the same data prints the same bytes.
"""

import logging
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from io import BytesIO
from pathlib import Path

from django.conf import settings

log = logging.getLogger(__name__)

CID_FONT = "STSong-Light"
EMBEDDED_FONT = "PortalCJK"

# TrueType CJK fonts Debian ships, best first (fonts-wqy-zenhei is the one .ci/run and
# the Dockerfile install; the others are used when they happen to be there).
KNOWN_TRUETYPE = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/usr/share/fonts/truetype/arphic/ukai.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
)


@dataclass(frozen=True)
class PdfFont:
    """The registered font name, whether its glyphs are embedded, and where it came from."""

    name: str
    embedded: bool
    source: str


def _fontconfig_truetype() -> list[str]:
    """TrueType files fontconfig knows with Chinese coverage (Noto CJK is CFF: skipped)."""
    try:
        out = subprocess.run(
            ["fc-list", ":lang=zh", "file", "fontformat"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    files = []
    for line in out.splitlines():
        path, _, rest = line.partition(":")
        if "TrueType" in rest and path.strip() not in files:
            files.append(path.strip())
    return sorted(files)


def _try_truetype(path: str):
    from reportlab.pdfbase.ttfonts import TTFError, TTFont

    # One registered name per file: a test (or a settings change) that picks another
    # file must not get the glyph widths of the first under the same name.
    name = f"{EMBEDDED_FONT}-{''.join(c for c in Path(path).stem if c.isalnum())}"
    try:
        return TTFont(name, path, subfontIndex=0)
    except (TTFError, OSError) as exc:
        log.info("PDF font %s is not usable by ReportLab: %s", path, exc)
        return None


def configured_font_path() -> str:
    return settings.PDF_FONT or settings.GONGSHI_PDF_FONT or ""


@lru_cache(maxsize=4)
def _resolve(configured: str) -> PdfFont:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    if configured and configured.lower() != "cid":
        font = _try_truetype(configured)
        if font is None:
            from django.core.exceptions import ImproperlyConfigured

            raise ImproperlyConfigured(
                f"PDF_FONT={configured!r}: not a TrueType font ReportLab can embed (use a .ttf/.ttc with "
                "TrueType outlines such as /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc, or 'cid')."
            )
        pdfmetrics.registerFont(font)
        return PdfFont(font.fontName, True, configured)
    if not configured:
        for path in (*KNOWN_TRUETYPE, *_fontconfig_truetype()):
            if Path(path).is_file() and (font := _try_truetype(path)) is not None:
                pdfmetrics.registerFont(font)
                return PdfFont(font.fontName, True, path)
        log.warning(
            "No TrueType CJK font found (install fonts-wqy-zenhei or set PDF_FONT): PDFs use %s, "
            "which is not embedded and shows blank on readers without Asian fonts.",
            CID_FONT,
        )
    pdfmetrics.registerFont(UnicodeCIDFont(CID_FONT))
    return PdfFont(CID_FONT, False, "cid")


def pdf_font() -> PdfFont:
    """The font every PDF of the portal is set in (see the module docstring)."""
    return _resolve(configured_font_path())


def pdf_styles(font: str) -> dict:
    """Paragraph styles shared by the portal's paper."""
    from reportlab.lib.styles import ParagraphStyle

    return {
        "title": ParagraphStyle("title", fontName=font, fontSize=15, leading=20, alignment=1),
        "subtitle": ParagraphStyle("subtitle", fontName=font, fontSize=9.5, leading=13, alignment=1),
        "heading": ParagraphStyle("heading", fontName=font, fontSize=11, leading=15, spaceBefore=6, spaceAfter=3),
        "body": ParagraphStyle("body", fontName=font, fontSize=9.5, leading=13),
        "cell": ParagraphStyle("cell", fontName=font, fontSize=8.5, leading=11),
        "small": ParagraphStyle("small", fontName=font, fontSize=7.5, leading=10),
    }


def table_style(font: str, *, money_cols: tuple[int, ...] = (), total_row: bool = False):
    """Grid, grey header, amounts right-aligned; the last row bold-ish (shaded) when it is a total."""
    from reportlab.lib import colors
    from reportlab.platypus import TableStyle

    commands = [
        ("FONTNAME", (0, 0), (-1, -1), font),
        ("FONTSIZE", (0, 0), (-1, -1), 8.5),
        ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#f2f2f2")),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ]
    for col in money_cols:
        commands.append(("ALIGN", (col, 0), (col, -1), "RIGHT"))
    if total_row:
        commands.append(("BACKGROUND", (0, -1), (-1, -1), colors.HexColor("#f7f7f7")))
    return TableStyle(commands)


def pdf_build(story, *, title: str, author: str, footer: str, page_label) -> bytes:
    """Lay out `story` on A4 with `footer` (e.g. the printing time) at the bottom left and
    `page_label(page, pages)` ("第 1 页 共 3 页") at the bottom right of every page.

    The page count is known only at the end, so pages are drawn into a canvas that keeps
    each page's state and writes the footers after the last one (ReportLab's usual
    two-step numbering). `invariant=1`: the same story gives the same bytes.
    """
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.pdfgen.canvas import Canvas
    from reportlab.platypus import SimpleDocTemplate

    font = pdf_font().name

    class NumberedCanvas(Canvas):
        def __init__(self, *args, **kwargs):
            kwargs["invariant"] = 1
            # Not Helvetica: it would be listed in every page's fonts, never embedded.
            kwargs["initialFontName"] = font
            super().__init__(*args, **kwargs)
            self._pages = []

        def showPage(self):
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self):
            total = len(self._pages)
            for state in self._pages:
                self.__dict__.update(state)
                self.setFont(font, 8)
                self.drawString(15 * mm, 9 * mm, footer)
                self.drawRightString(A4[0] - 15 * mm, 9 * mm, page_label(self._pageNumber, total))
                super().showPage()
            super().save()

    out = BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=18 * mm,
        title=title,
        author=author,
        creator="稳岗留工",
        invariant=1,
    )
    doc.build(story, canvasmaker=NumberedCanvas)
    return out.getvalue()
