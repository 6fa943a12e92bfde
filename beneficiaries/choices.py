from django.db import models
from django.utils.translation import gettext_lazy as _


class Ownership(models.TextChoices):
    STATE = "state", _("国有")
    COLLECTIVE = "collective", _("集体")
    PRIVATE = "private", _("私营/非公")
    INDIVIDUAL = "individual", _("个体工商户")
    FOREIGN = "foreign", _("外资")
    CONSTRUCTION = "construction", _("施工项目")
    OTHER = "other", _("其他")


class EmployerStatus(models.TextChoices):
    PENDING = "pending", _("待审核")
    VERIFIED = "verified", _("已核实")
    RETURNED = "returned", _("已退回")


class Category(models.TextChoices):
    MIGRANT = "migrant", _("外来务工人员")
    HARDSHIP = "hardship", _("困难群众")
    UNEMPLOYED = "unemployed", _("失业人员")


class PayoutChoice(models.TextChoices):
    """How the worker chose to receive a rule that offers a choice ("电子红包或现金").
    The values are payment channels (programs.choices.Channel); blank follows the rule."""

    RULE = "", _("按补贴规则")
    RED_PACKET = "red_packet", _("电子红包")
    CASH = "cash", _("现金")
    BANK_CARD = "bank_card", _("银行卡")


class RegistrationStatus(models.TextChoices):
    ACTIVE = "active", _("有效")
    CONFLICT = "conflict", _("重复登记待处理")
    REJECTED = "rejected", _("已驳回")
    WITHDRAWN = "withdrawn", _("已撤销")


class Source(models.TextChoices):
    FORM = "form", _("表单登记")
    IMPORT = "import", _("批量导入")
    DEMO = "demo", _("演示数据")


class Sex(models.TextChoices):
    MALE = "M", _("男")
    FEMALE = "F", _("女")


# The note of a registration saved as a conflict (the person is active with another
# employer in the programme), by the form and by the import alike.
CONFLICT_NOTE = "该人员已由其他单位登记，待区县人社专员核实"
