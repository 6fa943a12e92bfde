"""Key rotation re-encrypts every encrypted column, payment-line snapshots included,
and re-seals a frozen batch's hash only if it was intact before."""

import base64

import pytest
from django.core.management import call_command
from django.test import override_settings

from accounts.models import AuditEntry
from beneficiaries import pii
from disbursements.models import PaymentLine
from disbursements.services.batches import batch_content_hash, batch_integrity_problems, batches_build
from tests.factories import approve, make_entitlements, make_programme, make_rule

pytestmark = pytest.mark.django_db

OLD = "old:" + base64.b64encode(b"o" * 32).decode()
NEW = "new:" + base64.b64encode(b"n" * 32).decode()


def test_rotation_covers_payment_lines_and_reseals_frozen_batches(officer_luquan, city_shijiazhuang, province_staff):
    with override_settings(PII_KEYS=[OLD]):
        programme = make_programme("HB-ROT")
        make_entitlements(programme, make_rule(programme), 3)
        (batch,) = batches_build(programme=programme, acting_user=officer_luquan)
        batch = approve(batch, officer_luquan, city_shijiazhuang, province_staff)
        sealed = batch.content_hash
        assert sealed and not batch_integrity_problems(batch)
        accounts = sorted(pii.decrypt(c) for c in PaymentLine.objects.values_list("account_cipher", flat=True))

    with override_settings(PII_KEYS=[NEW, OLD]):
        call_command("rotate_pii_keys", batch_size=2, stdout=open("/dev/null", "w"))
        batch.refresh_from_db()
        assert batch.content_hash != sealed
        assert batch.content_hash == batch_content_hash(batch)
        assert AuditEntry.objects.filter(action="pii_rotate", object_id=str(batch.pk)).exists()

    with override_settings(PII_KEYS=[NEW]):  # the old key can go now
        lines = PaymentLine.objects.filter(batch=batch)
        assert all(line.id_cipher.startswith("new:") and line.account_cipher.startswith("new:") for line in lines)
        assert sorted(pii.decrypt(line.account_cipher) for line in lines) == accounts
        assert not batch_integrity_problems(batch)


def test_a_tampered_batch_is_not_resealed(officer_luquan, city_shijiazhuang, province_staff):
    with override_settings(PII_KEYS=[OLD]):
        programme = make_programme("HB-ROT2")
        make_entitlements(programme, make_rule(programme), 2)
        (batch,) = batches_build(programme=programme, acting_user=officer_luquan)
        batch = approve(batch, officer_luquan, city_shijiazhuang, province_staff)
        PaymentLine.objects.filter(batch=batch, seq=1).update(name="篡改")
    with override_settings(PII_KEYS=[NEW, OLD]):
        call_command("rotate_pii_keys", stdout=open("/dev/null", "w"), stderr=open("/dev/null", "w"))
        batch.refresh_from_db()
        assert any("校验值" in p for p in batch_integrity_problems(batch))
