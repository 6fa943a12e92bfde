from django.db import models
from django.utils.translation import gettext_lazy as _


class Level(models.TextChoices):
    PROVINCE = "province", _("省")
    CITY = "city", _("市")
    DISTRICT = "district", _("区县")


class Kind(models.TextChoices):
    OFFICIAL = "official", _("法定行政区划")
    FUNCTIONAL_ZONE = "zone", _("功能区")
