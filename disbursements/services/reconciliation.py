"""Reconciliation (对账) of a programme, by district and rule, to the fen.

    entitled = paid + failed + pending + adjusted

`entitled` is what granted, programme-paid entitlements add up to. `paid` is the sum
of paid payment lines (the bank's word, taken from the lines, not from the
entitlements). `failed` is what failed and has not been re-issued yet; `pending` is
entitled and neither paid nor failed yet, in a batch or not. `batched` is what is in
batches now (pending or paid lines). The equation holds by construction only when
every paid line pays exactly its entitlement: a changed amount, a paid line of a
withdrawn entitlement or a batch whose total is not the sum of its lines breaks it,
and an imbalance is shown as an alarm, never as a silent number.

Settled money (disbursements.services.settlement): a 补差 top-up is an entitlement of its own and
is counted like any other; a recovery decided on an overpayment (多发) is a negative
`adjustment` entitlement: part of `entitled`, and its own term `adjusted` (never paid,
never batched). The alarm also carries what needs a person: a frozen batch whose content
hash no longer matches its lines, and open 多发/待核查 items.
"""

from dataclasses import asdict, dataclass, field
from decimal import Decimal

from django.db import connection
from django.db.models import Count, Sum
from django.utils import translation
from django.utils.translation import gettext

from core.money import ZERO, format_yuan, to_yuan, yuan_text
from disbursements import sql
from disbursements.models import Batch, Entitlement, RegionRollup
from disbursements.services.batch_lines import PAID_CHANNELS
from disbursements.services.batches import batch_content_hash
from disbursements.services.settlement import open_overpayments_by_district
from programs.choices import Channel
from programs.models import Programme, SubsidyRule
from regions.models import Region

FIGURES = ("entitled", "batched", "paid", "failed", "pending", "adjusted")


@dataclass
class Recon:
    key: tuple = ()
    label: str = ""
    entitled: Decimal = ZERO
    batched: Decimal = ZERO
    paid: Decimal = ZERO
    failed: Decimal = ZERO
    pending: Decimal = ZERO
    adjusted: Decimal = ZERO
    entitled_count: int = 0
    paid_count: int = 0
    failed_count: int = 0
    pending_count: int = 0
    problems: list = field(default_factory=list)

    @property
    def difference(self) -> Decimal:
        return self.entitled - (self.paid + self.failed + self.pending + self.adjusted)

    @property
    def balanced(self) -> bool:
        return self.difference == 0 and not self.problems

    def add(self, other: "Recon") -> None:
        for name in (*FIGURES, "entitled_count", "paid_count", "failed_count", "pending_count"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_json(self, programme_code: str) -> dict:
        return {
            "programme": programme_code,
            **{name: format_yuan(getattr(self, name)) for name in FIGURES},
            "balanced": self.balanced,
        }

    def as_json_with_alarms(self, programme, district=None, rows=None) -> dict:
        """`reconcile --json`: the figures, and the programme's one alarm list."""
        data = self.as_json(programme.code)
        data["alarms"] = programme_alarms(programme, district, total=self, rows=rows)
        return data

    def as_dict(self) -> dict:
        data = asdict(self)
        data.update({name: format_yuan(getattr(self, name)) for name in FIGURES})
        data["difference"] = (
            format_yuan(abs(self.difference)) if self.difference >= 0 else "-" + format_yuan(-self.difference)
        )
        data["balanced"] = self.balanced
        data["key"] = list(self.key)
        return data


def _entitlements(programme, district=None, rule_key=None):
    qs = Entitlement.objects.filter(programme=programme, channel__in=PAID_CHANNELS)
    if district is not None:
        qs = qs.filter(district__path__startswith=district.path)
    if rule_key:
        qs = qs.filter(rule_key=rule_key)
    return qs


# channel: by payment channel (银行卡, 电子红包, 现金 …) — the entitlement's, which is the
# channel of its batch (a settled entitlement never changes channel).
_GROUP_COLUMNS = {"district_id": "district_id", "rule_key": "rule_key", "channel": "channel"}


def _dec(value) -> Decimal:
    return ZERO if value is None else to_yuan(value if isinstance(value, Decimal) else str(value))


def _figures(programme, district, rule_key, by) -> list[dict]:
    """Every figure by group in one pass: the programme's entitlements joined once to
    their lines (a hash join), reduced per entitlement (paid? live? failed? how much?
    any line not matching its entitlement?), then summed per group."""
    group = ", ".join(_GROUP_COLUMNS[name] for name in by)
    where = ""
    params: dict = {"programme_id": programme.pk}
    if district is not None:
        where += sql.RECONCILIATION_IN_REGION
        params["path"] = district.path + "%"
    if rule_key:
        where += sql.RECONCILIATION_OF_RULE
        params["rule_key"] = rule_key
    statement = (
        sql.RECONCILIATION_FIGURES.replace("{group}", group)
        .replace("{channels}", ", ".join(f"'{c}'" for c in PAID_CHANNELS))
        .replace("{where}", where)
    )
    names = (
        "entitled",
        "entitled_count",
        "failed",
        "failed_count",
        "pending",
        "pending_count",
        "paid",
        "paid_count",
        "batched",
        "odd",
        "adjusted",
    )
    out = []
    with connection.cursor() as cur:
        cur.execute(statement, params)
        for row in cur.fetchall():
            n = len(by)
            item = dict(zip(by, row[:n], strict=True))
            for name, value in zip(names, row[n:], strict=True):
                item[name] = int(value or 0) if name.endswith(("_count", "odd")) else _dec(value)
            out.append(item)
    return out


def reconcile(
    *, programme, district=None, rule_key=None, by: tuple[str, ...] = ("district_id", "rule_key")
) -> tuple[Recon, list[Recon]]:
    """The programme's figures (optionally one district's subtree or one rule), as a
    total and as rows grouped by `by` (fields of Entitlement: district_id, rule_key)."""
    rows: dict[tuple, Recon] = {}
    for r in _figures(programme, district, rule_key, by):
        key = tuple(r[name] for name in by)
        row = rows[key] = Recon(
            key=key,
            entitled=r["entitled"],
            entitled_count=r["entitled_count"],
            failed=r["failed"],
            failed_count=r["failed_count"],
            pending=r["pending"],
            pending_count=r["pending_count"],
            paid=r["paid"],
            paid_count=r["paid_count"],
            batched=r["batched"],
            adjusted=r["adjusted"],
        )
        if r["odd"]:
            # Lines whose amount is not their entitlement's, or that pay a withdrawn one.
            row.problems.append(gettext("%(n)s 笔发放明细与核定记录不一致（金额不同或核定已撤销）") % {"n": r["odd"]})
    total = Recon(key=())
    for row in rows.values():
        total.add(row)
        total.problems.extend(row.problems)
    for problem in batch_total_problems(programme, district):
        total.problems.append(problem)
    _label(rows.values(), by)
    return total, [rows[k] for k in sorted(rows, key=lambda k: tuple(str(x) for x in k))]


def _label(rows, by) -> None:
    names = {}
    if "district_id" in by:
        names.update(
            dict(
                Region.objects.filter(code__in={r.key[by.index("district_id")] for r in rows}).values_list(
                    "code", "name"
                )
            )
        )
    if "rule_key" in by:
        for key, name in SubsidyRule.objects.order_by("rule_key", "-version").values_list("rule_key", "name"):
            names.setdefault(f"rule:{key}", name)
    if "channel" in by:
        names.update({f"channel:{value}": label for value, label in Channel.choices})
    for row in rows:
        parts = []
        for name, value in zip(by, row.key, strict=True):
            if name == "district_id":
                parts.append(names.get(value, value))
            elif name == "channel":
                parts.append(names.get(f"channel:{value}", value))
            else:
                parts.append(names.get(f"rule:{value}", value))
        row.label = " · ".join(str(p) for p in parts)


def batch_total_problems(programme, district=None) -> list[str]:
    """Batches whose stored count or total is not the sum of their lines."""
    qs = Batch.objects.filter(programme=programme)
    if district is not None:
        qs = qs.filter(district__path__startswith=district.path)
    qs = qs.annotate(n=Count("lines"), s=Sum("lines__amount"))
    problems = []
    for number, line_count, total, n, s in qs.values_list("number", "line_count", "total", "n", "s"):
        if line_count != n or total != (s or ZERO):
            problems.append(
                gettext(
                    "批次 %(number)s 的笔数或金额（%(count)s 笔，%(total)s 元）与明细（%(lines)s 笔，%(sum)s 元）不符"
                )
                % {"number": number, "count": line_count, "total": yuan_text(total), "lines": n, "sum": yuan_text(s)}
            )
    return problems


def hash_problems(programme, district=None) -> list[tuple[str, str, str]]:
    """Frozen batches (approved and after) whose lines no longer give the content hash
    stored at approval: (district code, batch number, message). Reads every line of
    the frozen batches of the scope: the dashboard caches the result per rollup version."""
    qs = Batch.objects.filter(programme=programme).exclude(content_hash="")
    if district is not None:
        qs = qs.filter(district__path__startswith=district.path)
    out = []
    for batch in qs.order_by("district_id", "number"):
        if batch_content_hash(batch) != batch.content_hash:
            out.append(
                (
                    batch.district_id,
                    batch.number,
                    gettext("批次 %(number)s 已冻结，但明细内容的校验值已改变（数据可能被篡改）")
                    % {"number": batch.number},
                )
            )
    return out


def overpaid_problems(programme, district=None) -> list[tuple[str, str]]:
    """Open 多发/待核查 items per district: (district code, message)."""
    names = dict(Region.objects.values_list("code", "name"))
    return [
        (
            code,
            gettext("%(district)s：%(n)s 条多发/待核查记录未处理，共 %(amount)s 元")
            % {"district": names.get(code, code), "n": n, "amount": format_yuan(amount)},
        )
        for code, (n, amount) in sorted(open_overpayments_by_district(programme, district).items())
    ]


def programme_alarms(programme, district=None, *, total=None, rows=None) -> list[dict]:
    """The one alarm of a programme (or a district's subtree): a failed batch hash, an
    unbalanced district, an unresolved 多发 item. The reconciliation page, `reconcile
    --json` and the dashboard all read this list. Each item: kind (hash | unbalanced |
    overpaid | batch_total), district, message."""
    if total is None or rows is None:
        total, rows = reconcile(programme=programme, district=district, by=("district_id",))
    out = []
    for row in rows:
        if not row.balanced:
            out.append(
                {
                    "kind": "unbalanced",
                    "district": row.key[0] if row.key else "",
                    "message": gettext(
                        "%(row)s：对账不平，核定 %(entitled)s 元 ≠ 已发 %(paid)s + 失败 %(failed)s + 待发 %(pending)s"
                        " + 追回 %(adjusted)s 元"
                    )
                    % {
                        "row": row.label,
                        "entitled": format_yuan(row.entitled),
                        "paid": format_yuan(row.paid),
                        "failed": format_yuan(row.failed),
                        "pending": format_yuan(row.pending),
                        "adjusted": format_yuan(row.adjusted),
                    }
                    + "".join(gettext("；") + p for p in row.problems),
                }
            )
    for problem in batch_total_problems(programme, district):
        out.append({"kind": "batch_total", "district": "", "message": problem})
    for code, _number, message in hash_problems(programme, district):
        out.append({"kind": "hash", "district": code, "message": message})
    for code, message in overpaid_problems(programme, district):
        out.append({"kind": "overpaid", "district": code, "message": message})
    return out


def reconcile_programme_json(programme) -> dict:
    total, _rows = reconcile(programme=programme, by=("district_id",))
    return total.as_json(programme.code)


def reconciliation_alarms(user, programme=None) -> list[str]:
    """Imbalances the user's scope can see, for the dashboard and the batch list."""
    programmes = [programme] if programme is not None else list(Programme.objects.filter(status="active"))
    district = None if user.sees_everything or user.region is None or user.region.level == "province" else user.region
    alarms = []
    for prog in programmes:
        alarms.extend(f"{prog.name}{gettext('：')}{a['message']}" for a in programme_alarms(prog, district))
    return alarms


def reconciliation_alarms_cached(user, programme, *, version=None, seconds: int = 60) -> list[str]:
    """The same alarms for the dashboard and the batch list, cached per programme, scope
    and rollup version (the dashboard reads summary tables and must stay fast).

    The version is the programme's rollup `refreshed_at`, as for the dashboard panels
    (pass it when it is at hand: the dashboard has it as `region.rollup_version`): a
    refresh (queued after a computation, a batch build or a bank-result import, and run
    by beat) makes the next request compute the alarms afresh, so they never lag behind
    the figures shown beside them. `seconds` still bounds the age of a version's alarms,
    for the changes that queue no refresh.
    """
    from django.core.cache import cache

    if version is None:
        # The programme's own region's row: every row of a refresh has the same time.
        version = (
            RegionRollup.objects.filter(programme=programme, region_id=programme.region_id)
            .values_list("refreshed_at", flat=True)
            .first()
        )
    scope = "all" if user.sees_everything or user.region_id is None else user.region.path
    stamp = version.isoformat() if version is not None else "-"
    # The alarms are sentences in the page's language: one cache entry per language.
    key = f"recon-alarms:{programme.pk}:{programme.created_at.timestamp()}:{stamp}:{scope}:{translation.get_language()}"
    alarms = cache.get(key)
    if alarms is None:
        alarms = reconciliation_alarms(user, programme)
        cache.set(key, alarms, seconds)
    return alarms
