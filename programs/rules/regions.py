"""The region tree as the rules see it: reporting cities and who counts as "outside"."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from django.apps import apps

from programs.choices import HukouScope


@dataclass(frozen=True)
class CityMembers:
    """The hukou codes that count as "inside" a reporting city."""

    prefix: str | None  # 4 digits, or None when the city is not an official city code
    include: tuple[str, ...]  # codes inside although outside the prefix (雄安's counties)
    exclude: tuple[str, ...]  # codes under the prefix that report elsewhere (辛集, 定州 …)

    def contains(self, hukou: str) -> bool:
        if hukou in self.include:
            return True
        return bool(self.prefix) and hukou.startswith(self.prefix) and hukou not in self.exclude


@dataclass
class RegionIndex:
    """A snapshot of the region tree for compiling rules (small: about 200 rows)."""

    path: dict[str, str] = field(default_factory=dict)
    level: dict[str, str] = field(default_factory=dict)
    kind: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls) -> RegionIndex:
        idx = cls()
        Region = apps.get_model("regions", "Region")
        for code, path, level, kind in Region.objects.values_list("code", "path", "level", "kind"):
            idx.path[code], idx.level[code], idx.kind[code] = path, level, kind
        return idx

    def city_of(self, code: str) -> str | None:
        """The reporting city of a region: the second element of its path."""
        parts = self.path[code].strip("/").split("/")
        return parts[1] if len(parts) > 1 else None

    def districts_within(self, code: str) -> list[str]:
        prefix = self.path[code]
        return sorted(c for c, p in self.path.items() if p.startswith(prefix) and self.level[c] == "district")

    def city_members(self, city: str) -> CityMembers:
        official = [
            c
            for c, p in self.path.items()
            if self.level[c] == "district" and self.kind[c] == "official" and p.startswith(self.path[city])
        ]
        if self.level[city] == "city" and self.kind[city] == "official":
            prefix = city[:4]
            elsewhere = [
                c
                for c, p in self.path.items()
                if c.startswith(prefix) and self.kind[c] == "official" and not p.startswith(self.path[city])
            ]
            inside = [c for c in official if not c.startswith(prefix)]
            return CityMembers(prefix, tuple(sorted(inside)), tuple(sorted(elsewhere)))
        return CityMembers(None, tuple(sorted(official)), ())


@lru_cache(maxsize=1)
def _region_index_cached(_key: int) -> RegionIndex:
    return RegionIndex.load()


def region_index() -> RegionIndex:
    """The region snapshot; reloaded when the number of regions changes (tests load them)."""
    Region = apps.get_model("regions", "Region")
    return _region_index_cached(Region.objects.count())


def hukou_outside(scope: str, hukou: str, stay_district: str, regions: RegionIndex) -> bool:
    """Python form of the hukou condition (the oracle for the SQL)."""
    if scope == HukouScope.COUNTY:
        return hukou != stay_district
    if scope == HukouScope.PROVINCE:
        return hukou[:2] != stay_district[:2]
    return not regions.city_members(regions.city_of(stay_district)).contains(hukou)
