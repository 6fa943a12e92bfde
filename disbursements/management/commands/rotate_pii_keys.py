"""Re-encrypt personal data under the current PII key (the first of PII_KEYS).

Rotation: put the new key first in PII_KEYS (keep the old ones after it), restart,
run this command, then drop the old key. It covers every encrypted column: persons'
ID and phone numbers, registrations' bank accounts, and the frozen snapshots of
payment lines. (The blind indexes and the phone tail digests use PII_INDEX_KEY, which
this command does not change.)

A frozen (approved) batch carries a hash over its lines' snapshot, ciphertext
included, so re-encrypting its lines re-seals the hash: batch by batch, under a lock,
only if the hash still matched before (a batch that was tampered with keeps its
alarm), and with an audit entry recording the old and new hash. The command lives in
disbursements because it is the one app that may touch all three tables.
"""

from django.core.management.base import BaseCommand
from django.db import transaction
from django.db.models import Q

from accounts.services.audit import audit_record
from beneficiaries import pii
from beneficiaries.models import Person, Registration
from disbursements.models import Batch, PaymentLine
from disbursements.services.batches import batch_content_hash


class Command(BaseCommand):
    help = "把人员证件号和手机号、登记银行账号和发放明细快照按当前密钥（PII_KEYS 第一个）重新加密。"

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=5000)

    def handle(self, *args, batch_size: int, **options):
        people = pii.rotate_rows(Person.objects.all(), ["id_cipher", "phone_cipher"], batch_size=batch_size)
        accounts = pii.rotate_rows(Registration.objects.all(), ["account_cipher"], batch_size=batch_size)
        lines, resealed, kept_alarm = 0, 0, []
        current = pii.current_key_id() + ":"
        stale_lines = PaymentLine.objects.filter(
            ~Q(id_cipher__startswith=current) | (~Q(account_cipher="") & ~Q(account_cipher__startswith=current))
        )
        for batch_id in sorted(set(stale_lines.values_list("batch_id", flat=True))):
            with transaction.atomic():
                # The lock keeps exports and approvals of this batch out while it changes.
                batch = Batch.objects.select_for_update().get(pk=batch_id)
                sealed_ok = bool(batch.content_hash) and batch_content_hash(batch) == batch.content_hash
                lines += pii.rotate_rows(
                    PaymentLine.objects.filter(batch=batch), ["id_cipher", "account_cipher"], batch_size=batch_size
                )
                if sealed_ok:
                    old, new = batch.content_hash, batch_content_hash(batch)
                    Batch.objects.filter(pk=batch.pk).update(content_hash=new)
                    audit_record(
                        user=None,
                        action="pii_rotate",
                        obj=batch,
                        changes={"content_hash": [old, new], "key": pii.current_key_id()},
                        comment="密钥轮换：明细快照重新加密，批次校验值重新封存",
                    )
                    resealed += 1
                elif batch.content_hash:
                    kept_alarm.append(batch.number)
        self.stdout.write(
            f"已按密钥 {pii.current_key_id()} 重新加密：人员证件号和手机号 {people} 条，登记银行账号 {accounts} 条，"
            f"发放明细 {lines} 条；重新封存批次 {resealed} 个。"
        )
        if kept_alarm:
            self.stderr.write(f"以下批次在轮换前校验值已不符，未重新封存，请核查：{'、'.join(kept_alarm)}")
