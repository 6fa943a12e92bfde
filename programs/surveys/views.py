"""Survey (摸排) pages: list, entry, detail with the review actions. Thin adapters over
programs.surveys.services; every read starts from SurveyReport.objects.for_user (out of scope: 404)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from accounts.choices import Role
from accounts.models import AuditEntry
from accounts.scopes import require_staff
from core.errors import DomainError
from core.forms import apply_domain_error
from core.views import flash_outcome
from programs.choices import SURVEY_EDITABLE, ProgrammeStatus, SurveyStatus
from programs.models import Programme, SurveyReport
from programs.surveys import services
from programs.surveys.fields import COUNT_FIELDS, display_label
from programs.surveys.forms import ReturnForm, SurveyForm
from programs.surveys.periods import survey_overdue, survey_period_of
from programs.surveys.validate import survey_previous
from regions.choices import Level

PAGE_SIZE = 50
SURVEY_LIST_FIGURES = ("enterprises_surveyed", "outside_workers", "staying", "staying_local", "staying_nonlocal")


def _staff_only(user):
    require_staff(user)  # another role: the friendly 403 page


def _programmes():
    return Programme.objects.exclude(status=ProgrammeStatus.DRAFT).order_by("-start_date", "code")


@login_required
def survey_list(request):
    _staff_only(request.user)
    # The programmes are few: one query serves the filter, the default and the select.
    programmes = list(_programmes())
    wanted = request.GET.get("programme")
    programme = next((p for p in programmes if p.code == wanted), programmes[0] if programmes else None)
    qs = SurveyReport.objects.for_user(request.user)
    if programme is not None:
        qs = qs.filter(programme=programme)
    status = request.GET.get("status", "")
    if status in SurveyStatus.values:
        qs = qs.filter(status=status)
    try:
        page = max(1, int(request.GET.get("page", 1)))
    except ValueError:
        page = 1
    rows = _survey_rows(qs.order_by("-as_of", "district_id")[(page - 1) * PAGE_SIZE : page * PAGE_SIZE + 1])
    overdue = None
    if (
        programme is not None
        and request.user.region_id
        and request.user.role in (Role.CITY, Role.PROVINCE, Role.DISTRICT)
    ):
        overdue = survey_overdue(programme=programme, region=request.user.region)
    awaiting = (
        SurveyReport.objects.for_user(request.user).filter(programme=programme, status=SurveyStatus.SUBMITTED).count()
        if programme is not None and request.user.role in (Role.CITY, Role.PROVINCE)
        else 0
    )
    params = request.GET.copy()
    params.pop("page", None)
    return render(
        request,
        "programs/survey_list.html",
        {
            "list_url": reverse("programs:survey_list"),
            "rows": rows[:PAGE_SIZE],
            "page": page,
            "has_next": len(rows) > PAGE_SIZE,
            "query": params.urlencode(),
            "programme": programme,
            "programmes": programmes,
            "status": status,
            "statuses": SurveyStatus.choices,
            "overdue": overdue,
            "awaiting": awaiting,
            "can_create": request.user.role == Role.DISTRICT,
        },
    )


SURVEY_ROW_FIELDS = ("pk", "as_of", "district__name", "district__parent__name", "district__parent__level")


def _survey_rows(qs) -> list[dict]:
    """What the table shows, as dicts (programs/templatetags/survey_rows.py renders them): read as
    tuples, not three model instances a row (the report, its district and its city), with the
    status labels translated once per page, not a get_status_display per row."""
    statuses = {value: str(label) for value, label in SurveyStatus.choices}
    return [
        {
            "pk": pk,
            "as_of": as_of,
            "city_name": parent_name if parent_level == Level.CITY else "",
            "district_name": district_name,
            **dict(zip(SURVEY_LIST_FIGURES, figures, strict=True)),
            "status": status,
            "status_label": statuses.get(status, status),
        }
        for pk, as_of, district_name, parent_name, parent_level, *figures, status in qs.values_list(
            *SURVEY_ROW_FIELDS, *SURVEY_LIST_FIGURES, "status"
        )
    ]


def _default_as_of(programme):
    if programme is None:
        return None
    today = timezone.localdate()
    period = survey_period_of(programme, min(max(today, programme.start_date), programme.end_date))
    return period.end if period else None


@login_required
def survey_create(request):
    user = request.user
    if user.role != Role.DISTRICT or user.region is None or not services.can_enter(user, user.region):
        raise Http404("只有区县人社专员填报摸排报表")
    programmes = _programmes()
    show_confirm = request.method == "POST" and request.POST.get("confirm_jump") is not None
    if request.method == "POST":
        form = SurveyForm(request.POST, programmes=programmes, show_confirm=show_confirm)
        if form.is_valid():
            try:
                report = services.survey_create(
                    programme=form.cleaned_data["programme"],
                    district=user.region,
                    as_of=form.cleaned_data["as_of"],
                    data=form.figures(),
                    acting_user=user,
                    confirm_jump=form.cleaned_data.get("confirm_jump", False),
                )
            except DomainError as exc:
                if exc.code == "confirm_jump" and "confirm_jump" not in form.fields:
                    form = SurveyForm(request.POST, programmes=programmes, show_confirm=True)
                    form.is_valid()
                apply_domain_error(form, exc)
            else:
                messages.success(
                    request,
                    gettext("已保存%(district)s %(as_of)s 的摸排报表（草稿），核对后请提交市级审核。")
                    % {"district": report.district.name, "as_of": f"{report.as_of:%Y-%m-%d}"},
                )
                return redirect("programs:survey_detail", pk=report.pk)
    else:
        programme = programmes.first()
        form = SurveyForm(programmes=programmes, initial={"programme": programme, "as_of": _default_as_of(programme)})
    return render(request, "programs/survey_form.html", {"form": form, "district": user.region, "report": None})


@login_required
def survey_edit(request, pk):
    report = get_object_or_404(
        SurveyReport.objects.for_user(request.user).select_related("district", "programme"), pk=pk
    )
    if not services.can_enter(request.user, report.district) or report.status not in SURVEY_EDITABLE:
        raise Http404("此报表不能修改")
    programmes = Programme.objects.filter(pk=report.programme_id)
    show_confirm = request.method == "POST" and request.POST.get("confirm_jump") is not None
    if request.method == "POST":
        form = SurveyForm(request.POST, programmes=programmes, show_confirm=show_confirm)
        if form.is_valid():
            try:
                services.survey_update(
                    report=report,
                    data=form.figures(),
                    as_of=form.cleaned_data["as_of"],
                    acting_user=request.user,
                    confirm_jump=form.cleaned_data.get("confirm_jump", False),
                )
            except DomainError as exc:
                if exc.code == "confirm_jump" and "confirm_jump" not in form.fields:
                    form = SurveyForm(request.POST, programmes=programmes, show_confirm=True)
                    form.is_valid()
                apply_domain_error(form, exc)
            else:
                messages.success(request, gettext("已保存修改。"))
                return redirect("programs:survey_detail", pk=report.pk)
    else:
        form = SurveyForm(programmes=programmes, initial=SurveyForm.initial_from(report))
    return render(request, "programs/survey_form.html", {"form": form, "district": report.district, "report": report})


@login_required
def survey_detail(request, pk):
    _staff_only(request.user)
    report = get_object_or_404(
        SurveyReport.objects.for_user(request.user).select_related(
            "district__parent", "programme", "created_by", "submitted_by", "approved_by", "returned_by", "locked_by"
        ),
        pk=pk,
    )
    user = request.user
    previous = survey_previous(programme=report.programme, district=report.district, as_of=report.as_of)
    rows = []
    for field in [*COUNT_FIELDS, "benefits_amount"]:
        value = getattr(report, field)
        before = getattr(previous, field) if previous else None
        rows.append({"label": display_label(field), "value": value, "previous": before, "field": field})
    period = survey_period_of(report.programme, report.as_of)
    history = (
        AuditEntry.objects.filter(object_type="programs.surveyreport", object_id=str(report.pk))
        .select_related("user")
        .order_by("at", "id")
    )
    return render(
        request,
        "programs/survey_detail.html",
        {
            "report": report,
            "rows": rows,
            "previous": previous,
            "period": period,
            "history": history,
            "can_edit": services.can_enter(user, report.district) and report.status in SURVEY_EDITABLE,
            "can_submit": services.can_enter(user, report.district) and report.status in SURVEY_EDITABLE,
            "can_review": services.can_review(user, report.district) and report.status == SurveyStatus.SUBMITTED,
            "can_return": services.can_review(user, report.district)
            and report.status in (SurveyStatus.SUBMITTED, SurveyStatus.APPROVED),
            "can_lock": user.role in (Role.CITY, Role.PROVINCE) and report.status == SurveyStatus.APPROVED,
            "return_form": ReturnForm(),
        },
    )


def _action(request, pk, do, success: str):
    report = get_object_or_404(SurveyReport.objects.for_user(request.user), pk=pk)
    flash_outcome(request, lambda: do(report), success)
    return redirect("programs:survey_detail", pk=pk)


@login_required
@require_POST
def survey_submit(request, pk):
    confirm = request.POST.get("confirm_jump") == "1"
    return _action(
        request,
        pk,
        lambda r: services.survey_submit(report=r, acting_user=request.user, confirm_jump=confirm),
        _("已提交市级审核。"),
    )


@login_required
@require_POST
def survey_approve(request, pk):
    return _action(
        request,
        pk,
        lambda r: services.survey_approve(report=r, acting_user=request.user),
        _("已审核通过，看板数据将随之更新。"),
    )


@login_required
@require_POST
def survey_return(request, pk):
    form = ReturnForm(request.POST)
    reason = form.data.get("reason", "")
    return _action(
        request,
        pk,
        lambda r: services.survey_return(report=r, acting_user=request.user, reason=reason),
        _("已退回区县修改。"),
    )


@login_required
@require_POST
def survey_lock(request, pk):
    return _action(request, pk, lambda r: services.survey_lock(report=r, acting_user=request.user), _("报表已锁定。"))
