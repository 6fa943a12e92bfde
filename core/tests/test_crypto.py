"""core.crypto's batch API: the same results as the one-value functions, for lists."""

import base64

import pytest

from core import crypto

OTHER_KEY = "x9:" + base64.b64encode(b"another-key-of-thirty-two-bytes!").decode()
VALUES = ["13010219900101123X", "13800001234", "6222021234567890123", "中文也行", ""]


def test_bulk_is_the_fast_one():
    """The prepared batch API passed its own probe (else every import runs the slow path)."""
    assert crypto.bulk().encrypt is not crypto.encrypt


def test_encrypt_many_round_trips():
    f = crypto.bulk()
    tokens = f.encrypt_many(VALUES)
    assert len(tokens) == len(VALUES) and len(set(tokens)) == len(tokens)  # a nonce each
    assert f.decrypt_many(tokens) == VALUES
    assert [crypto.decrypt(t) for t in tokens] == VALUES


def test_encrypt_many_later_round_trips_on_the_helper_thread():
    f = crypto.bulk()
    many = [f"6222{i:015d}" for i in range(crypto.PARALLEL_MIN * 2)]
    tokens = f.encrypt_many_later(many)()
    assert [crypto.decrypt(t) for t in tokens] == many


def test_batch_gives_what_the_single_value_api_gives():
    f = crypto.bulk()
    assert f.blind_index_many(VALUES) == [crypto.keyed_digest(v) for v in VALUES]
    assert f.blind_index_many(VALUES[:3]) == [crypto.blind_index(v) for v in VALUES[:3]]
    singles = [crypto.encrypt(v) for v in VALUES[:4]]
    assert f.decrypt_many([*singles, ""]) == [*VALUES[:4], ""]
    tokens = f.encrypt_many(VALUES[:4])
    assert all(crypto.key_id_of(t) == crypto.current_key_id() for t in tokens)
    assert [f.decrypt(t) for t in tokens] == [crypto.decrypt(t) for t in tokens]


def test_nonces_are_not_reused_across_a_batch():
    tokens = crypto.bulk().encrypt_many(["same"] * 1000)
    nonces = {base64.b64decode(t.partition(":")[2])[: crypto.NONCE_BYTES] for t in tokens}
    assert len(nonces) == 1000


def test_a_token_under_an_unknown_key_is_refused(settings):
    tokens = crypto.bulk().encrypt_many(VALUES[:2])
    settings.PII_KEYS = [OTHER_KEY]
    f = crypto.bulk()
    with pytest.raises(crypto.PIIError):
        f.decrypt_many(tokens)
    with pytest.raises(crypto.PIIError):
        crypto.decrypt(tokens[0])


def test_a_token_under_the_wrong_key_of_the_same_id_is_refused(settings):
    """The same key id with other key bytes: GCM's tag refuses it (no garbage out)."""
    key_id = crypto.current_key_id()
    tokens = crypto.bulk().encrypt_many(VALUES[:2])
    settings.PII_KEYS = [key_id + ":" + OTHER_KEY.partition(":")[2]]
    f = crypto.bulk()
    with pytest.raises(crypto.PIIError):
        f.decrypt_many(tokens)


def test_a_damaged_token_is_refused():
    token = crypto.bulk().encrypt_many(["13010219900101123X"])[0]
    damaged = token[:-6] + ("AAAA" if not token[-6:-2].startswith("AAAA") else "BBBB") + token[-2:]
    with pytest.raises(crypto.PIIError):
        crypto.bulk().decrypt_many([damaged])
