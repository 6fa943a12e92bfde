"""The read replica (core/replica.py, DATABASE_REPLICA_URL): the dashboard's reads go to a
real second PostgreSQL database, its writes (the export's audit row, a save of an object
read there) never do, and without a replica everything reads the primary.

The replica is a second test database (the `replica` alias of portal/test_settings.py)
filled with a copy of the primary's rows, as a streaming standby would be; then one
figure is changed on each side, so that each answer shows which database it came from.
"""

import pytest
from django.apps import apps
from django.conf import settings
from django.db import connections
from django.urls import reverse

from accounts.models import AuditEntry
from core.replica import replica_reads
from disbursements.models import RegionRollup
from disbursements.services.rollups import rollups_refresh
from portal.tests.test_dashboard import kangbao_relief
from programs.models import Programme
from tests.factories import make_programme

if "replica" not in settings.DATABASES:  # the smoke run on SQLite: portal/test_settings.py adds none
    pytest.skip("the replica test needs PostgreSQL", allow_module_level=True)

pytestmark = pytest.mark.django_db(databases=["default", "replica"])


def _copy_primary_to_replica() -> None:
    """Every table's rows, as they are in the primary's (open) test transaction."""
    tables = sorted({m._meta.db_table for m in apps.get_models(include_auto_created=True) if m._meta.managed})
    with connections["default"].cursor() as src, connections["replica"].cursor() as dst:
        # A copy: no foreign-key triggers, as on a standby.
        dst.execute("SET LOCAL session_replication_role = replica")
        dst.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in tables))
        for table in tables:
            # By name: the replica's tables come from the models, the primary's from the
            # migrations, so their columns may be in another order.
            columns = ", ".join(f'"{c}"' for c in _columns(dst, table) if c in _columns(src, table))
            buffer = _Buffer()
            src.copy_expert(f'COPY "{table}" ({columns}) TO STDOUT', buffer)
            buffer.seek(0)
            dst.copy_expert(f'COPY "{table}" ({columns}) FROM STDIN', buffer)


def _columns(cur, table: str) -> list[str]:
    cur.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = %s AND table_schema = 'public'"
        " ORDER BY ordinal_position",
        [table],
    )
    return [row[0] for row in cur.fetchall()]


class _Buffer:
    """An in-memory file for COPY: psycopg2 writes str chunks and reads them back."""

    def __init__(self):
        self.chunks, self.pos = [], 0

    def write(self, data):
        self.chunks.append(data if isinstance(data, str) else data.decode())

    def seek(self, _):
        self.data, self.pos = "".join(self.chunks), 0

    def read(self, size=-1):
        end = len(self.data) if size < 0 else self.pos + size
        out, self.pos = self.data[self.pos : end], min(end, len(self.data))
        return out

    readline = read


@pytest.fixture
def two_databases(province_staff, settings):
    programme = make_programme("REPLICA-2021", name="只读副本测试", budget="100000000.00")
    kangbao_relief(programme, people=12)
    rollups_refresh(programme=programme)
    _copy_primary_to_replica()
    # The two sides now differ in one figure, and in its version (the panel's cache key).
    for alias, amount, shift in (("default", "1111.00", "1 second"), ("replica", "2222.00", "2 seconds")):
        with connections[alias].cursor() as cur:
            cur.execute(
                "UPDATE disbursements_regionrollup SET entitled_amount = %s, refreshed_at = refreshed_at + interval %s"
                " WHERE programme_id = %s AND region_id = '130723'",
                [amount, shift, programme.pk],
            )
    settings.READ_REPLICA = "replica"
    return programme


def _entitled(client, user, **params) -> str:
    client.force_login(user)
    response = client.get(reverse("api-dashboard"), {"programme": "REPLICA-2021", "region": "130723", **params})
    assert response.status_code == 200, response.content[:300]
    return response.json()["entitled"]["amount"]


def test_the_dashboard_reads_the_replica_and_only_with_one_configured(client, two_databases, province_staff, settings):
    assert _entitled(client, province_staff) == "2222.00"
    client.force_login(province_staff)
    page = client.get(reverse("dashboard"), {"programme": "REPLICA-2021", "region": "130723"})
    assert page.status_code == 200 and "2,222.00" in page.content.decode()
    # Without a replica (DATABASE_REPLICA_URL unset) the same request reads the primary.
    settings.READ_REPLICA = ""
    assert _entitled(client, province_staff) == "1111.00"


def test_reads_elsewhere_stay_on_the_primary(two_databases):
    assert RegionRollup.objects.get(programme=two_databases, region_id="130723").entitled_amount == 1111
    with replica_reads():
        assert RegionRollup.objects.get(programme=two_databases, region_id="130723").entitled_amount == 2222


def test_writes_never_go_to_the_replica(client, two_databases, province_staff):
    # The export reads the panel from the replica and writes its audit row to the primary.
    before = {alias: AuditEntry.objects.using(alias).count() for alias in ("default", "replica")}
    client.force_login(province_staff)
    response = client.get(reverse("dashboard_export"), {"programme": "REPLICA-2021", "region": "130723"})
    assert response.status_code == 200
    assert AuditEntry.objects.using("default").count() == before["default"] + 1
    assert AuditEntry.objects.using("replica").count() == before["replica"]
    assert AuditEntry.objects.using("default").filter(action="dashboard_export").exists()

    # An object read from the replica is saved to the primary, not back where it came from.
    with replica_reads():
        programme = Programme.objects.get(pk=two_databases.pk)
        assert programme._state.db == "replica"
        programme.name = "改名只写主库"
        programme.save(update_fields=["name"])
    assert Programme.objects.using("default").get(pk=programme.pk).name == "改名只写主库"
    assert Programme.objects.using("replica").get(pk=programme.pk).name == "只读副本测试"
