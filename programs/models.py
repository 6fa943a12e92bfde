from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.scopes import scope_q
from programs.choices import Channel, ProgrammeStatus, RuleKind, RuleStatus, SurveyStatus
from regions.models import Region

MONEY = {"max_digits": 14, "decimal_places": 2, "validators": [MinValueValidator(Decimal("0"))]}


class Programme(models.Model):
    """One relief programme, e.g. HEBEI-2021 (2021-01-21 → 2021-03-31)."""

    code = models.SlugField(_("项目代码"), max_length=40, unique=True)
    name = models.CharField(_("项目名称"), max_length=200)
    region = models.ForeignKey(Region, models.PROTECT, related_name="+", verbose_name=_("实施区域"))
    start_date = models.DateField(_("开始日期"))
    end_date = models.DateField(_("结束日期"))
    holiday_start = models.DateField(_("春节假期开始"))
    holiday_end = models.DateField(_("春节假期结束"))
    registration_deadline = models.DateField(_("登记截止日期"))
    budget = models.DecimalField(_("预算（元）"), default=Decimal("0"), **MONEY)
    status = models.CharField(_("状态"), max_length=10, choices=ProgrammeStatus.choices, default=ProgrammeStatus.ACTIVE)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-start_date", "code"]
        verbose_name = _("项目")
        verbose_name_plural = _("项目")
        constraints = [
            models.CheckConstraint(
                name="programme_dates_ordered", condition=models.Q(start_date__lte=models.F("end_date"))
            ),
            models.CheckConstraint(
                name="programme_holiday_ordered", condition=models.Q(holiday_start__lte=models.F("holiday_end"))
            ),
            models.CheckConstraint(name="programme_budget_nonneg", condition=models.Q(budget__gte=0)),
        ]

    def __str__(self):
        return self.name


class SubsidyRuleQuerySet(models.QuerySet):
    def for_user(self, user):
        """Staff see rules whose region is in their subtree, and the rules above them
        that cover their region (a district officer sees the province's rules)."""
        if user.is_authenticated and user.region_id and not user.is_superuser:
            ancestors = [user.region.path[: i + 7] for i in range(0, len(user.region.path), 7)]
            return self.filter(scope_q(user, region="region") | models.Q(region__path__in=ancestors))
        return self.filter(scope_q(user, region="region"))


class SubsidyRule(models.Model):
    """One scheme of a programme as data: who qualifies, for how much, paid how.

    A rule that has produced entitlements is never edited in place: editing makes a new
    version with the same `rule_key`, and each entitlement keeps the version that made it.
    `conditions` is structured data compiled to a query filter by `programs.rules`:
        hukou_outside: "county" | "city" | "province" (relative to the stay region)
        ownership_in: [Ownership values]      category_in: [Category values]
        on_duty_min_days: int                 stayed_through_holiday: bool
        employer_verified: bool (default true) employer_codes: [credit codes]
    `tiers` (seniority) is [{"min_years": 0, "amount": "200.00"}, …]; `months` multiplies
    `amount` for monthly allowances (补助金).
    """

    programme = models.ForeignKey(Programme, models.PROTECT, related_name="rules")
    rule_key = models.CharField(_("规则编号"), max_length=40, db_index=True)
    version = models.PositiveIntegerField(_("版本"), default=1)
    name = models.CharField(_("规则名称"), max_length=200)
    region = models.ForeignKey(Region, models.PROTECT, related_name="+", verbose_name=_("适用区域"))
    kind = models.CharField(_("类型"), max_length=12, choices=RuleKind.choices)
    amount = models.DecimalField(_("金额（元）"), null=True, blank=True, **MONEY)
    tiers = models.JSONField(_("工龄档次"), default=list, blank=True)
    months = models.PositiveSmallIntegerField(_("发放月数"), default=1)
    channel = models.CharField(_("发放渠道"), max_length=12, choices=Channel.choices, default=Channel.BANK_CARD)
    # "800元的电子红包或现金补贴": a second channel the worker (or their employer) may
    # choose on the registration instead of `channel`; blank when there is no choice.
    alt_channel = models.CharField(
        _("可选发放渠道"), max_length=12, choices=Channel.choices, blank=True, default="", db_default=""
    )
    conditions = models.JSONField(_("条件"), default=dict, blank=True)
    valid_until = models.DateField(_("有效期至"), null=True, blank=True)
    budget_cap = models.DecimalField(_("预算上限（元）"), null=True, blank=True, **MONEY)
    exclusivity_group = models.CharField(_("互斥组"), max_length=40, blank=True)
    priority = models.IntegerField(_("优先级"), default=100)
    status = models.CharField(_("状态"), max_length=12, choices=RuleStatus.choices, default=RuleStatus.DRAFT)
    description = models.TextField(_("政策依据"), blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    activated_at = models.DateTimeField(null=True, blank=True)

    objects = SubsidyRuleQuerySet.as_manager()

    class Meta:
        ordering = ["programme", "priority", "rule_key", "-version"]
        verbose_name = _("补贴规则")
        verbose_name_plural = _("补贴规则")
        constraints = [
            models.UniqueConstraint(fields=["programme", "rule_key", "version"], name="rule_key_version_unique"),
            models.UniqueConstraint(
                fields=["programme", "rule_key"],
                condition=models.Q(status="active"),
                name="rule_one_active_version",
            ),
            models.CheckConstraint(
                name="rule_amount_nonneg", condition=models.Q(amount__gte=0) | models.Q(amount__isnull=True)
            ),
            models.CheckConstraint(
                name="rule_cap_nonneg", condition=models.Q(budget_cap__gte=0) | models.Q(budget_cap__isnull=True)
            ),
        ]

    def __str__(self):
        return f"{self.name} v{self.version}"

    @property
    def paid_by_programme(self) -> bool:
        return self.kind != RuleKind.EMPLOYER_FUNDED


class SurveyReportQuerySet(models.QuerySet):
    def for_user(self, user):
        return self.filter(scope_q(user, region="district"))


class SurveyReport(models.Model):
    """A district's survey counts (摸排) as of one date, reviewed by the city."""

    programme = models.ForeignKey(Programme, models.PROTECT, related_name="surveys")
    district = models.ForeignKey(Region, models.PROTECT, related_name="+", verbose_name=_("区县"))
    as_of = models.DateField(_("统计截止日期"))
    enterprises_surveyed = models.PositiveIntegerField(_("摸排企业数"), default=0)
    outside_workers = models.PositiveIntegerField(_("外地务工人员"), default=0)
    outside_other_province = models.PositiveIntegerField(_("其中：外省"), default=0)
    outside_other_city = models.PositiveIntegerField(_("其中：省内外市"), default=0)
    outside_other_county = models.PositiveIntegerField(_("其中：市内外县"), default=0)
    staying = models.PositiveIntegerField(_("留岗（就地过年）人数"), default=0)
    staying_on_duty = models.PositiveIntegerField(_("其中：春节在岗"), default=0)
    staying_local = models.PositiveIntegerField(_("其中：本地户籍"), default=0)
    staying_nonlocal = models.PositiveIntegerField(_("其中：非本地户籍"), default=0)
    poverty_staying = models.PositiveIntegerField(_("贫困劳动力就地过年"), default=0)
    enterprises_with_benefits = models.PositiveIntegerField(_("自发福利企业数"), default=0)
    benefits_amount = models.DecimalField(_("企业自发福利金额（元）"), default=Decimal("0"), **MONEY)
    status = models.CharField(_("状态"), max_length=10, choices=SurveyStatus.choices, default=SurveyStatus.DRAFT)
    return_reason = models.CharField(_("退回原因"), max_length=500, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+")
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+")
    submitted_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+")
    approved_at = models.DateTimeField(null=True, blank=True)
    # Review chain (programs.surveys.services): who returned or locked it, and whether the officer
    # confirmed a jump of more than SURVEY_JUMP_FACTOR from the previous report.
    returned_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+")
    returned_at = models.DateTimeField(null=True, blank=True)
    locked_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+")
    locked_at = models.DateTimeField(null=True, blank=True)
    jump_confirmed = models.BooleanField(_("已确认数据大幅变化"), default=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = SurveyReportQuerySet.as_manager()

    class Meta:
        ordering = ["-as_of", "district"]
        verbose_name = _("摸排报表")
        verbose_name_plural = _("摸排报表")
        constraints = [
            models.UniqueConstraint(fields=["programme", "district", "as_of"], name="survey_one_per_date"),
            models.CheckConstraint(
                name="survey_staying_le_parts", condition=models.Q(staying_on_duty__lte=models.F("staying"))
            ),
            # No part exceeds its whole (programs.surveys.validate checks the same with a message per field).
            models.CheckConstraint(
                name="survey_origins_le_outside",
                condition=models.Q(
                    outside_workers__gte=models.F("outside_other_province")
                    + models.F("outside_other_city")
                    + models.F("outside_other_county")
                ),
            ),
            models.CheckConstraint(
                name="survey_hukou_le_staying",
                condition=models.Q(staying__gte=models.F("staying_local") + models.F("staying_nonlocal")),
            ),
            models.CheckConstraint(
                name="survey_poverty_le_staying", condition=models.Q(poverty_staying__lte=models.F("staying"))
            ),
            models.CheckConstraint(
                name="survey_benefit_firms_le_surveyed",
                condition=models.Q(enterprises_with_benefits__lte=models.F("enterprises_surveyed")),
            ),
            models.CheckConstraint(name="survey_benefits_nonneg", condition=models.Q(benefits_amount__gte=0)),
        ]
        indexes = [models.Index(fields=["programme", "status", "as_of"], name="survey_prog_status_asof")]

    def __str__(self):
        return f"{self.district} {self.as_of}"
