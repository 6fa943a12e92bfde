"""The 领取方式 column of the workers' import: 电子红包 / 现金 / 银行卡, or empty (as the rule says),
on the COPY path and the ORM path alike."""

import pytest

from beneficiaries.importer.workers import workers_import
from beneficiaries.models import Registration
from tests.factories import make_employer, make_programme
from tests.import_files import worker_row, write_csv

pytestmark = pytest.mark.django_db


def run(path, employer, programme, **kw):
    result = workers_import(path=path, employer=employer, programme=programme, **kw)
    rejected = list(result.outcomes.rejected_rows())
    result.cleanup()
    return result, rejected


@pytest.mark.parametrize("engine", ["copy", "orm"])
def test_the_choice_is_imported_and_a_bad_one_is_named_by_row_and_column(tmp_path, engine):
    programme = make_programme()
    employer = make_employer("循环化工园区某化工有限公司", "130172")
    rows = [worker_row(1, 领取方式="电子红包"), worker_row(2, 领取方式="现金"), worker_row(3)]
    result, _ = run(write_csv(tmp_path / "ok.csv", rows), employer, programme, engine=engine)
    assert result.created == 3
    choices = Registration.objects.filter(employer=employer).values_list("payout_choice", flat=True)
    assert sorted(choices) == ["", "cash", "red_packet"]

    bad, rejected = run(write_csv(tmp_path / "bad.csv", [worker_row(4, 领取方式="支付宝")]), employer, programme)
    assert bad.created == 0
    ((row_no, errors),) = rejected
    assert row_no == 2 and errors[0][0] == "领取方式" and "支付宝" in errors[0][1] and "电子红包" in errors[0][1]
