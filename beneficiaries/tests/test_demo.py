from accounts.demo import demo_users
from beneficiaries.demo import DEMO_EMPLOYERS, DEMO_STEPS
from beneficiaries.models import Employer, Registration
from beneficiaries.uscc import validate_uscc
from tests.factories import make_programme


def run_steps():
    return [fn() for _label, fn in DEMO_STEPS]


def test_demo_without_programme_makes_employers_only(db):
    demo_users()
    run_steps()
    luquan = Employer.objects.get(credit_code=DEMO_EMPLOYERS["luquan_private"]["credit_code"])
    gree = Employer.objects.get(credit_code=DEMO_EMPLOYERS["gree"]["credit_code"])
    assert luquan.name == "石家庄冀通建材有限公司" and luquan.district_id == "130110"
    assert gree.name == "石家庄格力电器（空调）有限公司" and gree.district_id == "130171" and gree.ownership == "state"
    assert validate_uscc(luquan.credit_code) and validate_uscc(gree.credit_code)
    assert list(luquan.agents.values_list("username", flat=True)) == ["qiye_luquan"]
    assert list(gree.agents.values_list("username", flat=True)) == ["qiye_gree"]
    assert luquan.status == gree.status == "verified"
    assert luquan.verified_by.username == "luquan"
    assert gree.verified_by is None  # no demo officer for 高新区
    assert not Registration.objects.exists()


def test_demo_is_idempotent_with_programme(db):
    demo_users()
    make_programme(code="HEBEI-2021")
    run_steps()
    counts = (Employer.objects.count(), Registration.objects.count())
    run_steps()
    assert (Employer.objects.count(), Registration.objects.count()) == counts
    assert Registration.objects.filter(employer__agents__username="qiye_luquan").count() == 6
    assert Registration.objects.filter(status="conflict").count() == 1
