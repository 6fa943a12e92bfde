"""A small day of work for the role walks: one 鹿泉 employer with an agent, four workers
paid through a batch (one failed 户名不符, one failed then corrected and re-issued), a
fifth granted but not yet batched, and another employer's worker in the same batch."""

from dataclasses import dataclass
from pathlib import Path

from disbursements.models import Entitlement
from disbursements.services.bank_results import batch_import_results, example_result_csv
from disbursements.services.batches import batch_build_supplement, batches_build, line_correct
from disbursements.services.payment_files import batch_export
from tests.factories import approve, make_entitlement, make_entitlements, make_programme, make_rule


@dataclass
class Day:
    programme: object
    employer: object
    ents: list
    late: object
    other: object
    batch: object
    supplement: object
    id_numbers: dict


def build_day(*, officer, city, province, agent, tmp_path: Path) -> Day:
    from beneficiaries import pii

    programme = make_programme("HB-DAY")
    rule = make_rule(
        programme,
        "luquan_cash",
        name="鹿泉区留鹿过年补贴",
        conditions={"hukou_outside": "city", "ownership_in": ["private", "individual", "construction"]},
    )
    ents = make_entitlements(programme, rule, 4, start=500)
    # What the rule engine keeps as the "why" (the factories write entitlements directly).
    Entitlement.objects.filter(pk__in=[e.pk for e in ents]).update(
        reason={"stay": "130110", "hukou": "130602", "ownership": "private"}
    )
    employer = ents[0].registration.employer
    employer.agents.add(agent)
    other = make_entitlement(programme, rule, n=599)
    batch = approve(batches_build(programme=programme, acting_user=officer)[0], officer, city, province)
    batch_export(batch=batch, fmt="csv", acting_user=officer)
    batch.refresh_from_db()
    seq = {line.entitlement_id: line.seq for line in batch.lines.all()}
    path = tmp_path / "result.csv"
    path.write_text(
        example_result_csv(batch, {seq[ents[0].pk]: "户名不符", seq[ents[1].pk]: "账号不存在"}), encoding="utf-8"
    )
    batch_import_results(batch=batch, path=path, acting_user=officer)
    line_correct(
        line=batch.lines.get(entitlement=ents[1]), account="6217000099998888", bank_name="中国银行", acting_user=officer
    )
    supplement = batch_build_supplement(batch=batch, acting_user=officer)
    late = make_entitlement(programme, rule, employer=employer, n=598)
    batch.refresh_from_db()
    numbers = {e.pk: pii.decrypt(e.person.id_cipher) for e in [*ents, late, other]}
    return Day(programme, employer, ents, late, other, batch, supplement, numbers)
