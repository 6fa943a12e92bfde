from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class EntitlementStatus(models.TextChoices):
    GRANTED = "granted", _("已核定")
    WITHDRAWN = "withdrawn", _("已撤销")
    REVIEW = "review", _("待复核")


class EntitlementKind(models.TextChoices):
    # base: what a rule grants; topup (补差): what a raised rule adds on top of money
    # already paid or on its way; adjustment (追回): a negative amount recorded when an
    # officer decides to recover an overpayment (多发) — the paid line is never edited.
    BASE = "base", _("核定")
    TOPUP = "topup", _("补差")
    ADJUSTMENT = "adjustment", _("追回")


class OverpaymentStatus(models.TextChoices):
    OPEN = "open", _("待核查")
    KEPT = "kept", _("不予追回")
    RECOVERED = "recovered", _("追回")
    CLEARED = "cleared", _("已自动解除")


class BatchStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    SUBMITTED = "submitted", _("区县已提交")
    REVIEWED = "reviewed", _("市级已复核")
    APPROVED = "approved", _("省级已审批")
    EXPORTED = "exported", _("已导出")
    RECONCILED = "reconciled", _("已对账")


class LineStatus(models.TextChoices):
    PENDING = "pending", _("待发放")
    PAID = "paid", _("已发放")
    FAILED = "failed", _("发放失败")


class VoucherStatus(models.TextChoices):
    ISSUED = "issued", pgettext_lazy("voucher", "已发放")
    REDEEMED = "redeemed", _("已核销")
    EXPIRED = "expired", _("已过期")


# What a red-packet line names in place of a bank (its account is the phone number).
RED_PACKET_PAYEE = "电子红包（手机号）"
