"""The 公示 box on a batch page: its notices, whether one is required, what blocks submission."""

from django import template

from disbursements.services import publicity
from disbursements.services.fraud import open_signals_by_district_cached
from disbursements.services.safeguards import safeguards_for

register = template.Library()


@register.inclusion_tag("disbursements/gongshi/_batch_notice.html", takes_context=True)
def batch_publicity(context, batch):
    user = context["request"].user
    notices = list(publicity.notices_covering(batch).order_by("-created_at")) + list(
        batch.notices.exclude(status="published").order_by("-created_at")
    )
    return {
        "batch": batch,
        "notices": notices,
        "required": publicity.publicity_required(programme=batch.programme, district=batch.district),
        "block": publicity.batch_submission_block(batch) if batch.status == "draft" else None,
        # One notice at a time: while one runs, the form would only be refused.
        "can_publish": batch.status == "draft"
        and publicity._may_publish(user, batch.district)
        and not any(n.status == "published" and n.is_open() for n in notices),
        "default_days": safeguards_for(batch.programme).notice_days,
        "csrf_token": context.get("csrf_token"),
    }


@register.inclusion_tag("disbursements/signals/_dashboard.html", takes_context=True)
def open_signals(context, programme, region):
    """The dashboard's count of open fraud signals by district, within the region shown."""
    return {"rows": open_signals_by_district_cached(context["request"].user, programme, region=region)}
