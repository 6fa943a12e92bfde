"""Registry pages: employers and stay-behind registrations. Thin adapters over
selectors (reads, always scoped: out of scope is 404) and services (writes)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ObjectDoesNotExist
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from accounts.choices import Role
from accounts.resources import list_export
from accounts.scopes import require_staff
from beneficiaries import selectors
from beneficiaries.choices import Category, EmployerStatus, Ownership, PayoutChoice, RegistrationStatus
from beneficiaries.forms import (
    EmployerEditForm,
    EmployerRegisterForm,
    RegistrationForm,
    ResolveForm,
    ReturnForm,
)
from beneficiaries.holds import registration_holds
from beneficiaries.resources import EmployerResource, RegistrationResource
from beneficiaries.services import access, reveal
from beneficiaries.services import employers as employer_services
from beneficiaries.services import registrations as registration_services
from core.errors import DomainError
from core.forms import apply_domain_error
from core.resources import EXPORT_MAX
from core.views import flash_outcome, next_or
from regions.choices import Level
from regions.models import Region
from regions.selectors import regions_q

PAGE_SIZE = 50


def _page(request, qs, size: int = PAGE_SIZE):
    """Offset paging without COUNT(*): fetch one row more than shown to know if there is a next page.
    For lists ordered by district and name (employers), whose pages stay small per district.
    The pager says where you are by rows ("第 51–100 条") and page, without counting the whole list."""
    try:
        page = max(1, int(request.GET.get("page", 1)))
    except ValueError:
        page = 1
    rows = list(qs[(page - 1) * size : page * size + 1])
    params = request.GET.copy()
    params.pop("page", None)
    shown = rows[:size]
    return {
        "rows": shown,
        "page": page,
        "has_next": len(rows) > size,
        "has_prev": page > 1,
        "query": params.urlencode(),
        "first": (page - 1) * size + 1 if shown else 0,
        "last": (page - 1) * size + len(shown),
    }


def _cursor_page(request, qs, size: int = PAGE_SIZE):
    """Keyset ("cursor") paging on the primary key, newest first: `?after=<id>` / `?before=<id>`.
    `qs` is a `.values()` queryset that includes "pk".

    A page costs the same at the millionth row as at the first (an index range, no OFFSET to
    skip and no COUNT(*)), and rows added meanwhile do not shift what the next page shows.
    The page number travels in the links (`page=`) only to say where you are ("第 51–100 条")."""
    params = request.GET.copy()
    for key in ("after", "before", "page"):
        params.pop(key, None)
    try:
        after, before = int(request.GET.get("after", 0)), int(request.GET.get("before", 0))
    except ValueError:
        after = before = 0
    try:
        number = max(1, int(request.GET.get("page", 1))) if (after > 0 or before > 0) else 1
    except ValueError:
        number = 1
    if before > 0:
        rows = list(qs.filter(pk__gt=before).order_by("pk")[: size + 1])
        has_prev, has_next = len(rows) > size, True
        rows = rows[:size][::-1]
    else:
        rows = list((qs.filter(pk__lt=after) if after > 0 else qs).order_by("-pk")[: size + 1])
        has_prev, has_next = after > 0, len(rows) > size
        rows = rows[:size]
    if not has_prev:
        number = 1
    prev_params, next_params = params.copy(), params.copy()
    if rows:
        prev_params["before"], next_params["after"] = rows[0]["pk"], rows[-1]["pk"]
        prev_params["page"], next_params["page"] = max(1, number - 1), number + 1
    return {
        "rows": rows,
        "cursor": True,
        "page": number,
        "has_next": has_next and bool(rows),
        "has_prev": has_prev and bool(rows),
        "prev_query": prev_params.urlencode(),
        "next_query": next_params.urlencode(),
        "first_query": params.urlencode(),
        "first": (number - 1) * size + 1 if rows else 0,
        "last": (number - 1) * size + len(rows),
    }


def _get_or_404(getter, user, pk):
    try:
        return getter(user, pk)
    except ObjectDoesNotExist:
        raise Http404("不存在或不在您的管辖范围内") from None


def _employer_filters(request) -> dict:
    """The employer list's filters, as its page and its export read them."""
    return {k: request.GET.get(k, "") for k in ("status", "district", "q")}


def _registration_filters(request) -> dict:
    """The registration list's filters, as its page and its export read them."""
    filters = {k: request.GET.get(k, "") for k in ("employer", "status", "district", "programme", "category", "q")}
    filters["q"] = filters["q"].strip()[:50]
    return filters


def _url_or_none(name: str, *args) -> str | None:
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


def _labels(choices) -> dict[str, str]:
    """A choices class's labels in the active language, each translated once."""
    return {value: str(label) for value, label in choices.choices}


# -- employers -------------------------------------------------------------------------


@login_required
def employer_list(request):
    user = request.user
    filters = _employer_filters(request)
    qs = selectors.employer_list(user, **filters)
    page = _page(request, qs)
    # Labels and links once per page, not per row (as on the registrations list): the per-row
    # get_*_display and three {% url %} were most of this page's template time (docs/operations.md).
    # Translated once per page (a lazy label's str() is a catalog lookup; it was one per row and column).
    statuses, ownerships = _labels(EmployerStatus), _labels(Ownership)
    base = reverse("beneficiaries:employer_list")
    # Rows as dicts, as on the registrations list: a dict key is the template's first try.
    page["rows"] = [
        {
            "pk": e.pk,
            "name": e.name,
            "credit_code": e.credit_code,
            "district": {"name": e.district.name},
            "status": e.status,
            "return_reason": e.return_reason,
            "status_label": statuses.get(e.status, e.status),
            "ownership_label": ownerships.get(e.ownership, e.ownership),
            "detail_url": f"{base}{e.pk}/",
            "verify_url": f"{base}{e.pk}/verify/",
            "return_url": f"{base}{e.pk}/return/",
        }
        for e in page["rows"]
    ]
    context = {
        "page": page,
        "filters": filters,
        "statuses": EmployerStatus.choices,
        "districts": selectors.district_choices(user) if user.is_staff_role or user.is_superuser else [],
        "is_agent": user.role == Role.EMPLOYER,
        "is_officer": user.role == Role.DISTRICT,
        "import_url": _url_or_none("beneficiaries:import_employers") if user.is_staff_role else None,
        "can_export": user.is_staff_role or user.is_superuser,
        "return_form": ReturnForm(),
    }
    return render(request, "beneficiaries/employer_list.html", context)


@login_required
def employer_detail(request, pk: int):
    employer = _get_or_404(selectors.employer_get, request.user, pk)
    counts = selectors.employer_registration_counts(employer)
    context = {
        "employer": employer,
        "counts": [(value, label, counts.get(value, 0)) for value, label in RegistrationStatus.choices],
        "agents": employer.agents.all(),
        "can_review": access.is_district_officer_for(request.user, employer),
        "can_edit": employer_services.may_edit_employer(request.user, employer),
        "is_agent": request.user.role == Role.EMPLOYER,
        "return_form": ReturnForm(),
    }
    return render(request, "beneficiaries/employer_detail.html", context)


@login_required
def employer_register(request):
    user = request.user
    if not (user.role == Role.EMPLOYER or user.is_superuser):
        messages.error(request, gettext("只有企业经办人可以登记用人单位。区县人社专员请使用“导入企业名单”。"))
        return redirect("beneficiaries:employer_list")
    form = EmployerRegisterForm(request.POST or None, districts=selectors.district_choices(user))
    if request.method == "POST" and form.is_valid():
        try:
            employer = employer_services.employer_register(acting_user=user, **form.cleaned_data)
        except DomainError as exc:
            apply_domain_error(form, exc)
        else:
            messages.success(
                request, gettext("已提交“%(name)s”的登记，等待所在区县人社专员审核。") % {"name": employer.name}
            )
            return redirect("beneficiaries:employer_detail", pk=employer.pk)
    return render(request, "beneficiaries/employer_register.html", {"form": form})


@login_required
def employer_edit(request, pk: int):
    """The agent corrects its employer (a returned one goes back to the officer)."""
    employer = _get_or_404(selectors.employer_get, request.user, pk)
    initial = {f: getattr(employer, f) for f in employer_services.EMPLOYER_EDITABLE if f != "district"}
    initial["district"] = employer.district_id
    # A move may go to any district (the officer hands the employer over); whether this
    # user may move it at all is the service's rule, shown here as a locked field.
    form = EmployerEditForm(request.POST or None, initial=initial, districts=selectors.all_district_choices())
    if not employer_services.may_move_employer(request.user, employer):
        form.fields["district"].disabled = True
        form.fields["district"].help_text = gettext("单位已通过审核：迁移所在区县请联系所在区县人社专员办理。")
    if request.method == "POST" and form.is_valid():
        changed = {k: v for k, v in form.cleaned_data.items() if k in form.changed_data}
        try:
            employer_services.employer_update(employer=employer, acting_user=request.user, **changed)
        except DomainError as exc:
            apply_domain_error(form, exc)
        else:
            messages.success(
                request,
                gettext("已保存。")
                if employer.status != EmployerStatus.RETURNED
                else gettext("已保存并重新提交审核。"),
            )
            return redirect("beneficiaries:employer_detail", pk=pk)
    return render(request, "beneficiaries/employer_edit.html", {"form": form, "employer": employer})


@login_required
@require_POST
def employer_verify(request, pk: int):
    employer = _get_or_404(selectors.employer_get, request.user, pk)
    flash_outcome(
        request,
        lambda: employer_services.employer_verify(employer=employer, acting_user=request.user),
        gettext("已审核通过：%(name)s") % {"name": employer.name},
    )
    return redirect(next_or(request, reverse("beneficiaries:employer_detail", args=[pk])))


@login_required
@require_POST
def employer_return(request, pk: int):
    employer = _get_or_404(selectors.employer_get, request.user, pk)
    form = ReturnForm(request.POST)
    if not form.is_valid():
        messages.error(request, gettext("退回时必须填写原因，告诉企业需要修改什么。"))
    else:
        flash_outcome(
            request,
            lambda: employer_services.employer_return(
                employer=employer, acting_user=request.user, reason=form.cleaned_data["reason"]
            ),
            gettext("已退回：%(name)s") % {"name": employer.name},
        )
    return redirect(next_or(request, reverse("beneficiaries:employer_detail", args=[pk])))


# -- registrations ---------------------------------------------------------------------


LIST_ROW_FIELDS = (
    *("pk", "status", "category", "start_date", "end_date"),
    *("person__name", "person__id_masked", "employer__name", "district__name"),
)


@login_required
def registration_list(request):
    user = request.user
    filters = _registration_filters(request)
    qs = selectors.registration_list(user, **filters)
    # Only the columns the rows show, as dicts: each row was five full model instances (the person's
    # ciphers and the programme's settings included), then four, most of this page's ORM time
    # (docs/operations.md "Serving").
    page = _cursor_page(request, qs.select_related(None).values(*LIST_ROW_FIELDS))
    # Labels and links worked out once per page, not per row: the per-row get_*_display,
    # {% url %} and {% blocktranslate %} were most of this page's CPU (profiled, docs/operations.md).
    statuses, categories = _labels(RegistrationStatus), _labels(Category)
    span = gettext("%(start)s 至 %(end)s")
    # The rows go to the template as dicts of what it shows: a template variable tries a dict key
    # first and only then an attribute, so on a model every `r.person.name` raised and caught an
    # exception per level (a fifth of the rows' render time, measured).
    page["rows"] = [
        {
            "pk": r["pk"],
            "person": {"name": r["person__name"], "id_masked": r["person__id_masked"]},
            "employer": {"name": r["employer__name"]},
            "district": {"name": r["district__name"]},
            "status": r["status"],
            "status_label": statuses.get(r["status"], r["status"]),
            "category_label": categories.get(r["category"], r["category"]),
            "stay_span": span % {"start": f"{r['start_date']:%m-%d}", "end": f"{r['end_date']:%m-%d}"},
        }
        for r in page["rows"]
    ]
    is_staff = user.is_staff_role or user.is_superuser
    context = {
        "page": page,
        "filters": filters,
        "statuses": RegistrationStatus.choices,
        "categories": Category.choices,
        # Evaluated only when the cached fragment of the district filter is missing (see the template).
        "districts": (lambda: selectors.district_choices(user)) if is_staff else None,
        "district_scope": user.region_id or "all",
        "employers": selectors.employer_list(user).select_related(None).only("id", "name")[:500]
        if user.role == Role.EMPLOYER
        else [],
        "programmes": selectors.active_programmes(),
        "is_staff": user.is_staff_role,
        "can_export": is_staff,
        "import_url": _url_or_none("beneficiaries:import_workers"),
        "list_url": reverse("beneficiaries:registration_list"),
    }
    return render(request, "beneficiaries/registration_list.html", context)


@login_required
def registration_create(request):
    user = request.user
    employers = selectors.employers_for_registration(user)
    programmes = selectors.active_programmes()
    initial = {}
    if request.GET.get("employer"):
        initial["employer"] = request.GET["employer"]
    form = RegistrationForm(request.POST or None, programmes=programmes, employers=employers, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            registration = registration_services.registration_create(acting_user=user, **data)
        except DomainError as exc:
            apply_domain_error(form, exc)
        else:
            if registration.status == RegistrationStatus.CONFLICT:
                messages.warning(request, gettext("已登记，但该人员已由其他单位登记，需区县人社专员核实后才有效。"))
            else:
                messages.success(request, gettext("已登记：%(name)s") % {"name": registration.person.name})
            if "add_another" in request.POST:
                return redirect(f"{reverse('beneficiaries:registration_create')}?employer={data['employer'].pk}")
            return redirect("beneficiaries:registration_detail", pk=registration.pk)
    context = {"form": form, "no_employer": not employers.exists(), "no_programme": not programmes.exists()}
    return render(request, "beneficiaries/registration_create.html", context)


def _registration_context(request, registration, **extra):
    user = request.user
    group = (
        list(registration_services.conflict_group(registration))
        if registration.status in ("active", "conflict")
        else []
    )
    conflicts, hidden = [], 0
    if len(group) > 1:  # almost every registration stands alone: no query for the others' scope then
        visible = set(
            selectors.registration_list(user).filter(pk__in=[r.pk for r in group]).values_list("pk", flat=True)
        )
        conflicts, hidden = [r for r in group if r.pk in visible], len(group) - len(visible)
    context = {
        "reg": registration,
        "person": registration.person,
        "conflicts": conflicts,
        "hidden_conflicts": hidden,
        "can_resolve": user.is_staff_role or user.is_superuser,
        "can_reveal": bool(user.can_view_pii),
        "can_withdraw": registration.status in ("active", "conflict")
        and registration_services.may_register_for(user, registration.employer),
        "resolve_form": ResolveForm(),
        "holds": registration_holds(registration),
        "payout_choices": PayoutChoice.choices,
    }
    context.update(extra)
    return context


@login_required
def registration_detail(request, pk: int):
    registration = _get_or_404(selectors.registration_get, request.user, pk)
    return render(request, "beneficiaries/registration_detail.html", _registration_context(request, registration))


@login_required
def registration_reveal(request, pk: int):
    """POST only: shows the full numbers once, on this response, and audits it."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    registration = _get_or_404(selectors.registration_get, request.user, pk)
    revealed = {}
    try:
        revealed["id_number"] = reveal.pii_reveal(acting_user=request.user, obj=registration, field="id_number")
        if registration.account_cipher:
            revealed["account"] = reveal.pii_reveal(acting_user=request.user, obj=registration, field="account")
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("beneficiaries:registration_detail", pk=pk)
    response = render(
        request,
        "beneficiaries/registration_detail.html",
        _registration_context(request, registration, revealed=revealed),
    )
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def registration_resolve(request, pk: int):
    """Keep registration `keep` (one of this one's conflict group) active; reject the others."""
    registration = _get_or_404(selectors.registration_get, request.user, pk)
    form = ResolveForm(request.POST)
    if not form.is_valid():
        messages.error(request, gettext("请填写处理说明。"))
        return redirect("beneficiaries:registration_detail", pk=pk)
    keep = _get_or_404(selectors.registration_get, request.user, form.cleaned_data["keep"])
    if keep.person_id != registration.person_id or keep.programme_id != registration.programme_id:
        raise Http404("不是同一人员同一项目的登记")
    flash_outcome(
        request,
        lambda: registration_services.registration_resolve_conflict(
            keep=keep, acting_user=request.user, note=form.cleaned_data["note"]
        ),
        gettext("已处理重复登记：保留%(employer)s的登记，其余已驳回。") % {"employer": keep.employer.name},
    )
    return redirect("beneficiaries:registration_detail", pk=keep.pk)


@login_required
@require_POST
def registration_payout(request, pk: int):
    """The worker's choice of how to receive a rule that offers one (电子红包 or 现金), set by
    their employer or the district officer; the next computation pays through it."""
    registration = _get_or_404(selectors.registration_get, request.user, pk)
    flash_outcome(
        request,
        lambda: registration_services.registration_update(
            registration=registration, acting_user=request.user, payout_choice=request.POST.get("payout_choice", "")
        ),
        gettext("已修改领取方式，重新计算补贴核定后生效。"),
    )
    return redirect("beneficiaries:registration_detail", pk=pk)


@login_required
@require_POST
def registration_withdraw(request, pk: int):
    registration = _get_or_404(selectors.registration_get, request.user, pk)
    flash_outcome(
        request,
        lambda: registration_services.registration_withdraw(
            registration=registration, acting_user=request.user, reason=request.POST.get("reason", "")
        ),
        gettext("已撤销该登记。"),
    )
    return redirect("beneficiaries:registration_detail", pk=pk)


# -- list exports ------------------------------------------------------------------------
# The rows of the list page as a file, scoped and filtered exactly like the page (the same
# selector with the same filters), for the HR departments only, each export audited.


@login_required
def employer_export(request, fmt: str = "xlsx"):
    user = request.user
    require_staff(user)
    filters = _employer_filters(request)
    qs = selectors.employer_list(user, **filters).order_by("district_id", "name", "pk")
    return list_export(
        user=user,
        resource=EmployerResource(),
        queryset=qs[:EXPORT_MAX],
        fmt=fmt,
        action="employer_list_export",
        filters=filters,
        filename="employers",
        title=gettext("用人单位"),
    )


@login_required
def registration_export(request, fmt: str = "xlsx"):
    """One district's registrations at a time (a district officer's own; a city or
    province user picks the district first): a whole city's list is not an officer's file."""
    user = request.user
    require_staff(user)
    filters = _registration_filters(request)
    if not _one_district(user, filters["district"]):
        messages.error(request, gettext("请先选择一个区县，再导出该区县的登记名单。"))
        return redirect(f"{reverse('beneficiaries:registration_list')}?{request.GET.urlencode()}")
    qs = selectors.registration_list(user, **filters).order_by("-pk")
    return list_export(
        user=user,
        resource=RegistrationResource(),
        queryset=qs[:EXPORT_MAX],
        fmt=fmt,
        action="registration_list_export",
        filters=filters,
        filename="registrations",
        title=gettext("留岗人员登记"),
    )


def _one_district(user, district: str) -> bool:
    if user.region_id is not None and user.region.level == Level.DISTRICT:
        return True
    if not district:
        return False
    return Region.objects.filter(regions_q(user), code=district.strip(), level=Level.DISTRICT).exists()
