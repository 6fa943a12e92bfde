from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Job
from accounts.scopes import scope_q
from beneficiaries.models import Person, Registration
from disbursements.choices import (
    BatchStatus,
    EntitlementKind,
    EntitlementStatus,
    LineStatus,
    OverpaymentStatus,
    VoucherStatus,
)
from programs.choices import Channel
from programs.models import Programme, SubsidyRule
from regions.models import Region

MONEY = {"max_digits": 14, "decimal_places": 2, "validators": [MinValueValidator(Decimal("0"))]}


class EntitlementQuerySet(models.QuerySet):
    def for_user(self, user):
        return self.filter(scope_q(user, region="district", employer="registration__employer"))


class Entitlement(models.Model):
    """What one person is granted by one rule, and why.

    Unique on (person, rule_key, kind, part): a person gets each rule at most once
    (one `base` row), whichever employer registered them, whichever version of the
    rule, however often the computation runs. Money already paid or on its way is
    settled: a raised rule adds a `topup` row (补差, part = 1, 2, … in the order they
    settle), a recovery decided on an overpayment (多发) adds an `adjustment` row with a
    negative amount (part = the Overpayment id). `rule` is the version that made the
    row. `reason` keeps the condition values that decided the amount.
    """

    # No index of their own: the unique (programme, person, …) and entitlement_batching
    # (programme, district, …) serve every lookup by programme, and by programme and
    # district; each index more is upkeep on every one of a province's million rows.
    programme = models.ForeignKey(Programme, models.PROTECT, related_name="+", db_index=False)
    rule = models.ForeignKey(SubsidyRule, models.PROTECT, related_name="entitlements")
    rule_key = models.CharField(max_length=40)
    person = models.ForeignKey(Person, models.PROTECT, related_name="entitlements")
    registration = models.ForeignKey(Registration, models.PROTECT, related_name="entitlements")
    district = models.ForeignKey(Region, models.PROTECT, related_name="+", db_index=False)
    channel = models.CharField(max_length=12, choices=Channel.choices)
    # Negative only for kind=adjustment (a recovery), hence no MinValueValidator here.
    amount = models.DecimalField(_("金额（元）"), max_digits=14, decimal_places=2)
    status = models.CharField(max_length=10, choices=EntitlementStatus.choices, default=EntitlementStatus.GRANTED)
    # Database defaults too: set-based INSERTs (the computation, bulk loaders) name only
    # the columns they know.
    kind = models.CharField(
        _("类别"),
        max_length=10,
        choices=EntitlementKind.choices,
        default=EntitlementKind.BASE,
        db_default=EntitlementKind.BASE,
    )
    part = models.PositiveIntegerField(default=0, db_default=0)
    reason = models.JSONField(default=dict, blank=True)
    computed_at = models.DateTimeField(default=timezone.now)

    objects = EntitlementQuerySet.as_manager()

    class Meta:
        verbose_name = _("补贴核定")
        verbose_name_plural = _("补贴核定")
        constraints = [
            models.UniqueConstraint(
                fields=["programme", "person", "rule_key", "kind", "part"], name="entitlement_person_rule_part_unique"
            ),
            # One base row per (person, rule key): "paid at most once per rule key".
            models.UniqueConstraint(
                fields=["programme", "person", "rule_key"],
                condition=models.Q(kind="base"),
                name="entitlement_person_rule_base_unique",
            ),
            models.CheckConstraint(
                name="entitlement_amount_sign",
                condition=(models.Q(amount__gte=0) & ~models.Q(kind="adjustment"))
                | (models.Q(amount__lte=0) & models.Q(kind="adjustment")),
            ),
            models.CheckConstraint(
                name="entitlement_base_part_zero", condition=~models.Q(kind="base") | models.Q(part=0)
            ),
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
    number = models.CharField(_("批次号"), max_length=40, unique=True)
    parent = models.ForeignKey("self", models.PROTECT, null=True, blank=True, related_name="supplements")
    status = models.CharField(max_length=12, choices=BatchStatus.choices, default=BatchStatus.DRAFT)
    line_count = models.PositiveIntegerField(_("笔数"), default=0)
    total = models.DecimalField(_("金额（元）"), default=Decimal("0"), **MONEY)
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
        verbose_name = _("发放批次")
        verbose_name_plural = _("发放批次")
        constraints = [models.CheckConstraint(name="batch_total_nonneg", condition=models.Q(total__gte=0))]

    def __str__(self):
        return self.number


class PaymentLine(models.Model):
    """One payment of one entitlement in one batch, with the snapshot it is paid on.

    At most one line per entitlement is pending or paid (a partial unique index): a
    failed line may be re-issued in a supplementary batch, nothing is paid twice.
    """

    # No index of its own: the unique (batch, seq) serves every lookup by batch.
    batch = models.ForeignKey(Batch, models.PROTECT, related_name="lines", db_index=False)
    entitlement = models.ForeignKey(Entitlement, models.PROTECT, related_name="lines")
    seq = models.PositiveIntegerField(_("序号"))
    amount = models.DecimalField(_("金额（元）"), **MONEY)
    name = models.CharField(_("姓名"), max_length=50)
    id_cipher = models.TextField()
    id_masked = models.CharField(max_length=18)
    account_cipher = models.TextField(blank=True)
    account_masked = models.CharField(max_length=30, blank=True)
    bank_name = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=10, choices=LineStatus.choices, default=LineStatus.PENDING)
    bank_reference = models.CharField(max_length=60, blank=True)
    failure_reason = models.CharField(max_length=200, blank=True)
    # Indexed only where set (line_reissue_of): almost every line is no re-issue.
    reissue_of = models.ForeignKey(
        "self", models.PROTECT, null=True, blank=True, related_name="reissues", db_index=False
    )
    # A failed line whose account was corrected (补发 takes only corrected lines).
    corrected_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["batch", "seq"]
        verbose_name = _("发放明细")
        verbose_name_plural = _("发放明细")
        constraints = [
            models.UniqueConstraint(fields=["batch", "seq"], name="line_batch_seq_unique"),
            models.UniqueConstraint(
                fields=["entitlement"],
                condition=models.Q(status__in=["pending", "paid"]),
                name="line_entitlement_paid_once",
            ),
            models.CheckConstraint(name="line_amount_nonneg", condition=models.Q(amount__gte=0)),
        ]
        indexes = [
            models.Index(fields=["reissue_of"], name="line_reissue_of", condition=models.Q(reissue_of__isnull=False))
        ]

    def __str__(self):
        return f"{self.batch_id}#{self.seq}"

    @property
    def reference(self) -> str:
        """The line's reference in the bank file (备注) and in the bank's result file."""
        return line_reference(self.batch.number, self.seq)


def line_reference(batch_number: str, seq: int) -> str:
    return f"{batch_number}-{seq:07d}"


class BatchStep(models.Model):
    """One step of a batch's approval chain: who, when, at which level, and the comment.

    Maker-checker reads these rows: a user who has acted on a batch at one level
    (district build/submit, city review, province approval) may not act on it at
    another. Returns are steps too, at the level of the user who returned it.
    """

    batch = models.ForeignKey(Batch, models.PROTECT, related_name="steps")
    action = models.CharField(_("操作"), max_length=12)
    level = models.CharField(_("环节"), max_length=10)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)
    from_status = models.CharField(max_length=12, blank=True)
    to_status = models.CharField(max_length=12, blank=True)
    comment = models.CharField(_("意见"), max_length=500, blank=True)

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("批次审批记录")
        verbose_name_plural = _("批次审批记录")

    def __str__(self):
        return f"{self.batch_id} {self.action} {self.user_id}"


class BatchExport(models.Model):
    """A bank file made from an approved batch. The same batch, format and encoding
    always give the same bytes, so `checksum` is stable across re-exports."""

    batch = models.ForeignKey(Batch, models.PROTECT, related_name="exports")
    fmt = models.CharField(_("格式"), max_length=5)
    encoding = models.CharField(_("编码"), max_length=10, blank=True)
    path = models.CharField(max_length=500)
    checksum = models.CharField("SHA-256", max_length=64)
    size = models.PositiveBigIntegerField(default=0)
    line_count = models.PositiveIntegerField(default=0)
    total = models.DecimalField(_("金额（元）"), default=Decimal("0"), **MONEY)
    exported_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+")
    exported_at = models.DateTimeField(default=timezone.now)
    job = models.ForeignKey(Job, models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["-exported_at", "-id"]
        verbose_name = _("银行文件")
        verbose_name_plural = _("银行文件")

    def __str__(self):
        return f"{self.batch_id}.{self.fmt}"


class Voucher(models.Model):
    """An electronic consumption voucher (消费券) issued for a voucher entitlement."""

    entitlement = models.OneToOneField(Entitlement, models.PROTECT, related_name="voucher")
    code = models.CharField(_("券码"), max_length=24, unique=True)
    face_value = models.DecimalField(_("面值（元）"), **MONEY)
    expires_on = models.DateField(_("有效期至"))
    status = models.CharField(max_length=10, choices=VoucherStatus.choices, default=VoucherStatus.ISSUED)
    issued_at = models.DateTimeField(default=timezone.now)
    redeemed_at = models.DateTimeField(null=True, blank=True)
    merchant = models.CharField(_("核销商户"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("消费券")
        verbose_name_plural = _("消费券")

    def __str__(self):
        return self.code


class RegionRollup(models.Model):
    """Dashboard figures of one programme for one region (district, city or the province).

    A summary table, never edited by hand: `disbursements.services.rollups.rollups_refresh`
    rebuilds a programme's rows in one transaction (district rows by GROUP BY over
    registrations, entitlements and payment lines; cities and the province as sums of
    their districts), so the numbers add up across levels and a dashboard reads a few
    rows instead of scanning a million registrations. `refreshed_at` is shown as
    "数据更新于 …". Survey figures are each district's latest approved report.
    """

    programme = models.ForeignKey(Programme, models.CASCADE, related_name="+")
    region = models.ForeignKey(Region, models.CASCADE, related_name="+")
    level = models.CharField(max_length=10)
    path = models.CharField(max_length=40)
    # 摸排 (latest approved/locked report of each district, summed)
    survey_as_of = models.DateField(null=True, blank=True)
    survey_districts = models.PositiveIntegerField(default=0)
    enterprises_surveyed = models.PositiveBigIntegerField(default=0)
    outside_workers = models.PositiveBigIntegerField(default=0)
    outside_other_province = models.PositiveBigIntegerField(default=0)
    outside_other_city = models.PositiveBigIntegerField(default=0)
    outside_other_county = models.PositiveBigIntegerField(default=0)
    staying = models.PositiveBigIntegerField(default=0)
    staying_on_duty = models.PositiveBigIntegerField(default=0)
    staying_local = models.PositiveBigIntegerField(default=0)
    staying_nonlocal = models.PositiveBigIntegerField(default=0)
    poverty_staying = models.PositiveBigIntegerField(default=0)
    enterprises_with_benefits = models.PositiveBigIntegerField(default=0)
    benefits_amount = models.DecimalField(max_digits=16, decimal_places=2, default=Decimal("0"))
    # Registry
    employers = models.PositiveBigIntegerField(default=0)
    employers_verified = models.PositiveBigIntegerField(default=0)
    registered_workers = models.PositiveBigIntegerField(default=0)
    # Money (programme-paid rules; employer-funded ones are counted apart)
    entitled_count = models.PositiveBigIntegerField(default=0)
    entitled_amount = models.DecimalField(max_digits=16, decimal_places=2, default=Decimal("0"))
    employer_funded_count = models.PositiveBigIntegerField(default=0)
    employer_funded_amount = models.DecimalField(max_digits=16, decimal_places=2, default=Decimal("0"))
    batched_count = models.PositiveBigIntegerField(default=0)
    batched_amount = models.DecimalField(max_digits=16, decimal_places=2, default=Decimal("0"))
    pending_count = models.PositiveBigIntegerField(default=0)
    pending_amount = models.DecimalField(max_digits=16, decimal_places=2, default=Decimal("0"))
    paid_count = models.PositiveBigIntegerField(default=0)
    paid_amount = models.DecimalField(max_digits=16, decimal_places=2, default=Decimal("0"))
    failed_count = models.PositiveBigIntegerField(default=0)
    failed_amount = models.DecimalField(max_digits=16, decimal_places=2, default=Decimal("0"))
    # Recoveries decided on overpayments (negative; part of entitled_amount).
    adjusted_amount = models.DecimalField(max_digits=16, decimal_places=2, default=Decimal("0"))
    # People a budget cap turned away (预算已用完) and open overpayments (多发/待核查).
    refused_count = models.PositiveBigIntegerField(default=0)
    refused_amount = models.DecimalField(max_digits=16, decimal_places=2, default=Decimal("0"))
    overpaid_count = models.PositiveBigIntegerField(default=0)
    overpaid_amount = models.DecimalField(max_digits=16, decimal_places=2, default=Decimal("0"))
    refreshed_at = models.DateTimeField()

    class Meta:
        verbose_name = _("看板汇总（区域）")
        verbose_name_plural = _("看板汇总（区域）")
        constraints = [models.UniqueConstraint(fields=["programme", "region"], name="rollup_programme_region")]
        indexes = [models.Index(fields=["programme", "level"], name="rollup_programme_level")]

    def __str__(self):
        return f"{self.programme_id}·{self.region_id}"


class RuleRollup(models.Model):
    """Entitlements and payments of one programme by rule and region (same refresh as RegionRollup)."""

    programme = models.ForeignKey(Programme, models.CASCADE, related_name="+")
    region = models.ForeignKey(Region, models.CASCADE, related_name="+")
    rule_key = models.CharField(max_length=40)
    rule_name = models.CharField(max_length=200, blank=True)
    kind = models.CharField(max_length=12, blank=True)
    entitled_count = models.PositiveBigIntegerField(default=0)
    entitled_amount = models.DecimalField(max_digits=16, decimal_places=2, default=Decimal("0"))
    paid_count = models.PositiveBigIntegerField(default=0)
    paid_amount = models.DecimalField(max_digits=16, decimal_places=2, default=Decimal("0"))
    refreshed_at = models.DateTimeField()

    class Meta:
        verbose_name = _("看板汇总（规则）")
        verbose_name_plural = _("看板汇总（规则）")
        constraints = [
            models.UniqueConstraint(fields=["programme", "region", "rule_key"], name="rulerollup_programme_region_rule")
        ]

    def __str__(self):
        return f"{self.programme_id}·{self.region_id}·{self.rule_key}"


class EntitlementComputeState(models.Model):
    """When a district's entitlements were last computed, and from what.

    `fingerprint` digests the district's registrations and their employers, the
    applicable active rules, and for a budget-capped rule every district it spans. A
    run finding the same fingerprint skips the district: nothing it reads has changed,
    so nothing it would write could. Written in the district's own transaction.
    The row of the programme's own region (never a stay district of a province or
    city programme) holds the whole programme's stamp instead (services.entitlements).
    """

    programme = models.ForeignKey(Programme, models.CASCADE, related_name="+")
    district = models.ForeignKey(Region, models.CASCADE, related_name="+")
    fingerprint = models.CharField(max_length=64)
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("补贴计算状态")
        verbose_name_plural = _("补贴计算状态")
        constraints = [
            models.UniqueConstraint(fields=["programme", "district"], name="entitlement_state_unique"),
        ]

    def __str__(self):
        return f"{self.programme_id}·{self.district_id}"


class OverpaymentQuerySet(models.QuerySet):
    def for_user(self, user):
        return self.filter(scope_q(user, region="district", employer="entitlement__registration__employer"))


class Overpayment(models.Model):
    """多发/待核查: money settled (paid, or on its way in a batch) for a rule key above
    what the rules in force now grant — a lowered amount, or a person who no longer
    qualifies. Nothing is clawed back automatically: the computation lists it, an
    officer of the district decides (keep, or recover with a note). A recovery is an
    `adjustment` Entitlement with the negative difference; the paid line stays as the
    bank paid it. At most one open item per (person, rule key); the computation
    updates it while it is open, and clears it when the rules grant the settled sum
    again.
    """

    programme = models.ForeignKey(Programme, models.PROTECT, related_name="+")
    district = models.ForeignKey(Region, models.PROTECT, related_name="+")
    person = models.ForeignKey(Person, models.PROTECT, related_name="+")
    rule_key = models.CharField(max_length=40)
    entitlement = models.ForeignKey(Entitlement, models.PROTECT, related_name="overpayments")
    paid_rule = models.ForeignKey(SubsidyRule, models.PROTECT, related_name="+")
    new_rule = models.ForeignKey(SubsidyRule, models.PROTECT, null=True, blank=True, related_name="+")
    settled_amount = models.DecimalField(_("已发（含在途）"), max_digits=14, decimal_places=2)
    new_amount = models.DecimalField(_("现行规则金额"), **MONEY)
    amount = models.DecimalField(_("多发金额"), **MONEY)
    reason = models.CharField(_("原因"), max_length=200)
    status = models.CharField(
        _("状态"), max_length=10, choices=OverpaymentStatus.choices, default=OverpaymentStatus.OPEN
    )
    note = models.CharField(_("处理意见"), max_length=500, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    adjustment = models.ForeignKey(Entitlement, models.PROTECT, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = OverpaymentQuerySet.as_manager()

    class Meta:
        ordering = ["district", "-created_at", "-id"]
        verbose_name = _("多发待核查")
        verbose_name_plural = _("多发待核查")
        constraints = [
            models.UniqueConstraint(
                fields=["programme", "person", "rule_key"],
                condition=models.Q(status="open"),
                name="overpayment_one_open",
            ),
            models.CheckConstraint(name="overpayment_amount_pos", condition=models.Q(amount__gt=0)),
        ]
        indexes = [models.Index(fields=["programme", "district", "status"], name="overpayment_district_status")]

    def __str__(self):
        return f"{self.person_id}·{self.rule_key} ¥{self.amount}"


class CapRefusalQuerySet(models.QuerySet):
    def for_user(self, user):
        return self.filter(scope_q(user, region="district", employer="registration__employer"))


class CapRefusal(models.Model):
    """A person who meets a rule but whom its budget cap turned away (预算已用完): of an
    exclusivity group, one who got no rule of it at all. Recorded per (person, rule key)
    of their first choice by every computation of the district (replaced, not edited),
    so raising the cap and recomputing grants them — in the same countable order — and
    removes the row. Never money: counted on the rule page, the preview, the dashboard,
    the registration page and the worker lookup so that nobody is turned away silently.
    """

    programme = models.ForeignKey(Programme, models.CASCADE, related_name="+")
    rule = models.ForeignKey(SubsidyRule, models.CASCADE, related_name="cap_refusals")
    rule_key = models.CharField(max_length=40)
    person = models.ForeignKey(Person, models.CASCADE, related_name="cap_refusals")
    registration = models.ForeignKey(Registration, models.CASCADE, related_name="cap_refusals")
    district = models.ForeignKey(Region, models.PROTECT, related_name="+")
    amount = models.DecimalField(_("应得金额"), **MONEY)
    reason = models.CharField(_("原因"), max_length=100, default="预算已用完")
    computed_at = models.DateTimeField(default=timezone.now)

    objects = CapRefusalQuerySet.as_manager()

    class Meta:
        verbose_name = _("预算不足未发")
        verbose_name_plural = _("预算不足未发")
        constraints = [
            models.UniqueConstraint(fields=["programme", "person", "rule_key"], name="caprefusal_person_rule"),
        ]
        indexes = [models.Index(fields=["programme", "district"], name="caprefusal_district")]

    def __str__(self):
        return f"{self.person_id}·{self.rule_key} 预算已用完"
