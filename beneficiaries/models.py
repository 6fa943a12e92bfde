from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Job
from accounts.scopes import scope_q
from beneficiaries.choices import Category, EmployerStatus, Ownership, PayoutChoice, RegistrationStatus, Sex, Source
from programs.models import Programme
from regions.models import Region


class EmployerQuerySet(models.QuerySet):
    def for_user(self, user):
        return self.filter(scope_q(user, region="district", employer=""))


class Employer(models.Model):
    """An employer that registers stay-behind staff. Its staff count only once a
    district officer has verified it."""

    credit_code = models.CharField(_("统一社会信用代码"), max_length=18, unique=True)
    name = models.CharField(_("单位名称"), max_length=200)
    ownership = models.CharField(_("经济类型"), max_length=12, choices=Ownership.choices)
    district = models.ForeignKey(Region, models.PROTECT, related_name="+", verbose_name=_("所在区县"))
    industry = models.CharField(_("行业"), max_length=100, blank=True)
    address = models.CharField(_("地址"), max_length=200, blank=True)
    contact_name = models.CharField(_("联系人"), max_length=50, blank=True)
    contact_phone = models.CharField(_("联系电话"), max_length=20, blank=True)
    status = models.CharField(_("状态"), max_length=10, choices=EmployerStatus.choices, default=EmployerStatus.PENDING)
    return_reason = models.CharField(_("退回原因"), max_length=500, blank=True)
    verified_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+")
    verified_at = models.DateTimeField(null=True, blank=True)
    agents = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="employers", verbose_name=_("经办人")
    )
    created_at = models.DateTimeField(default=timezone.now)

    objects = EmployerQuerySet.as_manager()

    class Meta:
        ordering = ["district", "name"]
        verbose_name = _("用人单位")
        verbose_name_plural = _("用人单位")
        indexes = [models.Index(fields=["district", "status"], name="employer_district_status")]

    def __str__(self):
        return self.name


class Person(models.Model):
    """One human, unique in the province by ID number.

    The ID number is stored encrypted (`id_cipher`), found by its keyed hash
    (`id_hash`, the blind index) and shown as `id_masked`; the phone number likewise
    (`phone_cipher`, `phone_hash`, `phone_masked`, and `phone_tail` for the lookup). Sex, birth date and the
    hukou region are derived from it (or given) and kept in the clear for rules and
    statistics. `hukou_code` is the *current* code the address counts as (an
    abolished code is mapped to its successor), `hukou_code_raw` the one in the number.
    """

    # Unique through Meta.constraints, not unique=True: that would add a second,
    # LIKE-pattern index that no query uses and every import row pays for.
    id_hash = models.CharField(max_length=64)
    id_cipher = models.TextField()
    id_masked = models.CharField(_("证件号码"), max_length=18)
    name = models.CharField(_("姓名"), max_length=50)
    sex = models.CharField(_("性别"), max_length=1, choices=Sex.choices, blank=True)
    birth_date = models.DateField(_("出生日期"), null=True, blank=True)
    hukou_code_raw = models.CharField(_("证件地址码"), max_length=6, blank=True)
    hukou_code = models.CharField(_("户籍地区代码"), max_length=6)
    # The phone number, like the ID number: encrypted, found by its blind index (no
    # database index: exact search is rare, and every imported row would pay for one),
    # shown masked; its last four digits, which the public lookup asks for, only as a
    # keyed digest bound to the person (beneficiaries.pii.phone_tail_digest).
    # (A database default too: raw bulk inserts that name no phone columns still work.)
    phone_cipher = models.TextField(blank=True, db_default="")
    phone_hash = models.CharField(max_length=64, blank=True, db_default="")
    phone_tail = models.CharField(max_length=64, blank=True, db_default="")
    phone_masked = models.CharField(_("手机号"), max_length=11, blank=True, db_default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("人员")
        verbose_name_plural = _("人员")
        constraints = [models.UniqueConstraint(fields=["id_hash"], name="person_id_hash_unique")]

    def __str__(self):
        return f"{self.name} {self.id_masked}"


class RegistrationQuerySet(models.QuerySet):
    def for_user(self, user):
        return self.filter(scope_q(user, region="district", employer="employer"))


# What a registration says of the stay and the payment, in the order every form, file and
# serializer lists them (the admin, the API, the importer's clean rows, the service).
REGISTRATION_STAY_FIELDS = ("start_date", "end_date", "duty_days", "seniority_years", "category", "bank_name")


class Registration(models.Model):
    """A person registered by an employer as staying at work during one programme.

    The same person registered by two employers is a conflict that a district officer
    resolves: at most one registration per person and programme is active (a partial
    unique index), so nobody is paid twice.
    """

    # Lean indexes: each one costs every imported row (PERFORMANCE.md). person and
    # programme lead the unique and batching indexes below, so they need none of their own.
    person = models.ForeignKey(Person, models.PROTECT, related_name="registrations", db_index=False)
    programme = models.ForeignKey(Programme, models.PROTECT, related_name="registrations", db_index=False)
    employer = models.ForeignKey(Employer, models.PROTECT, related_name="registrations")
    district = models.ForeignKey(Region, models.PROTECT, related_name="+", verbose_name=_("留岗地区"), db_index=False)
    start_date = models.DateField(_("留岗开始日期"))
    end_date = models.DateField(_("留岗结束日期"))
    duty_days = models.PositiveSmallIntegerField(_("春节在岗天数"), default=0)
    seniority_years = models.PositiveSmallIntegerField(_("工龄（年）"), default=0)
    category = models.CharField(_("人员类别"), max_length=12, choices=Category.choices, default=Category.MIGRANT)
    bank_name = models.CharField(_("开户银行"), max_length=100, blank=True)
    account_cipher = models.TextField(blank=True)
    account_masked = models.CharField(_("银行账号"), max_length=30, blank=True)
    # The worker's (or their employer's) choice where a rule offers one (its alt_channel):
    # a rule pays through it when it is the rule's channel or alternative, else ignores it.
    payout_choice = models.CharField(
        _("领取方式"), max_length=12, choices=PayoutChoice.choices, blank=True, default="", db_default=""
    )
    status = models.CharField(
        _("状态"), max_length=10, choices=RegistrationStatus.choices, default=RegistrationStatus.ACTIVE
    )
    status_note = models.CharField(_("处理说明"), max_length=500, blank=True)
    source = models.CharField(_("来源"), max_length=10, choices=Source.choices, default=Source.FORM)
    import_job = models.ForeignKey(Job, models.SET_NULL, null=True, blank=True, related_name="+", db_index=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = RegistrationQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        verbose_name = _("留岗登记")
        verbose_name_plural = _("留岗登记")
        constraints = [
            models.UniqueConstraint(fields=["person", "programme", "employer"], name="registration_unique"),
            models.UniqueConstraint(
                fields=["person", "programme"],
                condition=models.Q(status="active"),
                name="registration_one_active_per_programme",
            ),
            models.CheckConstraint(
                name="registration_dates_ordered", condition=models.Q(start_date__lte=models.F("end_date"))
            ),
        ]
        indexes = [
            models.Index(fields=["programme", "district", "status"], name="registration_prog_district"),
            # A plain b-tree for scoped lists (the FK's own index would add a LIKE-pattern twin).
            models.Index(fields=["district"], name="registration_district"),
        ]

    def __str__(self):
        return f"{self.person} @ {self.employer}"
