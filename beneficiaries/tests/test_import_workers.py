"""The workers' import rules: idempotence, duplicates, conflicts, all-or-nothing,
valid-only, what is stored, and the same result on the COPY and the ORM path."""

import datetime as dt

import pytest
from django.db import connection

from accounts.models import AuditEntry
from beneficiaries import pii
from beneficiaries.importer.workers import workers_import
from beneficiaries.models import Person, Registration
from core.errors import PermissionDenied
from tests.factories import make_employer
from tests.import_files import id_number, worker_row, write_csv, write_xlsx

pytestmark = pytest.mark.django_db


@pytest.fixture
def employer(agent_gree):
    return make_employer("格力电器（石家庄）有限公司", "130110", agents=[agent_gree])


def run(path, employer, programme, **kw):
    result = workers_import(path=path, employer=employer, programme=programme, **kw)
    result.cleanup()
    return result


def test_valid_file_imports_every_row_with_person_fields(tmp_path, employer, programme, agent_gree):
    rows = [worker_row(i) for i in range(30)]
    rows[0]["户籍地区代码"] = "130185"  # abolished 鹿泉市: counts as today's 鹿泉区
    result = run(write_csv(tmp_path / "w.csv", rows), employer, programme, acting_user=agent_gree)
    assert (result.total, result.accepted, result.rejected, result.created) == (30, 30, 0, 30)
    assert result.written and result.engine == ("copy" if connection.vendor == "postgresql" else "orm")
    assert Registration.objects.filter(employer=employer, status="active", source="import").count() == 30
    number = rows[0]["身份证号"]
    person = Person.objects.get(id_hash=pii.blind_index(number))
    assert pii.decrypt(person.id_cipher) == number
    assert person.id_masked == pii.mask_id(number)
    assert person.hukou_code_raw == "410102" and person.hukou_code == "130110"
    assert person.birth_date == dt.date(1960, 3, 15) and person.sex == "F"  # 17th digit 0 → female
    reg = person.registrations.get()
    assert reg.district_id == employer.district_id and reg.category == "migrant" and reg.duty_days == 7
    assert pii.decrypt(reg.account_cipher) == rows[0]["银行账号"]
    assert reg.account_masked == pii.mask_account(rows[0]["银行账号"])
    other = Person.objects.get(id_hash=pii.blind_index(rows[1]["身份证号"]))
    assert other.hukou_code == "410102"  # the number's address code when no column value
    assert AuditEntry.objects.filter(action="registrations_import", object_id=str(employer.pk)).count() == 1


def test_reimporting_the_same_file_changes_nothing(tmp_path, employer, programme):
    path = write_csv(tmp_path / "w.csv", [worker_row(i) for i in range(20)])
    first = run(path, employer, programme)
    before = list(Registration.objects.order_by("pk").values())
    persons = list(Person.objects.order_by("pk").values())
    second = run(path, employer, programme)
    assert first.created == 20 and second.created == 0 and second.unchanged == 20
    assert list(Registration.objects.order_by("pk").values()) == before
    assert list(Person.objects.order_by("pk").values()) == persons


def test_same_id_twice_in_a_file_rejects_the_second_row(tmp_path, employer, programme):
    rows = [worker_row(i) for i in range(5)]
    rows[4]["身份证号"] = rows[1]["身份证号"].lower()  # same number, x in lower case does not matter
    result = run(write_csv(tmp_path / "w.csv", rows), employer, programme, valid_only=True)
    assert result.rejected == 1
    assert result.errors == [
        {
            "row": 6,
            "errors": [{"column": "身份证号", "message": "与第3行的身份证号重复：同一人只需登记一次，请删除本行"}],
        }
    ]
    assert Registration.objects.count() == 4


def test_person_registered_by_another_employer_becomes_a_conflict(tmp_path, employer, programme, agent_other):
    other = make_employer("另一家公司", "130110", agents=[agent_other])
    rows = [worker_row(i) for i in range(4)]
    run(write_csv(tmp_path / "a.csv", rows[:2]), other, programme)
    result = run(write_csv(tmp_path / "b.csv", rows), employer, programme)
    assert result.created == 4 and result.conflicts == 2 and result.conflict_rows == [2, 3]
    person = Person.objects.get(id_hash=pii.blind_index(rows[0]["身份证号"]))
    statuses = dict(person.registrations.values_list("employer_id", "status"))
    assert statuses == {other.pk: "active", employer.pk: "conflict"}
    # never two active registrations of one person in one programme
    assert Registration.objects.filter(person=person, programme=programme, status="active").count() == 1
    again = run(write_csv(tmp_path / "b.csv", rows), employer, programme)
    assert again.created == 0 and again.conflict_rows == [2, 3]


def test_by_default_a_file_with_a_rejected_row_writes_nothing(tmp_path, employer, programme):
    rows = [worker_row(i) for i in range(10)]
    rows[7]["手机号"] = "12345"
    result = run(write_csv(tmp_path / "w.csv", rows), employer, programme)
    assert not result.written and result.accepted == 9 and result.rejected == 1
    assert Registration.objects.count() == 0 and Person.objects.count() == 0
    assert "未导入任何数据" in result.message


def test_valid_only_imports_the_rows_that_passed(tmp_path, employer, programme):
    rows = [worker_row(i) for i in range(10)]
    rows[2]["留岗开始日期"] = "2020-12-01"  # before the programme
    rows[5]["人员类别"] = "临时工"
    result = run(write_csv(tmp_path / "w.csv", rows), employer, programme, valid_only=True)
    assert result.written and result.created == 8 and result.rejected == 2
    assert [e["row"] for e in result.errors] == [4, 7]
    assert result.errors[0]["errors"][0]["column"] == "留岗开始日期"
    assert "不在项目期间" in result.errors[0]["errors"][0]["message"]
    assert Registration.objects.count() == 8


def test_dry_run_writes_nothing_and_predicts_the_import(tmp_path, employer, programme):
    path = write_csv(tmp_path / "w.csv", [worker_row(i) for i in range(12)])
    preview = run(path, employer, programme, dry_run=True)
    assert Registration.objects.count() == 0 and Person.objects.count() == 0
    done = run(path, employer, programme)
    assert (preview.created, preview.persons_created) == (done.created, done.persons_created) == (12, 12)


def test_known_id_under_another_name_is_rejected(tmp_path, employer, programme):
    rows = [worker_row(i) for i in range(3)]
    run(write_csv(tmp_path / "a.csv", rows[:1]), employer, programme)
    rows[0]["姓名"] = "李四"
    result = run(write_csv(tmp_path / "b.csv", rows), employer, programme)
    assert not result.written and result.rejected == 1
    assert result.errors[0]["row"] == 2 and result.errors[0]["errors"][0]["column"] == "姓名"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the COPY path needs PostgreSQL")
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_copy_and_orm_paths_give_the_same_result(tmp_path, employer, programme, agent_other, fmt):
    other = make_employer("另一家公司", "130110", agents=[agent_other])
    rows = [worker_row(i) for i in range(40)]
    rows[9]["身份证号"] = "130102199001011234"  # bad check digit
    rows[11]["身份证号"] = rows[10]["身份证号"]
    write = write_csv if fmt == "csv" else write_xlsx
    path = write(tmp_path / f"w.{fmt}", rows)
    seed = write_csv(tmp_path / "seed.csv", rows[20:25])
    results = {}
    for engine in ("copy", "orm"):
        Registration.objects.all().delete()
        Person.objects.all().delete()
        run(seed, other, programme, engine=engine)
        r = run(path, employer, programme, valid_only=True, engine=engine)
        state = sorted(
            Registration.objects.values_list("person__id_masked", "employer_id", "status", "start_date", "category")
        )
        results[engine] = (
            r.accepted,
            r.rejected,
            r.created,
            r.conflicts,
            r.unchanged,
            r.conflict_rows,
            r.errors,
            state,
        )
    assert results["copy"] == results["orm"]
    assert results["copy"][:5] == (38, 2, 38, 5, 0)


def test_an_agent_of_another_employer_may_not_import(tmp_path, employer, programme, agent_other):
    path = write_csv(tmp_path / "w.csv", [worker_row(1)])
    with pytest.raises(PermissionDenied):
        run(path, employer, programme, acting_user=agent_other)


def test_officers_import_for_employers_in_their_subtree(
    tmp_path, employer, programme, officer_cangzhou, city_shijiazhuang
):
    path = write_csv(tmp_path / "w.csv", [worker_row(1)])
    with pytest.raises(PermissionDenied):
        run(path, employer, programme, acting_user=officer_cangzhou)
    assert run(path, employer, programme, acting_user=city_shijiazhuang).created == 1


def test_15_digit_numbers_and_foreign_format_are_accepted(tmp_path, employer, programme):
    rows = [worker_row(1, 身份证号="130102850315123"), worker_row(2)]
    result = run(write_csv(tmp_path / "w.csv", rows), employer, programme)
    assert result.created == 2
    assert Person.objects.filter(id_masked__startswith="130102").get().birth_date == dt.date(1985, 3, 15)
    assert id_number(1)  # the helper makes valid numbers


def test_an_import_that_wrote_rows_announces_it(tmp_path, employer, programme, django_capture_on_commit_callbacks):
    from beneficiaries.signals import import_finished

    received = []

    def receiver(sender, **kwargs):
        received.append(kwargs)

    import_finished.connect(receiver, dispatch_uid="test-import-announce")
    try:
        with django_capture_on_commit_callbacks() as callbacks:
            run(write_csv(tmp_path / "w.csv", [worker_row(1)]), employer, programme)
        for callback in callbacks:
            callback()
        with django_capture_on_commit_callbacks() as again:
            run(write_csv(tmp_path / "w.csv", [worker_row(1)]), employer, programme)  # nothing new
    finally:
        import_finished.disconnect(dispatch_uid="test-import-announce")
    assert [(r["programme_id"], r["district_code"]) for r in received] == [(programme.pk, "130110")]
    assert again == []
