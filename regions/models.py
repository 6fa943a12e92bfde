from django.db import models
from django.utils.translation import gettext_lazy as _

from regions.choices import Kind, Level


class RegionQuerySet(models.QuerySet):
    def within(self, region: "Region | None"):
        """The region and everything below it (by materialized path, one index range scan)."""
        if region is None:
            return self.none()
        return self.filter(path__startswith=region.path)

    def districts(self):
        return self.filter(level=Level.DISTRICT)


class Region(models.Model):
    """A unit of the reporting tree: the province, its cities and its districts.

    `code` is the GB/T 2260 code, or for a functional zone the NBS statistical code
    (130172 循环化工园区). The tree is the *reporting* tree: 定州 and 辛集 keep codes
    under 保定 and 石家庄 (`official_parent_code`) but report straight to the province,
    and 雄安新区 (local code 133100) holds 容城, 安新 and 雄县. `path` is the chain of
    codes from the root ("130000/130100/130110/"), so a subtree is a prefix match.
    """

    code = models.CharField(_("区划代码"), max_length=6, primary_key=True)
    name = models.CharField(_("名称"), max_length=50)
    level = models.CharField(_("层级"), max_length=10, choices=Level.choices)
    kind = models.CharField(_("类别"), max_length=10, choices=Kind.choices, default=Kind.OFFICIAL)
    parent = models.ForeignKey("self", models.PROTECT, null=True, blank=True, related_name="children")
    official_parent_code = models.CharField(_("法定上级代码"), max_length=6, blank=True)
    direct_report = models.BooleanField(_("省直管"), default=False)
    path = models.CharField(max_length=40, db_index=True, editable=False)

    objects = RegionQuerySet.as_manager()

    class Meta:
        ordering = ["code"]
        verbose_name = _("区划")
        verbose_name_plural = _("区划")
        indexes = [models.Index(fields=["path"], name="region_path_like", opclasses=["varchar_pattern_ops"])]

    def __str__(self):
        return self.name

    @property
    def city(self) -> "Region | None":
        """The city-level unit this region belongs to; a district that reports straight
        to the province (定州, 辛集) is its own city. None for the province."""
        if self.level == Level.CITY:
            return self
        if self.level == Level.DISTRICT:
            return self.parent if self.parent.level == Level.CITY else self
        return None

    def contains(self, other: "Region") -> bool:
        return other.path.startswith(self.path)


class DivisionCode(models.Model):
    """Every county-level-and-above code of China since 1981, abolished ones included.

    Reference data: an ID number keeps the address code it was issued with for life,
    so validation accepts any code that ever existed, and an abolished code is counted
    as its successor's region for rules (an old 鹿泉市 130185 number is still 石家庄).
    """

    code = models.CharField(_("代码"), max_length=6, primary_key=True)
    name = models.CharField(_("名称"), max_length=50)
    province = models.CharField(_("省份"), max_length=20)
    level = models.CharField(_("层级"), max_length=10)
    active = models.BooleanField(_("现行"), default=True)
    from_year = models.PositiveSmallIntegerField(null=True, blank=True)
    until_year = models.PositiveSmallIntegerField(null=True, blank=True)
    # The current code this one is counted as (itself when active; the first successor,
    # followed to the end of the chain, when abolished).
    current_code = models.CharField(_("现行对应代码"), max_length=6)

    class Meta:
        ordering = ["code"]
        verbose_name = _("全国区划代码")
        verbose_name_plural = _("全国区划代码")

    def __str__(self):
        return f"{self.code} {self.name}"
