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


class NoticeStatus(models.TextChoices):
    PUBLISHED = "published", _("已发布")
    WITHDRAWN = "withdrawn", _("已撤回")


class NoticeLineStatus(models.TextChoices):
    LISTED = "listed", _("公示中")
    WITHDRAWN = "withdrawn", _("已撤销")
    CORRECTED = "corrected", _("已更正")


class ObjectionStatus(models.TextChoices):
    OPEN = "open", _("待处理")
    UPHELD = "upheld", _("异议成立")
    DISMISSED = "dismissed", _("异议不成立")


class SignalKind(models.TextChoices):
    SHARED_ACCOUNT = "shared_account", _("多人共用银行账号")
    SHARED_PHONE = "shared_phone", _("多人共用手机号")
    EMPLOYER_OVER_SURVEY = "employer_over_survey", _("单位登记人数超过所在区县摸排数")
    DISTRICT_OVER_SURVEY = "district_over_survey", _("区县登记人数超过摸排留岗数")
    OVERLAPPING_STAYS = "overlapping_stays", _("同一人在两个区县留岗期间重叠")
    IMPLAUSIBLE_AGE = "implausible_age", _("年龄异常")
    LATE_REGISTRATION = "late_registration", _("登记截止后登记")
    STACKING = "stacking", _("企业自发与政府补贴叠加")


class Severity(models.TextChoices):
    HIGH = "high", _("高")
    MEDIUM = "medium", _("中")
    LOW = "low", _("低")


class SignalStatus(models.TextChoices):
    OPEN = "open", _("待核查")
    CLEARED = "cleared", _("已排除")
    CONFIRMED = "confirmed", _("已确认（暂停登记）")
    GONE = "gone", _("已消失")


class AppealKind(models.TextChoices):
    NOT_PAID = "not_paid", _("未收到补贴")
    WRONG_AMOUNT = "wrong_amount", _("金额不对")
    NOT_REGISTERED = "not_registered", _("用人单位未为我登记")
    REJECTED = "rejected", _("登记被驳回")
    PAYMENT_FAILED = "payment_failed", _("发放失败")
    OTHER = "other", _("其他")


class AppealStatus(models.TextChoices):
    OPEN = "open", _("办理中")
    RESOLVED = "resolved", _("已办结")


class AppealOutcome(models.TextChoices):
    CORRECTED = "corrected", _("已更正登记")
    REISSUED = "reissued", _("已补发")
    EXPLAINED = "explained", _("不予支持（已说明理由）")


# What a red-packet line names in place of a bank (its account is the phone number).
RED_PACKET_PAYEE = "电子红包（手机号）"
