"""The public worker self-service page (劳动者查询): no login, CSRF-protected POST, rate
limited per address and per ID number (disbursements.services.selfservice)."""

from django.shortcuts import render
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from disbursements.services.safeguards import RateLimited
from disbursements.services.selfservice import NOT_FOUND
from disbursements.services.selfservice import worker_lookup as lookup
from disbursements.views.appeals import lookup_appeal_context
from disbursements.views.client import client_ip


def worker_lookup(request):
    """Public: no login. CSRF-protected POST, rate limited per IP and per ID number."""
    context = {"result": None, "error": "", "values": {}}
    status = 200
    if request.method == "POST":
        values = {k: request.POST.get(k, "").strip() for k in ("id_number", "name", "phone_tail")}
        context["values"] = {"name": values["name"]}
        missing = [
            label
            for key, label in (("id_number", _("身份证号")), ("name", _("姓名")), ("phone_tail", _("手机号后四位")))
            if not values[key]
        ]
        if missing:
            context["error"] = gettext("请填写%(fields)s。") % {"fields": gettext("、").join(str(m) for m in missing)}
        elif not (len(values["phone_tail"]) == 4 and values["phone_tail"].isdigit()):
            context["error"] = gettext("手机号后四位应为 4 位数字。")
        else:
            try:
                result = lookup(ip=client_ip(request), **values)
            except RateLimited as exc:
                context["error"] = exc.message
                status = 429
            else:
                if result.found:
                    context["result"] = result
                    context.update(lookup_appeal_context(result.person_id))  # 申诉: form and outcomes
                else:
                    context["error"] = NOT_FOUND
    response = render(request, "disbursements/lookup.html", context, status=status)
    response["Cache-Control"] = "no-store"
    return response
