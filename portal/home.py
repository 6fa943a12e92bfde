"""What each role has to do next: the to-do cards of the home page.

Every count starts from the user's scope (`for_user`), like every other read.
"""

import functools
from dataclasses import dataclass

from django.conf import settings
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse
from django.utils.translation import gettext_lazy as _

from accounts.choices import Role
from beneficiaries.choices import EmployerStatus, RegistrationStatus
from beneficiaries.models import Employer, Registration
from disbursements.choices import BatchStatus
from disbursements.models import Appeal, Batch, FraudSignal, Objection
from disbursements.services.employer_payments import failed_payments_count
from programs.choices import SURVEY_EDITABLE, SurveyStatus
from programs.models import SurveyReport


@dataclass
class Todo:
    label: str
    count: int
    url: str | None
    hint: str = ""


def _url(name: str, query: str = "") -> str | None:
    path = _reversed(name, get_script_prefix(), get_urlconf(settings.ROOT_URLCONF))
    return None if path is None else path + (f"?{query}" if query else "")


@functools.cache
def _reversed(name: str, _prefix: str, _urlconf) -> str | None:
    """reverse() once per process (and script prefix and URLconf): the URLconf does not change while
    it runs, and the home page's seven reverse() calls showed in its profile."""
    try:
        return reverse(name)
    except NoReverseMatch:  # the page is not installed in this tree
        return None


def home_todos(user) -> list[Todo]:
    """The role's to-do cards: a district officer's checks and submissions, a city's
    reviews, the province's approvals, an employer agent's staff and corrections."""
    role = Role.ADMIN if user.is_superuser else user.role
    todos = _ROLE_TODOS.get(role)
    return todos(user) if todos else []


def _district_todos(user) -> list[Todo]:
    return [
        Todo(
            _("待核实的用人单位"),
            Employer.objects.for_user(user).filter(status=EmployerStatus.PENDING).count(),
            _url("beneficiaries:employer_list", "status=pending"),
            _("核实后其留岗人员才计入补贴"),
        ),
        Todo(
            _("重复登记待处理"),
            Registration.objects.for_user(user).filter(status=RegistrationStatus.CONFLICT).count(),
            _url("beneficiaries:registration_list", "status=conflict"),
            _("同一人被多家单位登记，请确定保留哪一条"),
        ),
        Todo(
            _("待提交的摸排报表"),
            SurveyReport.objects.for_user(user).filter(status__in=SURVEY_EDITABLE).count(),
            _url("programs:survey_list"),
            _("草稿或被市级退回的报表"),
        ),
        Todo(
            _("待提交的发放批次"),
            Batch.objects.for_user(user).filter(status=BatchStatus.DRAFT).count(),
            _url("disbursements:batch_list", "status=draft"),
            "",
        ),
        *_trust_todos(user),
    ]


def _city_todos(user) -> list[Todo]:
    return [
        Todo(
            _("待审核的摸排报表"),
            SurveyReport.objects.for_user(user).filter(status=SurveyStatus.SUBMITTED).count(),
            _url("programs:survey_list", "status=submitted"),
            "",
        ),
        Todo(
            _("待复核的发放批次"),
            Batch.objects.for_user(user).filter(status=BatchStatus.SUBMITTED).count(),
            _url("disbursements:batch_list", "status=submitted"),
            "",
        ),
    ]


def _province_todos(user) -> list[Todo]:
    return [
        Todo(
            _("待审批的发放批次"),
            Batch.objects.for_user(user).filter(status=BatchStatus.REVIEWED).count(),
            _url("disbursements:batch_list", "status=reviewed"),
            _("市级已复核，等待省级审批"),
        ),
    ]


def _employer_todos(user) -> list[Todo]:
    employers = Employer.objects.for_user(user)
    return [
        Todo(
            _("发放失败，需更正账号"),
            failed_payments_count(user),
            _url("disbursements:employer_payments", "state=failed"),
            _("核对开户银行和账号，报区县人社专员更正后补发"),
        ),
        Todo(
            _("本单位留岗人员"),
            Registration.objects.for_user(user).filter(status=RegistrationStatus.ACTIVE).count(),
            _url("beneficiaries:registration_list"),
            _("可逐个登记或用 Excel 批量导入"),
        ),
        Todo(
            _("待区县核实的单位"),
            employers.filter(status=EmployerStatus.PENDING).count(),
            _url("beneficiaries:employer_list"),
            "",
        ),
        Todo(
            _("被退回的单位信息"),
            employers.filter(status=EmployerStatus.RETURNED).count(),
            _url("beneficiaries:employer_list", "status=returned"),
            _("请按退回原因修改后重新提交"),
        ),
    ]


def _trust_todos(user) -> list[Todo]:
    """A district officer's 公示 objections, high fraud signals and appeals (docs/transparency.md)."""
    return [
        Todo(
            _("待处理的公示异议"),
            Objection.objects.for_user(user).filter(status="open").count(),
            _url("gongshi:manage"),
            _("处理完毕且公示期满后，批次方可提交"),
        ),
        Todo(
            _("待核查的高风险预警"),
            FraudSignal.objects.for_user(user).filter(status="open", severity="high").count(),
            _url("signals:list", "status=open&severity=high"),
            _("排除或确认之前，相关人员不进入发放批次"),
        ),
        Todo(
            _("办理中的申诉"),
            Appeal.objects.for_user(user).filter(status="open").count(),
            _url("appeals:list"),
            _("须在 10 个工作日内答复"),
        ),
    ]


_ROLE_TODOS = {
    Role.DISTRICT: _district_todos,
    Role.CITY: _city_todos,
    Role.PROVINCE: _province_todos,
    Role.ADMIN: _province_todos,
    Role.EMPLOYER: _employer_todos,
}
