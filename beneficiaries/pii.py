"""Sensitive personal information (PIPL): ID, bank account and phone numbers, and what
the portal does with them (docs/privacy.md). The cryptography is core.crypto's.

* Encrypted at rest with AES-256-GCM under settings.PII_KEYS (the first key encrypts,
  every key decrypts; `manage.py rotate_pii_keys` re-encrypts old rows: `rotate_rows`).
* Found by a blind index: HMAC-SHA256 (settings.PII_INDEX_KEY) of the normalized value,
  so a person is looked up and kept unique without decrypting anything.
* Shown masked: 130108********2316, 6222 **** **** 4321, 138****5678, 张*三.
* A phone number's last four digits, which the worker gives in the public lookup, are
  kept only as a keyed digest bound to the person (`phone_tail_digest`).
* Bulk work (an import of a million rows) uses `fast()`: core.crypto's batch API plus
  `protect_rows`, everything an imported row stores of its three numbers, a batch of
  rows at a time; checked against the plain functions before use.
"""

from types import SimpleNamespace

from django.db import transaction
from django.db.models import Q

# The personal-data API that the apps call (pii.encrypt, pii.decrypt, pii.blind_index …):
# the cryptography itself lives in core.crypto, this module says what is personal.
from core.crypto import (  # noqa: F401
    PIIError,
    blind_index,
    bulk,
    current_key_id,
    decrypt,
    encrypt,
    keyed_digest,
    normalize,
    reencrypt,
)


def mask_id(number: str) -> str:
    """130108********2316: the first 6 and last 4 characters."""
    n = normalize(number)
    if len(n) <= 10:
        return "*" * len(n)
    return f"{n[:6]}{'*' * 8}{n[-4:]}"


def mask_account(number: str) -> str:
    """6222 **** **** 4321: the first 4 and last 4 digits."""
    n = normalize(number).replace("-", "")
    if not n:
        return ""
    if len(n) <= 8:
        return "*" * len(n)
    return f"{n[:4]} **** **** {n[-4:]}"


def normalize_account(raw) -> str:
    """A bank account number as digits only (spaces, dashes, full-width removed)."""
    n = normalize(raw).replace("-", "")
    if n.endswith(".0") and n[:-2].isdigit():
        n = n[:-2]
    return n


def mask_phone(number: str) -> str:
    """138****5678: the first 3 and last 4 digits."""
    n = normalize(number)
    if len(n) <= 7:
        return "*" * len(n)
    return f"{n[:3]}{'*' * (len(n) - 7)}{n[-4:]}"


# Two-character surnames keep both characters (欧阳**), as notice boards print them.
COMPOUND_SURNAMES = frozenset(
    "欧阳 司马 上官 诸葛 东方 皇甫 尉迟 公孙 慕容 长孙 宇文 司徒 夏侯 轩辕 令狐 钟离 独孤 南宫 端木 西门 "
    "申屠 太史 濮阳 澹台 公冶 宗政 单于 呼延 万俟 闻人 赫连 拓跋 百里 东郭 南门 羊舌 微生 梁丘 左丘 第五".split()
)


def mask_name(name: str) -> str:
    """张三 → 张*, 张小三 → 张*三, 欧阳娜娜 → 欧阳**: enough for a neighbour (or the person
    themself) to recognise, not enough to identify a stranger. 公示 lines and notification
    texts use it."""
    name = (name or "").strip()
    if len(name) >= 3 and name[:2] in COMPOUND_SURNAMES:
        return name[:2] + "*" * (len(name) - 2)
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def phone_tail_digest(id_hash: str, tail: str) -> str:
    """A keyed digest of a phone number's last four digits, bound to the person (their
    ID number's blind index): the public lookup compares the tail a worker types
    without the database holding it, and the same four digits of two persons do not
    give the same digest."""
    return keyed_digest(f"tail:{id_hash}:{tail}")


def protect_rows(numbers: list[str], phones: list[str], accounts: list[str]) -> list[tuple]:
    """[(id_hash, id_cipher, phone_cipher, phone_hash, phone_tail, account_cipher)] for
    rows of normalized ID, phone and account numbers (the plain functions, one value at
    a time; `fast().protect_rows` is the batch version)."""
    out = []
    for number, phone, account in zip(numbers, phones, accounts, strict=True):
        id_hash = blind_index(number)
        out.append(
            (
                id_hash,
                encrypt(number),
                encrypt(phone),
                blind_index(phone),
                phone_tail_digest(id_hash, phone[-4:]),
                encrypt(account) if account else "",
            )
        )
    return out


def _protect_rows_agrees(batch) -> bool:
    """The batch gives what the plain functions give (ciphertexts compared decrypted)."""
    numbers, phones, accounts = (
        ["13010219900101123X", "110101198001010014"],
        ["13800001234", "13912345678"],
        ["6222021234567890123", ""],
    )
    got, want = batch(numbers, phones, accounts), protect_rows(numbers, phones, accounts)
    for g, w in zip(got, want, strict=True):
        if (g[0], g[3], g[4]) != (w[0], w[3], w[4]) or (g[5] == "") != (w[5] == ""):
            return False
        if [decrypt(t) for t in (g[1], g[2], *(g[5:] if g[5] else ()))] != [
            decrypt(t) for t in (w[1], w[2], *(w[5:] if w[5] else ()))
        ]:
            return False
    return True


def fast() -> SimpleNamespace:
    """encrypt, decrypt, blind_index, phone_tail_digest and protect_rows for bulk work,
    on values already normalized (ASCII digits and X, no spaces): core.crypto's batch
    API, with protect_rows checked against the plain one before use; on any doubt the
    plain functions are used instead."""
    plain = SimpleNamespace(
        encrypt=encrypt,
        decrypt=decrypt,
        blind_index=blind_index,
        phone_tail_digest=phone_tail_digest,
        protect_rows=protect_rows,
    )
    try:
        b = bulk()
        index = b.blind_index
        index_many = b.blind_index_many
        encrypt_many_later = b.encrypt_many_later

        def fast_tail(id_hash: str, tail: str) -> str:
            return index(f"tail:{id_hash}:{tail}")

        def batch_protect_rows(numbers: list[str], phones: list[str], accounts: list[str]) -> list[tuple]:
            """Everything an imported row stores of its ID, phone and account numbers,
            for a batch of rows at once: [(id_hash, id_cipher, phone_cipher,
            phone_hash, phone_tail, account_cipher)]. The values are normalized (ASCII
            digits and X); an empty account gives "". The encryptions run beside the
            HMACs (core.crypto's encrypt_many_later)."""
            n = len(numbers)
            sealed_later = encrypt_many_later([*numbers, *phones, *(a for a in accounts if a)])
            id_hashes = index_many(numbers)
            phone_hashes = index_many(phones)
            tails = index_many([f"tail:{h}:{p[-4:]}" for h, p in zip(id_hashes, phones, strict=True)])
            sealed = sealed_later()
            id_ciphers, phone_ciphers = sealed[:n], sealed[n : 2 * n]
            rest = iter(sealed[2 * n :])
            account_ciphers = [next(rest) if a else "" for a in accounts]
            return list(zip(id_hashes, id_ciphers, phone_ciphers, phone_hashes, tails, account_ciphers, strict=True))

        probe_hash = blind_index("13010219900101123X")
        if fast_tail(probe_hash, "5678") == phone_tail_digest(probe_hash, "5678") and _protect_rows_agrees(
            batch_protect_rows
        ):
            return SimpleNamespace(
                encrypt=b.encrypt,
                decrypt=b.decrypt,
                blind_index=index,
                phone_tail_digest=fast_tail,
                protect_rows=batch_protect_rows,
            )
    except Exception:  # noqa: S110 (any doubt: the plain functions)
        pass
    return plain


def rotate_rows(queryset, fields: list[str], *, batch_size: int = 5000) -> int:
    """Re-encrypt `fields` of the rows in `queryset` under the current key, in primary-key
    batches, each in a transaction of its own (stop and run again at any time). Returns
    how many rows changed. Rows already under the current key are left alone."""
    current = current_key_id() + ":"
    stale = Q()
    for field in fields:
        stale |= ~Q(**{f"{field}__startswith": current}) & ~Q(**{field: ""})
    changed, last_pk = 0, 0
    while True:
        with transaction.atomic():
            rows = list(
                queryset.filter(stale, pk__gt=last_pk)
                .order_by("pk")
                .select_for_update()
                .only("pk", *fields)[:batch_size]
            )
            if not rows:
                return changed
            for row in rows:
                for field in fields:
                    if getattr(row, field):
                        setattr(row, field, reencrypt(getattr(row, field)))
            queryset.model.objects.bulk_update(rows, fields, batch_size=batch_size)
            changed += len(rows)
            last_pk = rows[-1].pk
