"""Phone numbers are stored like ID numbers: encrypted, found by a blind index, shown
masked; their last four digits only as a keyed digest bound to the person. Every path
that writes a person (form service, CSV import by COPY, the ORM path, the demo
population) stores them so; rotate_pii_keys re-encrypts them."""

import pytest
from django.core.management import call_command
from django.db import connection

from beneficiaries import pii
from beneficiaries.importer.workers import workers_import
from beneficiaries.models import Person
from beneficiaries.services.persons import person_upsert
from core import crypto
from tests.factories import make_employer, make_id, make_programme
from tests.import_files import worker_row, write_csv

pytestmark = pytest.mark.django_db


def _no_clear_phone(phone: str) -> None:
    with connection.cursor() as cur:
        cur.execute("SELECT * FROM beneficiaries_person")
        for row in cur.fetchall():
            assert not any(phone in str(v) for v in row), row


def test_the_service_stores_the_phone_encrypted_with_index_tail_digest_and_mask():
    number = make_id("130185", "19880203", 444)
    person = person_upsert(id_number=number, name="吴秀英", phone="13931500014")
    assert pii.decrypt(person.phone_cipher) == "13931500014"
    assert person.phone_hash == pii.blind_index("13931500014")
    assert person.phone_masked == "139****0014"
    assert person.phone_tail == pii.phone_tail_digest(person.id_hash, "0014")
    assert person.phone_tail != pii.phone_tail_digest(pii.blind_index(make_id("130185", "19880203", 445)), "0014")
    _no_clear_phone("13931500014")
    # Exact search by the blind index.
    assert Person.objects.get(phone_hash=pii.blind_index(" 139 3150 0014 ")) == person
    # A new phone replaces all four columns.
    person_upsert(id_number=number, name="吴秀英", phone="13800001111")
    person.refresh_from_db()
    assert pii.decrypt(person.phone_cipher) == "13800001111" and person.phone_masked == "138****1111"
    assert person.phone_tail == pii.phone_tail_digest(person.id_hash, "1111")


@pytest.mark.parametrize("engine", ["copy", "orm"])
def test_the_import_stores_the_phone_encrypted(tmp_path, engine):
    if engine == "copy" and connection.vendor != "postgresql":
        pytest.skip("COPY needs PostgreSQL")
    employer, programme = make_employer("某某建材有限公司", "130110"), make_programme()
    rows = [worker_row(i, 手机号=f"1390000{i:04d}") for i in range(3)]
    workers_import(path=write_csv(tmp_path / "w.csv", rows), employer=employer, programme=programme, engine=engine)
    for i, person in enumerate(Person.objects.order_by("phone_masked")):
        assert pii.decrypt(person.phone_cipher) == f"1390000{i:04d}"
        assert person.phone_hash == pii.blind_index(f"1390000{i:04d}")
        assert person.phone_tail == pii.phone_tail_digest(person.id_hash, f"{i:04d}")
        assert person.phone_masked == f"139****{i:04d}"
    _no_clear_phone("13900000001")


def test_fast_and_plain_functions_agree():
    f = pii.fast()
    assert f.encrypt is not pii.encrypt  # the prepared functions are in use
    token = f.encrypt("13912345678")
    assert pii.decrypt(token) == f.decrypt(token) == "13912345678"
    assert f.decrypt(pii.encrypt("x1")) == "x1"
    assert f.blind_index("13912345678") == pii.blind_index("13912345678")
    h = pii.blind_index("130185198802034449")
    assert f.phone_tail_digest(h, "5678") == pii.phone_tail_digest(h, "5678")


def test_rotate_pii_keys_covers_the_phone(settings):
    number = make_id("130185", "19880203", 446)
    person = person_upsert(id_number=number, name="吴秀英", phone="13931500014")
    old_key = crypto.key_id_of(person.phone_cipher)
    settings.PII_KEYS = ["t9:" + "dGVzdC1waWkta2V5LTk5OTk5OTk5OTk5OTk5OTk5OTk=", *settings.PII_KEYS]
    call_command("rotate_pii_keys", verbosity=0)
    person.refresh_from_db()
    assert old_key != "t9" and crypto.key_id_of(person.phone_cipher) == "t9"
    assert pii.decrypt(person.phone_cipher) == "13931500014"


def _nonce(token: str) -> bytes:
    import base64

    return base64.b64decode(token.partition(":")[2])[: crypto.NONCE_BYTES]


def test_fast_encryption_never_repeats_a_nonce_across_pools_and_forks():
    import os

    f = pii.fast()
    nonces = [_nonce(f.encrypt("13912345678")) for _ in range(10_000)]  # more than two pools
    assert len(set(nonces)) == len(nonces)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: encrypt with the inherited instance, report the nonces
        try:
            os.write(write, b"".join(_nonce(f.encrypt("x")) for _ in range(50)))
        finally:
            os._exit(0)
    os.close(write)
    child = b""
    while chunk := os.read(read, 65536):
        child += chunk
    os.waitpid(pid, 0)
    parent = {_nonce(f.encrypt("x")) for _ in range(50)}
    child_nonces = {child[i : i + crypto.NONCE_BYTES] for i in range(0, len(child), crypto.NONCE_BYTES)}
    assert len(child_nonces) == 50 and not (child_nonces & parent)
