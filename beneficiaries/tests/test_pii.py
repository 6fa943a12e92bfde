import base64

import pytest
from django.core.management import call_command
from django.test import override_settings

from beneficiaries import pii

OLD = "old:" + base64.b64encode(b"o" * 32).decode()
NEW = "new:" + base64.b64encode(b"n" * 32).decode()


def test_round_trip_and_format():
    token = pii.encrypt("11010519491231002X")
    key_id, _, body = token.partition(":")
    assert key_id == pii.current_key_id()
    assert len(base64.b64decode(body)) == 12 + 18 + 16  # nonce + ciphertext + tag
    assert "11010519491231002X" not in token
    assert pii.decrypt(token) == "11010519491231002X"
    assert pii.encrypt("同一值") != pii.encrypt("同一值")  # a fresh nonce each time


def test_rotation_old_tokens_decrypt_after_a_new_key_is_added_first():
    with override_settings(PII_KEYS=[OLD]):
        token = pii.encrypt("6222020200112345678")
        assert token.startswith("old:")
    with override_settings(PII_KEYS=[NEW, OLD]):
        assert pii.decrypt(token) == "6222020200112345678"
        assert pii.encrypt("x").startswith("new:")
        rotated = pii.reencrypt(token)
        assert rotated.startswith("new:")
        assert pii.decrypt(rotated) == "6222020200112345678"
        assert pii.reencrypt(rotated) == rotated
    with override_settings(PII_KEYS=[NEW]), pytest.raises(pii.PIIError, match="不在 PII_KEYS 中"):
        pii.decrypt(token)


def test_tampered_token_is_refused():
    token = pii.encrypt("secret")
    key_id, _, body = token.partition(":")
    raw = bytearray(base64.b64decode(body))
    raw[-1] ^= 1
    with pytest.raises(pii.PIIError, match="已损坏"):
        pii.decrypt(f"{key_id}:{base64.b64encode(bytes(raw)).decode()}")


def test_blind_index_is_stable_and_normalized():
    a = pii.blind_index("11010519491231002X")
    assert a == pii.blind_index("110105 19491231 002x")
    assert a == pii.blind_index("１１０１０５１９４９１２３１００２Ｘ")
    assert a != pii.blind_index("11010519491231003X")
    assert len(a) == 64 and int(a, 16) >= 0
    with override_settings(PII_INDEX_KEY="another-key"):
        assert pii.blind_index("11010519491231002X") != a


def test_masks():
    assert pii.mask_id("130108198001012316") == "130108********2316"
    assert pii.mask_id("11010519491231002x") == "110105********002X"
    assert pii.mask_account("6222020200114321") == "6222 **** **** 4321"
    assert pii.mask_account("6222 0202 0011 4321") == "6222 **** **** 4321"
    assert pii.mask_account("") == ""


@pytest.mark.django_db
def test_rotate_pii_keys_command():
    import datetime as dt

    from beneficiaries.models import Person, Registration
    from tests.factories import make_employer, make_programme

    with override_settings(PII_KEYS=[OLD]):
        person = Person.objects.create(
            id_hash=pii.blind_index("11010519491231002X"),
            id_cipher=pii.encrypt("11010519491231002X"),
            id_masked=pii.mask_id("11010519491231002X"),
            name="测试",
            hukou_code="110105",
        )
        programme = make_programme()
        employer = make_employer()
        reg = Registration.objects.create(
            person=person,
            programme=programme,
            employer=employer,
            district_id="130110",
            start_date=dt.date(2021, 1, 21),
            end_date=dt.date(2021, 3, 31),
            account_cipher=pii.encrypt("6222020200114321"),
        )
    with override_settings(PII_KEYS=[NEW, OLD]):
        call_command("rotate_pii_keys", batch_size=1, stdout=open("/dev/null", "w"))
        person.refresh_from_db()
        reg.refresh_from_db()
        assert person.id_cipher.startswith("new:")
        assert reg.account_cipher.startswith("new:")
        assert pii.decrypt(person.id_cipher) == "11010519491231002X"
    with override_settings(PII_KEYS=[NEW]):
        assert pii.decrypt(reg.account_cipher) == "6222020200114321"


def test_the_batch_api_gives_what_the_plain_functions_give():
    numbers = [f"4101021985031500{i % 10}X"[:18] for i in range(5000)]
    phones = [f"138{i:08d}" for i in range(5000)]
    accounts = [f"622202{i:013d}" if i % 3 else "" for i in range(5000)]
    batch = pii.fast().protect_rows
    assert batch is not pii.protect_rows  # the batch version passed its own probe
    got = batch(numbers, phones, accounts)
    assert len(got) == 5000
    for i in (0, 1, 2, 4999):
        id_hash, id_cipher, phone_cipher, phone_hash, tail, account_cipher = got[i]
        assert id_hash == pii.blind_index(numbers[i])
        assert phone_hash == pii.blind_index(phones[i])
        assert tail == pii.phone_tail_digest(id_hash, phones[i][-4:])
        assert pii.decrypt(id_cipher) == numbers[i] and pii.decrypt(phone_cipher) == phones[i]
        assert (pii.decrypt(account_cipher) if account_cipher else "") == accounts[i]
    # Every value of the batch has its own nonce (GCM must never reuse one under a key).
    tokens = [t for row in got for t in (row[1], row[2], row[5]) if t]
    nonces = {base64.b64decode(t.partition(":")[2])[:12] for t in tokens}
    assert len(nonces) == len(tokens) == 5000 * 2 + sum(1 for a in accounts if a)


def test_the_batch_api_follows_a_key_rotation():
    with override_settings(PII_KEYS=[NEW, OLD]):
        row = pii.fast().protect_rows(["11010519491231002X"], ["13912345678"], ["6222020200112345678"])[0]
        assert all(t.startswith("new:") for t in (row[1], row[2], row[5]))
