from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone

from accounts.models import Job
from accounts.scopes import scope_q
from beneficiaries.models import Person, Registration
from disbursements.choices import BatchStatus, EntitlementStatus, LineStatus, VoucherStatus
from programs.choices import Channel
from programs.models import Programme, SubsidyRule
from regions.models import Region

MONEY = {"max_digits": 14, "decimal_places": 2, "validators": [MinValueValidator(Decimal("0"))]}


class EntitlementQuerySet(models.QuerySet):
    def for_user(self, user):
        return self.filter(scope_q(user, region="district", employer="registration__employer"))


class Entitlement(models.Model):
    """What one person is granted by one rule, and why.

    Unique on (person, rule_key): a person gets each rule at most once, whichever
    employer registered them, whichever version of the rule, however often the
    computation runs. `rule` is the version that made it. `reason` keeps the
    condition values that decided the amount.
    """

    programme = models.ForeignKey(Programme, models.PROTECT, related_name="+")
    rule = models.ForeignKey(SubsidyRule, models.PROTECT, related_name="entitlements")
    rule_key = models.CharField(max_length=40)
    person = models.ForeignKey(Person, models.PROTECT, related_name="entitlements")
    registration = models.ForeignKey(Registration, models.PROTECT, related_name="entitlements")
    district = models.ForeignKey(Region, models.PROTECT, related_name="+")
    channel = models.CharField(max_length=12, choices=Channel.choices)
    amount = models.DecimalField("金额（元）", **MONEY)
    status = models.CharField(max_length=10, choices=EntitlementStatus.choices, default=EntitlementStatus.GRANTED)
    reason = models.JSONField(default=dict, blank=True)
    computed_at = models.DateTimeField(default=timezone.now)

    objects = EntitlementQuerySet.as_manager()

    class Meta:
        verbose_name = "补贴核定"
        verbose_name_plural = "补贴核定"
        constraints = [
            models.UniqueConstraint(fields=["programme", "person", "rule_key"], name="entitlement_person_rule_unique"),
            models.CheckConstraint(name="entitlement_amount_nonneg", condition=models.Q(amount__gte=0)),
        ]
        indexes = [models.Index(fields=["programme", "district", "channel", "status"], name="entitlement_batching")]

    def __str__(self):
        return f"{self.person_id}·{self.rule_key} ¥{self.amount}"


class BatchQuerySet(models.QuerySet):
    def for_user(self, user):
        return self.filter(scope_q(user, region="district"))


class Batch(models.Model):
    """A disbursement batch (发放批次): one district × payment channel of a programme.

    Moves draft → submitted → reviewed → approved → exported → reconciled, each step
    by a different user (maker-checker). An approved batch is frozen: its lines keep a
    snapshot and `content_hash` covers them. A supplementary batch (补发) has `parent`.
    """

    programme = models.ForeignKey(Programme, models.PROTECT, related_name="batches")
    district = models.ForeignKey(Region, models.PROTECT, related_name="+")
    channel = models.CharField(max_length=12, choices=Channel.choices)
    number = models.CharField("批次号", max_length=40, unique=True)
    parent = models.ForeignKey("self", models.PROTECT, null=True, blank=True, related_name="supplements")
    status = models.CharField(max_length=12, choices=BatchStatus.choices, default=BatchStatus.DRAFT)
    line_count = models.PositiveIntegerField("笔数", default=0)
    total = models.DecimalField("金额（元）", default=Decimal("0"), **MONEY)
    content_hash = models.CharField(max_length=64, blank=True)
    file_checksum = models.CharField(max_length=64, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+")
    submitted_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+")
    reviewed_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+")
    approved_at = models.DateTimeField(null=True, blank=True)
    build_job = models.ForeignKey(Job, models.SET_NULL, null=True, blank=True, related_name="+")

    objects = BatchQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "发放批次"
        verbose_name_plural = "发放批次"
        constraints = [models.CheckConstraint(name="batch_total_nonneg", condition=models.Q(total__gte=0))]

    def __str__(self):
        return self.number


class PaymentLine(models.Model):
    """One payment of one entitlement in one batch, with the snapshot it is paid on.

    At most one line per entitlement is pending or paid (a partial unique index): a
    failed line may be re-issued in a supplementary batch, nothing is paid twice.
    """

    batch = models.ForeignKey(Batch, models.PROTECT, related_name="lines")
    entitlement = models.ForeignKey(Entitlement, models.PROTECT, related_name="lines")
    seq = models.PositiveIntegerField("序号")
    amount = models.DecimalField("金额（元）", **MONEY)
    name = models.CharField("姓名", max_length=50)
    id_cipher = models.TextField()
    id_masked = models.CharField(max_length=18)
    account_cipher = models.TextField(blank=True)
    account_masked = models.CharField(max_length=30, blank=True)
    bank_name = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=10, choices=LineStatus.choices, default=LineStatus.PENDING)
    bank_reference = models.CharField(max_length=60, blank=True)
    failure_reason = models.CharField(max_length=200, blank=True)
    reissue_of = models.ForeignKey("self", models.PROTECT, null=True, blank=True, related_name="reissues")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["batch", "seq"]
        verbose_name = "发放明细"
        verbose_name_plural = "发放明细"
        constraints = [
            models.UniqueConstraint(fields=["batch", "seq"], name="line_batch_seq_unique"),
            models.UniqueConstraint(
                fields=["entitlement"],
                condition=models.Q(status__in=["pending", "paid"]),
                name="line_entitlement_paid_once",
            ),
            models.CheckConstraint(name="line_amount_nonneg", condition=models.Q(amount__gte=0)),
        ]

    def __str__(self):
        return f"{self.batch_id}#{self.seq}"


class Voucher(models.Model):
    """An electronic consumption voucher (消费券) issued for a voucher entitlement."""

    entitlement = models.OneToOneField(Entitlement, models.PROTECT, related_name="voucher")
    code = models.CharField("券码", max_length=24, unique=True)
    face_value = models.DecimalField("面值（元）", **MONEY)
    expires_on = models.DateField("有效期至")
    status = models.CharField(max_length=10, choices=VoucherStatus.choices, default=VoucherStatus.ISSUED)
    issued_at = models.DateTimeField(default=timezone.now)
    redeemed_at = models.DateTimeField(null=True, blank=True)
    merchant = models.CharField("核销商户", max_length=200, blank=True)

    class Meta:
        verbose_name = "消费券"
        verbose_name_plural = "消费券"

    def __str__(self):
        return self.code
