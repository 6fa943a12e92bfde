from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.choices import JobKind, JobState, NotificationChannel, NotificationEvent, NotificationStatus, Role
from accounts.job_messages import job_message
from accounts.notification_texts import render_text
from accounts.scopes import is_admin, scope_q
from regions.models import Region
from regions.selectors import NOTHING


class User(AbstractUser):
    """A portal user with one role and one scope.

    Province, city and district staff are scoped by `region` (the province, a city,
    a district or functional zone). An employer agent's scope is its employer(s):
    `beneficiaries.Employer.agents` points here, because accounts sits below
    beneficiaries and may not import it.
    """

    role = models.CharField(_("角色"), max_length=10, choices=Role.choices, default=Role.EMPLOYER)
    region = models.ForeignKey(
        Region, models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("管辖区域")
    )
    phone = models.CharField(_("手机号"), max_length=20, blank=True)
    can_view_pii = models.BooleanField(
        _("可查看完整证件号和账号"), default=False, help_text=_("查看完整号码时会记录审计日志。")
    )

    objects = UserManager()

    class Meta:
        verbose_name = _("用户")
        verbose_name_plural = _("用户")
        constraints = [
            models.CheckConstraint(
                name="user_staff_role_has_region",
                condition=~models.Q(role__in=["province", "city", "district"]) | models.Q(region__isnull=False),
            )
        ]

    @property
    def is_staff_role(self) -> bool:
        return self.role in (Role.PROVINCE, Role.CITY, Role.DISTRICT)

    @property
    def sees_everything(self) -> bool:
        return is_admin(self)

    @property
    def region_scope_path(self) -> str | None:
        """The region subtree this user may see, as `regions.selectors.regions_q` reads it:
        "" the whole tree (superuser, system administrator), the path of the user's region
        its subtree, None nothing (no region)."""
        if self.sees_everything:
            return ""
        if self.region_id is None:
            return None
        return self.region.path


class Job(models.Model):
    """One long operation run by Celery (import, computation, batch build, export …).

    The row, not the broker, holds the job's state: the page that started it polls
    `/api/v1/jobs/<id>/` for progress, and a task that runs twice finds the row done.
    """

    kind = models.CharField(_("类型"), max_length=30, choices=JobKind.choices)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True)
    state = models.CharField(_("状态"), max_length=10, choices=JobState.choices, default=JobState.QUEUED)
    params = models.JSONField(_("参数"), default=dict, blank=True)
    progress_done = models.PositiveBigIntegerField(default=0)
    progress_total = models.PositiveBigIntegerField(default=0)
    message = models.CharField(_("说明"), max_length=500, blank=True)
    errors = models.JSONField(_("错误"), default=list, blank=True)
    result = models.JSONField(_("结果"), default=dict, blank=True)
    result_file = models.FileField(_("结果文件"), upload_to="jobs/%Y/%m/", blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # "<node name>|<worker boot id>|<pid>" of the process that holds a running job: the
    # sweep and a restarted worker tell a dead holder from a live one by it.
    worker = models.CharField(_("处理进程"), max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("后台任务")
        verbose_name_plural = _("后台任务")
        indexes = [models.Index(fields=["state", "kind"], name="job_state_kind")]

    def __str__(self):
        return f"{self.get_kind_display()} #{self.pk}"

    @property
    def percent(self) -> int:
        if self.state == JobState.DONE:
            return 100
        if not self.progress_total:
            return 0
        return min(100, int(self.progress_done * 100 / self.progress_total))

    @property
    def message_text(self) -> str:
        """The message in the page's language (workers store it in Chinese)."""
        return job_message(self.message)

    @property
    def finished(self) -> bool:
        return self.state in (JobState.DONE, JobState.FAILED)


class AuditEntry(models.Model):
    """Who did what to which object, and when. Rows are only ever added.

    Every service that changes a rule, registration, entitlement, batch or payment line
    writes one through `accounts.services.audit.audit_record`; revealing a full ID or account
    number writes one too (action "reveal").
    """

    at = models.DateTimeField(default=timezone.now, db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True)
    action = models.CharField(_("操作"), max_length=40)
    object_type = models.CharField(_("对象类型"), max_length=60)
    object_id = models.CharField(_("对象"), max_length=40)
    changes = models.JSONField(_("变更"), default=dict, blank=True)
    comment = models.CharField(_("备注"), max_length=500, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("审计记录")
        verbose_name_plural = _("审计记录")
        indexes = [models.Index(fields=["object_type", "object_id"], name="audit_object")]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M} {self.action} {self.object_type}#{self.object_id}"


class NotificationQuerySet(models.QuerySet):
    def for_user(self, user):
        """What `user` may read in the outbox: the in-app messages addressed to them and,
        for staff, the SMS sent to workers in their region (an employer agent sees only
        its own messages; the admin sees everything)."""
        if user is None or not user.is_authenticated or not user.is_active:
            return self.filter(NOTHING)
        if user.sees_everything:
            return self
        own = models.Q(channel=NotificationChannel.IN_APP, user=user)
        if user.is_staff_role:
            own |= models.Q(channel=NotificationChannel.SMS) & scope_q(user, region="region")
        return self.filter(own)

    def inbox(self, user):
        """The in-app messages addressed to `user` (the bell and its list)."""
        return self.filter(channel=NotificationChannel.IN_APP, user=user)


class Notification(models.Model):
    """One message in the outbox: what was sent (or is to be sent), to whom, by which
    channel, and its delivery state.

    `key` makes every message idempotent: it names the event, the channel and the
    recipient, so a retried job or a re-imported bank file writes nothing twice. The
    text carries no personal data beyond a masked name; an SMS's number is kept as
    the Person row keeps it (encrypted, and masked for display).
    """

    key = models.CharField(_("事件键"), max_length=200, unique=True)
    event = models.CharField(_("事件"), max_length=30, choices=NotificationEvent.choices)
    channel = models.CharField(_("渠道"), max_length=10, choices=NotificationChannel.choices)
    status = models.CharField(
        _("发送状态"), max_length=10, choices=NotificationStatus.choices, default=NotificationStatus.PENDING
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.CASCADE,
        null=True,
        blank=True,
        related_name="notifications",
        verbose_name=_("接收人"),
    )
    phone_cipher = models.TextField(blank=True)
    phone_masked = models.CharField(_("手机号"), max_length=11, blank=True)
    # The district the event belongs to: officers see the SMS sent in their region by it.
    region = models.ForeignKey(Region, models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("地区"))
    object_type = models.CharField(_("对象类型"), max_length=60, blank=True)
    object_id = models.CharField(_("对象"), max_length=40, blank=True)
    params = models.JSONField(_("参数"), default=dict, blank=True)
    body = models.TextField(_("内容"))
    link = models.CharField(_("链接"), max_length=300, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(_("失败原因"), max_length=300, blank=True)
    # A failed SMS is tried again from then on (backoff); null: due now.
    retry_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(_("时间"), default=timezone.now)
    sent_at = models.DateTimeField(_("发送时间"), null=True, blank=True)
    read_at = models.DateTimeField(_("阅读时间"), null=True, blank=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("通知")
        verbose_name_plural = _("通知")
        indexes = [
            # The bell on every page: a user's unread messages.
            models.Index(
                fields=["user", "created_at"],
                name="notification_unread",
                condition=models.Q(read_at__isnull=True, channel="in_app"),
            ),
            # A user's list; partial, so the SMS rows (a million for a province's bank file) skip it.
            models.Index(fields=["user", "created_at"], name="notification_user", condition=models.Q(channel="in_app")),
            models.Index(fields=["region", "channel", "created_at"], name="notification_region"),
            models.Index(fields=["status", "channel"], name="notification_status"),
        ]

    def __str__(self):
        return f"{self.get_channel_display()} {self.get_event_display()} #{self.pk}"

    @property
    def text(self) -> str:
        """The message in the page's language (written in Chinese; English from the catalogue)."""
        return render_text(self.event, self.channel, self.params, fallback=self.body)
