from django.db import models


class Level(models.TextChoices):
    PROVINCE = "province", "省"
    CITY = "city", "市"
    DISTRICT = "district", "区县"


class Kind(models.TextChoices):
    OFFICIAL = "official", "法定行政区划"
    FUNCTIONAL_ZONE = "zone", "功能区"
