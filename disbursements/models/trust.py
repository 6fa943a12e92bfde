"""Tables of public trust: 公示 notices and objections, fraud signals, appeals (申诉).

One domain of their own: what the public sees before money moves, what holds money
back, and what a worker can dispute. The services are in
`disbursements/services/publicity.py`, `fraud.py` and `appeals.py`.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.scopes import scope_q
from beneficiaries.models import Employer, Person, Registration
from disbursements.choices import (
    AppealKind,
    AppealOutcome,
    AppealStatus,
    NoticeLineStatus,
    NoticeStatus,
    ObjectionStatus,
    Severity,
    SignalKind,
    SignalStatus,
)
from disbursements.models.payments import MONEY
from programs.models import Programme
from regions.models import Region
from regions.selectors import NOTHING

# --------------------------------------------------------------------------- settings


class ProgrammeSafeguards(models.Model):
    """A programme's settings for 公示, fraud signals and appeals (one row; defaults when absent)."""

    programme = models.OneToOneField(Programme, models.CASCADE, related_name="safeguards")
    notice_days = models.PositiveSmallIntegerField(_("公示期（工作日）"), default=5)
    shared_account_min = models.PositiveSmallIntegerField(_("同一银行账号人数预警线"), default=3)
    shared_phone_min = models.PositiveSmallIntegerField(_("同一手机号人数预警线"), default=3)
    min_age = models.PositiveSmallIntegerField(_("最低年龄"), default=16)
    max_age = models.PositiveSmallIntegerField(_("最高年龄"), default=75)
    forbid_stacking = models.BooleanField(_("禁止企业自发与政府补贴叠加"), default=False)
    appeal_days = models.PositiveSmallIntegerField(_("申诉办理时限（工作日）"), default=10)

    class Meta:
        verbose_name = _("公示与风控设置")
        verbose_name_plural = _("公示与风控设置")

    def __str__(self):
        return str(self.programme_id)


class PublicityRequirement(models.Model):
    """公示 is required before payment for batches of districts in `region` (and below)."""

    programme = models.ForeignKey(Programme, models.CASCADE, related_name="publicity_requirements")
    region = models.ForeignKey(Region, models.PROTECT, related_name="+", verbose_name=_("需公示的区域"))

    class Meta:
        verbose_name = _("公示要求")
        verbose_name_plural = _("公示要求")
        constraints = [models.UniqueConstraint(fields=["programme", "region"], name="publicity_requirement_unique")]

    def __str__(self):
        return f"{self.programme_id}·{self.region_id}"


# --------------------------------------------------------------------------- 公示


class NoticeQuerySet(models.QuerySet):
    def for_user(self, user):
        return self.filter(scope_q(user, region="district"))

    def public(self):
        return self.filter(status=NoticeStatus.PUBLISHED)


class Notice(models.Model):
    """A 公示: the de-identified list of who is to be paid, public for a review period.

    Made from a built batch (`batch`) or from a district's granted entitlements. The
    lines are a snapshot (a public list must not change under the reader's eyes);
    an upheld objection marks its line withdrawn or corrected and bumps `version`,
    which names the cached PDF.
    """

    programme = models.ForeignKey(Programme, models.PROTECT, related_name="+")
    district = models.ForeignKey(Region, models.PROTECT, related_name="+", verbose_name=_("区县"))
    batch = models.ForeignKey("disbursements.Batch", models.PROTECT, null=True, blank=True, related_name="notices")
    title = models.CharField(_("标题"), max_length=200)
    contact_phone = models.CharField(_("监督电话"), max_length=30)
    starts_on = models.DateField(_("公示开始日期"))
    ends_on = models.DateField(_("公示截止日期"))
    days = models.PositiveSmallIntegerField(_("公示期（工作日）"))
    status = models.CharField(_("状态"), max_length=10, choices=NoticeStatus.choices, default=NoticeStatus.PUBLISHED)
    line_count = models.PositiveIntegerField(_("人数"), default=0)
    total = models.DecimalField(_("金额（元）"), default=Decimal("0"), **MONEY)
    version = models.PositiveIntegerField(default=1)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    objects = NoticeQuerySet.as_manager()

    class Meta:
        ordering = ["-starts_on", "-id"]
        verbose_name = _("公示")
        verbose_name_plural = _("公示")
        constraints = [
            models.CheckConstraint(name="notice_period_ordered", condition=Q(starts_on__lte=models.F("ends_on"))),
            models.CheckConstraint(name="notice_total_nonneg", condition=Q(total__gte=0)),
        ]
        indexes = [models.Index(fields=["status", "district"], name="notice_status_district")]

    def __str__(self):
        return self.title

    def is_open(self, today=None) -> bool:
        today = today or timezone.localdate()
        return self.status == NoticeStatus.PUBLISHED and self.starts_on <= today <= self.ends_on


class NoticeLine(models.Model):
    """One person on a notice: masked name, employer, scheme and amount. Never an ID
    number, a phone or an account: the columns do not exist."""

    notice = models.ForeignKey(Notice, models.CASCADE, related_name="lines")
    seq = models.PositiveIntegerField(_("序号"))
    entitlement = models.ForeignKey("disbursements.Entitlement", models.PROTECT, related_name="+")
    name_masked = models.CharField(_("姓名"), max_length=50)
    employer_name = models.CharField(_("用人单位"), max_length=200)
    scheme = models.CharField(_("补贴项目"), max_length=200)
    amount = models.DecimalField(_("金额（元）"), **MONEY)
    status = models.CharField(max_length=10, choices=NoticeLineStatus.choices, default=NoticeLineStatus.LISTED)

    class Meta:
        ordering = ["notice", "seq"]
        verbose_name = _("公示明细")
        verbose_name_plural = _("公示明细")
        constraints = [
            models.UniqueConstraint(fields=["notice", "seq"], name="notice_line_seq_unique"),
            models.CheckConstraint(name="notice_line_amount_nonneg", condition=Q(amount__gte=0)),
        ]

    def __str__(self):
        return f"{self.notice_id}#{self.seq}"


class ObjectionQuerySet(models.QuerySet):
    def for_user(self, user):
        return self.filter(scope_q(user, region="notice__district"))


class Objection(models.Model):
    """An objection (异议) to a notice, filed by anyone without an account.

    `reason` and `contact` are stored as plain text (control characters removed, length
    capped) and always shown escaped. `source_hash` is a keyed hash of the filer's
    address, kept for abuse review instead of the address itself.
    """

    notice = models.ForeignKey(Notice, models.PROTECT, related_name="objections")
    line = models.ForeignKey(NoticeLine, models.PROTECT, null=True, blank=True, related_name="objections")
    reason = models.TextField(_("异议理由"), max_length=1000)
    contact = models.CharField(_("联系方式"), max_length=100, blank=True)
    status = models.CharField(_("状态"), max_length=10, choices=ObjectionStatus.choices, default=ObjectionStatus.OPEN)
    outcome = models.CharField(_("处理方式"), max_length=12, blank=True)
    resolution = models.CharField(_("处理意见"), max_length=500, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+")
    resolved_at = models.DateTimeField(null=True, blank=True)
    source_hash = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = ObjectionQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("公示异议")
        verbose_name_plural = _("公示异议")
        indexes = [models.Index(fields=["notice", "status"], name="objection_notice_status")]

    def __str__(self):
        return f"{self.notice_id}·{self.pk}"


# --------------------------------------------------------------------------- fraud signals


class FraudSignalQuerySet(models.QuerySet):
    def for_user(self, user):
        """A signal is in scope when its district is, or any of its registrations' is (a
        shared account across two districts is seen by both officers)."""
        own = scope_q(user, region="district")
        if own == NOTHING:
            return self.none()
        members = scope_q(user, region="members__registration__district")
        ids = self.model.objects.filter(own | members).values("pk")
        return self.filter(pk__in=ids)


class FraudSignal(models.Model):
    """One suspicious pattern found by `disbursements.services.fraud.signals_compute`.

    `key` names the pattern within its kind (an account's blind index, a person, an
    employer, a district), so a re-run finds the same row. A high-severity signal
    that is open or confirmed holds its registrations' entitlements out of batches;
    an officer clears it (with a note) or confirms it (the registrations stay held:
    suspended). Every decision writes an audit row.
    """

    programme = models.ForeignKey(Programme, models.CASCADE, related_name="+")
    district = models.ForeignKey(Region, models.PROTECT, related_name="+", verbose_name=_("区县"))
    kind = models.CharField(_("类型"), max_length=24, choices=SignalKind.choices)
    key = models.CharField(max_length=80)
    severity = models.CharField(_("风险等级"), max_length=8, choices=Severity.choices)
    status = models.CharField(_("状态"), max_length=10, choices=SignalStatus.choices, default=SignalStatus.OPEN)
    summary = models.CharField(_("说明"), max_length=300)
    detail = models.JSONField(default=dict, blank=True)
    employer = models.ForeignKey(Employer, models.CASCADE, null=True, blank=True, related_name="+")
    member_count = models.PositiveIntegerField(_("涉及人数"), default=0)
    note = models.CharField(_("核查意见"), max_length=500, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    first_seen = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now)

    objects = FraudSignalQuerySet.as_manager()

    class Meta:
        ordering = ["status", "severity", "-last_seen", "-id"]
        verbose_name = _("风险预警")
        verbose_name_plural = _("风险预警")
        constraints = [models.UniqueConstraint(fields=["programme", "kind", "key"], name="signal_kind_key_unique")]
        indexes = [models.Index(fields=["programme", "status", "district"], name="signal_status_district")]

    def __str__(self):
        return f"{self.get_kind_display()} {self.key}"

    @property
    def holds(self) -> bool:
        return self.severity == Severity.HIGH and self.status in (SignalStatus.OPEN, SignalStatus.CONFIRMED)


class FraudSignalMember(models.Model):
    """A registration behind a signal (the lines a high signal holds back)."""

    signal = models.ForeignKey(FraudSignal, models.CASCADE, related_name="members")
    registration = models.ForeignKey(Registration, models.CASCADE, related_name="+")

    class Meta:
        verbose_name = _("预警涉及登记")
        verbose_name_plural = _("预警涉及登记")
        constraints = [models.UniqueConstraint(fields=["signal", "registration"], name="signal_member_unique")]
        indexes = [models.Index(fields=["registration"], name="signal_member_registration")]


class AccountIndex(models.Model):
    """The blind index (keyed HMAC) of each registration's bank account number, so that
    accounts shared by several workers are found by GROUP BY without decrypting
    anything at query time. Kept up to date by `disbursements.services.fraud` from the
    registrations changed since (`registration_updated_at`)."""

    registration = models.OneToOneField(Registration, models.CASCADE, primary_key=True, related_name="+")
    programme = models.ForeignKey(Programme, models.CASCADE, related_name="+", db_index=False)
    account_hash = models.CharField(max_length=64)
    registration_updated_at = models.DateTimeField()

    class Meta:
        verbose_name = _("银行账号盲索引")
        verbose_name_plural = _("银行账号盲索引")
        indexes = [models.Index(fields=["programme", "account_hash"], name="account_index_prog_hash")]


# --------------------------------------------------------------------------- appeals


class AppealQuerySet(models.QuerySet):
    def for_user(self, user):
        return self.filter(scope_q(user, region="district", employer="employer"))


class Appeal(models.Model):
    """An appeal (申诉) by a worker (from the public lookup, after the identity check) or
    by an employer agent, answered by the district officer within `due_on`.

    The resolution names the fix (`outcome`, and the registration or payment line it
    touched); the worker reads the outcome, masked, on the lookup page.
    """

    programme = models.ForeignKey(Programme, models.PROTECT, related_name="+")
    district = models.ForeignKey(Region, models.PROTECT, related_name="+", verbose_name=_("区县"))
    person = models.ForeignKey(Person, models.PROTECT, null=True, blank=True, related_name="+")
    employer = models.ForeignKey(Employer, models.PROTECT, null=True, blank=True, related_name="+")
    registration = models.ForeignKey(Registration, models.PROTECT, null=True, blank=True, related_name="+")
    line = models.ForeignKey("disbursements.PaymentLine", models.PROTECT, null=True, blank=True, related_name="+")
    kind = models.CharField(_("申诉事项"), max_length=16, choices=AppealKind.choices)
    text = models.TextField(_("申诉内容"), max_length=1000)
    filed_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+")
    filed_by_worker = models.BooleanField(default=False)
    status = models.CharField(_("状态"), max_length=10, choices=AppealStatus.choices, default=AppealStatus.OPEN)
    due_on = models.DateField(_("办理期限"))
    outcome = models.CharField(_("办理结果"), max_length=12, choices=AppealOutcome.choices, blank=True)
    resolution = models.CharField(_("答复意见"), max_length=500, blank=True)
    fix_reference = models.CharField(_("关联处理"), max_length=100, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+")
    resolved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = AppealQuerySet.as_manager()

    class Meta:
        ordering = ["status", "due_on", "id"]
        verbose_name = _("申诉")
        verbose_name_plural = _("申诉")
        indexes = [models.Index(fields=["status", "due_on"], name="appeal_status_due")]

    def __str__(self):
        return f"申诉#{self.pk}"

    def is_overdue(self, today=None) -> bool:
        return self.status == AppealStatus.OPEN and self.due_on < (today or timezone.localdate())
