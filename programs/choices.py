from django.db import models
from django.utils.translation import gettext_lazy as _


class ProgrammeStatus(models.TextChoices):
    DRAFT = "draft", _("筹备中")
    ACTIVE = "active", _("进行中")
    CLOSED = "closed", _("已结束")


class RuleKind(models.TextChoices):
    CASH = "cash", _("现金补贴")
    RED_PACKET = "red_packet", _("红包")
    VOUCHER = "voucher", _("消费券")
    RELIEF = "relief", _("慰问金")
    MONTHLY = "monthly", _("补助金（按月）")
    EMPLOYER_FUNDED = "employer", _("企业自发")


class RuleStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    ACTIVE = "active", _("生效中")
    RETIRED = "retired", _("已停用")
    SUPERSEDED = "superseded", _("已被新版本取代")


class Channel(models.TextChoices):
    BANK_CARD = "bank_card", _("银行卡")
    SOCIAL_SECURITY_CARD = "ss_card", _("社保卡")
    E_VOUCHER = "e_voucher", _("电子消费券")
    # 电子红包: paid by a payment platform's bulk red-packet upload, keyed by the phone.
    RED_PACKET = "red_packet", _("电子红包")
    CASH = "cash", _("现金")
    EMPLOYER = "employer", _("企业自发（不经财政）")


class HukouScope(models.TextChoices):
    COUNTY = "county", _("户籍在本县（区）以外")
    CITY = "city", _("户籍在本市以外")
    PROVINCE = "province", _("户籍在本省以外")


class SurveyStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    SUBMITTED = "submitted", _("已提交")
    APPROVED = "approved", _("市级已审核")
    RETURNED = "returned", _("已退回")
    LOCKED = "locked", _("已锁定")


# The states of a survey report that the dashboards count, that count as filed for the
# period (not overdue), and in which the officer may still edit it.
SURVEY_APPROVED = (SurveyStatus.APPROVED, SurveyStatus.LOCKED)
SURVEY_FILED = (SurveyStatus.SUBMITTED, SurveyStatus.APPROVED, SurveyStatus.LOCKED)
SURVEY_EDITABLE = (SurveyStatus.DRAFT, SurveyStatus.RETURNED)
