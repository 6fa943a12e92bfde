from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    PROVINCE = "province", _("省级人员")
    CITY = "city", _("市级人员")
    DISTRICT = "district", _("区县人社专员")
    EMPLOYER = "employer", _("企业经办人")
    ADMIN = "admin", _("系统管理员")


class JobState(models.TextChoices):
    QUEUED = "queued", _("排队中")
    RUNNING = "running", _("运行中")
    DONE = "done", _("已完成")
    FAILED = "failed", _("失败")


class JobKind(models.TextChoices):
    DEMO = "demo", _("演示任务")
    IMPORT_EMPLOYERS = "import_employers", _("导入企业")
    IMPORT_WORKERS = "import_workers", _("导入留岗人员")
    COMPUTE = "compute", _("计算补贴")
    BUILD_BATCHES = "build_batches", _("生成发放批次")
    EXPORT_BATCH = "export_batch", _("导出银行文件")
    IMPORT_RESULTS = "import_results", _("导入银行结果")
    ISSUE_VOUCHERS = "issue_vouchers", _("发放消费券")
    IMPORT_REDEMPTIONS = "import_redemptions", _("导入消费券核销")
    REFRESH_ROLLUPS = "refresh_rollups", _("刷新统计")
    COMPUTE_SIGNALS = "compute_signals", _("计算风险预警")
    SEND_SMS = "send_sms", _("发送短信")


class NotificationChannel(models.TextChoices):
    IN_APP = "in_app", _("站内消息")
    SMS = "sms", _("短信")


class NotificationStatus(models.TextChoices):
    """Delivery state of one outbox row. An in-app message is delivered when it is written;
    an SMS waits for the backend (retried with backoff) and ends sent or failed."""

    PENDING = "pending", _("待发送")
    SENT = "sent", _("已发送")
    FAILED = "failed", _("发送失败")


class NotificationEvent(models.TextChoices):
    PAYMENT_PAID = "payment_paid", _("补贴已发放")
    PAYMENT_FAILED = "payment_failed", _("补贴发放失败")
    BATCH_RESULTS = "batch_results", _("银行结果已导入")
    EMPLOYER_RETURNED = "employer_returned", _("单位被退回修改")
    SURVEY_OVERDUE = "survey_overdue", _("摸排报表逾期")
    BATCH_WAITING = "batch_waiting", _("批次待审核")
    BATCH_RETURNED = "batch_returned", _("批次被退回")
    APPEAL_FILED = "appeal_filed", _("收到申诉")
    OBJECTION_FILED = "objection_filed", _("收到公示异议")
