"""Rule pages: list, detail, create, edit (a new version once it has entitlements),
preview, activate, retire. Thin adapters over programs.selectors and programs.services;
out of scope is 404, a write outside one's role is refused by the service."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.db.models import Count
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from accounts.choices import JobKind
from accounts.models import Job
from accounts.scopes import is_admin, require_staff
from core.errors import DomainError
from core.views import flash_outcome
from programs import selectors, services
from programs.choices import RuleStatus
from programs.forms import RuleForm, apply_rule_error
from programs.rules.conditions import describe_conditions
from programs.rules.preview import rule_preview


def _staff_or_404(user):
    require_staff(user)  # another role: the friendly 403 page


@login_required
def rule_list(request):
    _staff_or_404(request.user)
    programmes = list(selectors.programmes_for(request.user))
    code = request.GET.get("programme") or (programmes[0].code if programmes else "")
    programme = next((p for p in programmes if p.code == code), None)
    status = request.GET.get("status", "")
    rules = list(selectors.rules_for(request.user, programme=programme, status=status)) if programme else []
    for rule in rules:
        rule.condition_text = describe_conditions(rule)
        rule.can_manage = services.can_manage_rules(request.user, rule.region)
    job = None
    if programme is not None:
        job = (
            Job.objects.filter(kind=JobKind.COMPUTE, params__programme_id=programme.pk).order_by("-created_at").first()
        )
    return render(
        request,
        "programs/rule_list.html",
        {
            "programmes": programmes,
            "programme": programme,
            "rules": rules,
            "status": status,
            "statuses": RuleStatus.choices,
            "can_create": services.can_manage_rules(request.user),
            "job": job,
        },
    )


@login_required
def rule_detail(request, pk: int):
    _staff_or_404(request.user)
    rule = selectors.rule_get(request.user, pk)
    versions = list(selectors.rule_versions(rule).annotate(n=Count("entitlements")))
    # People who meet the rule but whom its budget cap turned away (预算已用完), in the
    # viewer's region: the reverse relation of disbursements.CapRefusal (no import upward).
    refused = rule.cap_refusals.all()
    if not (request.user.is_superuser or request.user.region_id is None):
        refused = refused.filter(district__path__startswith=request.user.region.path)
    return render(
        request,
        "programs/rule_detail.html",
        {
            "rule": rule,
            "refused": refused.count(),
            "conditions": describe_conditions(rule),
            "versions": versions,
            "can_manage": services.can_manage_rules(request.user, rule.region),
        },
    )


@login_required
def rule_create(request):
    programme = selectors.programme_get(request.user, request.GET.get("programme") or request.POST.get("programme", ""))
    if not services.can_manage_rules(request.user):
        raise Http404
    form = RuleForm(request.POST or None, user=request.user, programme=programme)
    if request.method == "POST" and form.is_valid():
        try:
            rule = services.rule_create(programme=programme, data=form.to_data(), acting_user=request.user)
        except DomainError as exc:
            apply_rule_error(form, exc)
        else:
            messages.success(request, gettext("已创建规则“%(name)s”（草稿）。请预览后启用。") % {"name": rule.name})
            return redirect("programs:rule_detail", rule.pk)
    return render(request, "programs/rule_form.html", {"form": form, "programme": programme, "rule": None})


@login_required
def rule_edit(request, pk: int):
    rule = selectors.rule_get(request.user, pk)
    if not services.can_manage_rules(request.user, rule.region):
        raise Http404
    form = RuleForm(
        request.POST or None, user=request.user, programme=rule.programme, initial=RuleForm.initial_from(rule)
    )
    if request.method == "POST" and form.is_valid():
        try:
            changed = services.rule_update(rule=rule, data=form.to_data(), acting_user=request.user)
        except DomainError as exc:
            apply_rule_error(form, exc)
        else:
            if changed.pk != rule.pk:
                messages.success(
                    request,
                    gettext("该规则已产生补贴核定，修改已保存为第 %(version)s 版（草稿），原版本保持不变。")
                    % {"version": changed.version},
                )
            else:
                messages.success(request, gettext("规则已修改。"))
            return redirect("programs:rule_detail", changed.pk)
    has_entitlements = rule.entitlements.exists()
    return render(
        request,
        "programs/rule_form.html",
        {"form": form, "programme": rule.programme, "rule": rule, "has_entitlements": has_entitlements},
    )


@login_required
def rule_preview_view(request, pk: int):
    rule = selectors.rule_get(request.user, pk)
    within = None if is_admin(request.user) else request.user.region
    with transaction.atomic():  # read-only; lets the preview tune its plan with SET LOCAL
        preview = rule_preview(rule, within=within)
    return render(
        request,
        "programs/rule_preview.html",
        {"rule": rule, "preview": preview, "can_manage": services.can_manage_rules(request.user, rule.region)},
    )


@login_required
@require_POST
def rule_activate(request, pk: int):
    rule = selectors.rule_get(request.user, pk)
    flash_outcome(
        request,
        lambda: services.rule_activate(rule=rule, acting_user=request.user),
        gettext("规则“%(name)s”第 %(version)s 版已启用。重新计算补贴后生效。")
        % {"name": rule.name, "version": rule.version},
    )
    return redirect("programs:rule_detail", rule.pk)


@login_required
@require_POST
def rule_retire(request, pk: int):
    rule = selectors.rule_get(request.user, pk)
    flash_outcome(
        request,
        lambda: services.rule_retire(rule=rule, acting_user=request.user, comment=request.POST.get("comment", "")),
        gettext("规则“%(name)s”已停用。重新计算后，尚未进入批次的核定将被撤销。") % {"name": rule.name},
    )
    return redirect("programs:rule_detail", rule.pk)
