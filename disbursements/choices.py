from django.db import models


class EntitlementStatus(models.TextChoices):
    GRANTED = "granted", "已核定"
    WITHDRAWN = "withdrawn", "已撤销"
    REVIEW = "review", "待复核"


class BatchStatus(models.TextChoices):
    DRAFT = "draft", "草稿"
    SUBMITTED = "submitted", "区县已提交"
    REVIEWED = "reviewed", "市级已复核"
    APPROVED = "approved", "省级已审批"
    EXPORTED = "exported", "已导出"
    RECONCILED = "reconciled", "已对账"


class LineStatus(models.TextChoices):
    PENDING = "pending", "待发放"
    PAID = "paid", "已发放"
    FAILED = "failed", "发放失败"


class VoucherStatus(models.TextChoices):
    ISSUED = "issued", "已发放"
    REDEEMED = "redeemed", "已核销"
    EXPIRED = "expired", "已过期"
