from django.db import models


class ProgrammeStatus(models.TextChoices):
    DRAFT = "draft", "筹备中"
    ACTIVE = "active", "进行中"
    CLOSED = "closed", "已结束"


class RuleKind(models.TextChoices):
    CASH = "cash", "现金补贴"
    RED_PACKET = "red_packet", "红包"
    VOUCHER = "voucher", "消费券"
    RELIEF = "relief", "慰问金"
    MONTHLY = "monthly", "补助金（按月）"
    EMPLOYER_FUNDED = "employer", "企业自发"


class RuleStatus(models.TextChoices):
    DRAFT = "draft", "草稿"
    ACTIVE = "active", "生效中"
    RETIRED = "retired", "已停用"
    SUPERSEDED = "superseded", "已被新版本取代"


class Channel(models.TextChoices):
    BANK_CARD = "bank_card", "银行卡"
    SOCIAL_SECURITY_CARD = "ss_card", "社保卡"
    E_VOUCHER = "e_voucher", "电子消费券"
    CASH = "cash", "现金"
    EMPLOYER = "employer", "企业自发（不经财政）"


class HukouScope(models.TextChoices):
    COUNTY = "county", "户籍在本县（区）以外"
    CITY = "city", "户籍在本市以外"
    PROVINCE = "province", "户籍在本省以外"


class SurveyStatus(models.TextChoices):
    DRAFT = "draft", "草稿"
    SUBMITTED = "submitted", "已提交"
    APPROVED = "approved", "市级已审核"
    RETURNED = "returned", "已退回"
    LOCKED = "locked", "已锁定"
