"""The texts of the outbox's messages: one Chinese template per (event, channel, variant),
shown in the page's language from the catalogue.

A module of its own, below both the model and the notification service: `Notification.text`
renders through it, and the service (which imports the model) renders the stored body
through it too, so neither imports the other to get a text.
"""

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.choices import NotificationChannel, NotificationEvent

E, C = NotificationEvent, NotificationChannel

# (event, channel, variant) → template. Chinese first; English in locale/en.
TEMPLATES = {
    (E.PAYMENT_PAID, C.SMS, ""): _(
        "【稳岗留工】%(name)s您好，您的%(scheme)s %(amount)s 元已发放至您登记的账户，请注意查收。"
    ),
    (E.PAYMENT_FAILED, C.SMS, ""): _(
        "【稳岗留工】%(name)s您好，您的%(scheme)s %(amount)s 元发放未成功（%(reason)s），请联系用人单位核对银行账户。"
    ),
    (E.PAYMENT_PAID, C.IN_APP, ""): _("批次 %(batch)s：本单位 %(count)s 人的补贴已发放，合计 %(amount)s 元。"),
    (E.PAYMENT_FAILED, C.IN_APP, ""): _(
        "%(name)s 的%(scheme)s %(amount)s 元发放失败（%(reason)s）：请核对并更正其银行账户，更正后将在补发批次中发放。"
    ),
    (E.BATCH_RESULTS, C.IN_APP, ""): _(
        "批次 %(batch)s 银行结果已导入：成功 %(paid)s 笔，失败 %(failed)s 笔，待定 %(pending)s 笔。"
    ),
    (E.EMPLOYER_RETURNED, C.IN_APP, ""): _("单位“%(employer)s”被区县人社部门退回修改：%(reason)s"),
    (E.SURVEY_OVERDUE, C.IN_APP, ""): _(
        "%(district)s 截至 %(period_end)s 的摸排报表已逾期 %(days)s 天（截止 %(deadline)s），请尽快填报。"
    ),
    (E.BATCH_WAITING, C.IN_APP, "submitted"): _(
        "发放批次 %(batch)s（%(district)s，%(count)s 笔，%(amount)s 元）已由区县提交，等待您复核。"
    ),
    (E.BATCH_WAITING, C.IN_APP, "reviewed"): _(
        "发放批次 %(batch)s（%(district)s，%(count)s 笔，%(amount)s 元）已由市级复核，等待您审批。"
    ),
    (E.BATCH_RETURNED, C.IN_APP, ""): _("发放批次 %(batch)s（%(district)s）被退回：%(reason)s"),
    (E.APPEAL_FILED, C.IN_APP, ""): _("%(district)s 收到关于 %(name)s 的申诉（%(kind)s），请在 %(due)s 前处理。"),
    (E.OBJECTION_FILED, C.IN_APP, ""): _("公示“%(notice)s”收到一条异议，请核查处理。"),
}


def _template(event: str, channel: str, params: dict):
    return TEMPLATES.get((event, channel, params.get("variant", ""))) or TEMPLATES.get((event, channel, ""))


def render_text(event: str, channel: str, params: dict, *, fallback: str = "") -> str:
    """The message in the active language; the stored Chinese text if the template is gone."""
    template = _template(event, channel, params)
    if template is None:
        return fallback
    values = dict(params)
    for name in ("scheme", "kind", "reason"):  # labels kept as msgids are translated too
        if isinstance(values.get(name), str) and values[name]:
            values[name] = gettext(values[name])
    try:
        return str(template) % values
    except (KeyError, TypeError, ValueError):
        return fallback
