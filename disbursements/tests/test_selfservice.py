"""劳动者查询: the same answer for unknown and mismatched, masked results, rate limits in Redis."""

import uuid

import pytest
from django.urls import reverse

from disbursements.services.batches import batches_build
from tests.factories import make_entitlement, make_person, make_person_id, make_programme, make_rule

pytestmark = pytest.mark.django_db
URL = "/payments/lookup/"


@pytest.fixture(autouse=True)
def own_limits(monkeypatch):
    """Counters of this test only (the real Redis is shared; never flush it)."""
    monkeypatch.setattr("disbursements.services.selfservice.KEY_PREFIX", f"lookup-test-{uuid.uuid4().hex}")


@pytest.fixture
def worker(officer_luquan):
    programme = make_programme("HB-S")
    rule = make_rule(programme, "luquan_cash", name="鹿泉区留岗补贴")
    person, number = make_person(4321, name="王小明", phone="13912345678")
    make_entitlement(programme, rule, person=person, n=4321)
    batches_build(programme=programme, acting_user=officer_luquan)
    return number


def _ask(client, number, name="王小明", tail="5678", ip="10.0.0.1"):
    return client.post(URL, {"id_number": number, "name": name, "phone_tail": tail}, REMOTE_ADDR=ip)


def test_the_worker_sees_their_registration_and_payment_masked(client, worker):
    assert reverse("disbursements:worker_lookup") == URL
    response = _ask(client, worker)
    html = response.content.decode()
    assert response.status_code == 200
    assert "data-lookup-result" in html and "王*明" in html and "鹿泉区留岗补贴" in html and "发放中" in html
    assert worker not in html and "6222 **** ****" in html
    assert response["Cache-Control"] == "no-store"


def test_unknown_and_mismatch_give_the_same_answer(client, worker):
    unknown = _ask(client, make_person_id(7777)).content.decode()
    wrong_name = _ask(client, worker, name="王大明").content.decode()
    wrong_tail = _ask(client, worker, tail="0000").content.decode()
    garbage = _ask(client, "12345").content.decode()

    def message(html):
        start = html.index("data-lookup-message>") + len("data-lookup-message>")
        return html[start : html.index("</div>", start)]

    assert message(unknown) == message(wrong_name) == message(wrong_tail) == message(garbage)
    assert "data-lookup-result" not in wrong_tail


def test_rate_limited_per_id_and_client_so_strangers_cannot_lock_the_worker_out(client, worker):
    for _ in range(5):
        assert _ask(client, worker, tail="0000", ip="10.1.0.1").status_code == 200
    # The stranger's 6th attempt on this ID number is refused, even with the right details…
    refused = _ask(client, worker, ip="10.1.0.1")
    assert refused.status_code == 429 and "查询次数过多" in refused.content.decode()
    # …and other strangers each get their own few tries…
    for i in range(2, 8):
        for _ in range(5):
            assert _ask(client, worker, tail="0000", ip=f"10.1.0.{i}").status_code == 200
    # …while the real worker, from their own phone, still finds their record.
    mine = _ask(client, worker, ip="10.9.9.9")
    assert mine.status_code == 200 and "data-lookup-result" in mine.content.decode()


def test_a_global_limit_per_id_stops_a_distributed_guess(client, worker, monkeypatch):
    monkeypatch.setattr("disbursements.services.selfservice.ID_LIMIT", (12, 3600))
    for i in range(12):
        assert _ask(client, worker, tail="0000", ip=f"10.3.0.{i}").status_code == 200
    assert _ask(client, worker, ip="10.3.1.1").status_code == 429


def test_rate_limited_per_ip(client, worker):
    for i in range(20):
        _ask(client, make_person_id(8000 + i), ip="10.2.0.1")
    assert _ask(client, make_person_id(9999), ip="10.2.0.1").status_code == 429
    assert _ask(client, make_person_id(9999), ip="10.2.0.2").status_code == 200


def test_login_page_links_to_the_lookup(client):
    assert URL in client.get("/accounts/login/").content.decode()
