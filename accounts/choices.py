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
