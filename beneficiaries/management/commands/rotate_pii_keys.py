"""Re-encrypt personal data under the current PII key (the first of PII_KEYS).

Rotation: put the new key first in PII_KEYS (keep the old ones after it), restart,
run this command, then drop the old key. Rows are re-encrypted in primary-key
batches, each in its own transaction, so the command can be stopped and run again.

Covers Person.id_cipher and Registration.account_cipher. Payment lines
(disbursements.PaymentLine) keep the frozen account snapshot they were paid with and
belong to a higher app that this one must not import; rotate them with that app's
own command.
"""

from django.core.management.base import BaseCommand
from django.db import transaction

from beneficiaries import pii
from beneficiaries.models import Person, Registration


def _rotate(model, field: str, batch_size: int) -> int:
    current = pii.current_key_id() + ":"
    changed, last_pk = 0, 0
    while True:
        with transaction.atomic():
            rows = list(
                model.objects.filter(pk__gt=last_pk)
                .exclude(**{f"{field}__startswith": current})
                .exclude(**{field: ""})
                .order_by("pk")
                .select_for_update()
                .only("pk", field)[:batch_size]
            )
            if not rows:
                return changed
            for row in rows:
                setattr(row, field, pii.reencrypt(getattr(row, field)))
            model.objects.bulk_update(rows, [field], batch_size=batch_size)
            changed += len(rows)
            last_pk = rows[-1].pk


class Command(BaseCommand):
    help = "把人员证件号和银行账号按当前密钥（PII_KEYS 第一个）重新加密。"

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=5000)

    def handle(self, *args, batch_size: int, **options):
        people = _rotate(Person, "id_cipher", batch_size)
        accounts = _rotate(Registration, "account_cipher", batch_size)
        self.stdout.write(
            f"已按密钥 {pii.current_key_id()} 重新加密：人员证件号 {people} 条，登记银行账号 {accounts} 条。"
            "（发放明细中的账号快照不在本命令范围内。）"
        )
