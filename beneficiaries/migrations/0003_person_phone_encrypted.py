"""Phone numbers encrypted like ID numbers: cipher, blind index, keyed digest of the
last four digits, mask. Existing numbers are encrypted in batches, then the clear
column is dropped. Reversible (decrypts back into the clear column).

The backfill calls beneficiaries.pii, the one encryption module, on purpose: a copy of
the cipher here would be a second implementation to keep in step with the keys."""

from django.db import migrations, models

BATCH = 5000


def encrypt_phones(apps, schema_editor):
    from beneficiaries import pii

    Person = apps.get_model("beneficiaries", "Person")
    qs = Person.objects.exclude(phone="").filter(phone_cipher="").order_by("pk")
    last = 0
    while True:
        rows = list(qs.filter(pk__gt=last).only("pk", "id_hash", "phone")[:BATCH])
        if not rows:
            return
        f = pii.fast()
        for p in rows:
            number = pii.normalize(p.phone)
            p.phone_cipher = f.encrypt(number)
            p.phone_hash = f.blind_index(number)
            p.phone_tail = f.phone_tail_digest(p.id_hash, number[-4:])
            p.phone_masked = pii.mask_phone(number)
        Person.objects.bulk_update(rows, ["phone_cipher", "phone_hash", "phone_tail", "phone_masked"])
        last = rows[-1].pk


def decrypt_phones(apps, schema_editor):
    from beneficiaries import pii

    Person = apps.get_model("beneficiaries", "Person")
    qs = Person.objects.exclude(phone_cipher="").order_by("pk")
    last = 0
    while True:
        rows = list(qs.filter(pk__gt=last).only("pk", "phone_cipher")[:BATCH])
        if not rows:
            return
        for p in rows:
            p.phone = pii.decrypt(p.phone_cipher)
        Person.objects.bulk_update(rows, ["phone"])
        last = rows[-1].pk


class Migration(migrations.Migration):
    dependencies = [("beneficiaries", "0002_lean_person_registration_indexes")]

    operations = [
        migrations.AddField("person", "phone_cipher", models.TextField(blank=True, db_default="")),
        migrations.AddField("person", "phone_hash", models.CharField(blank=True, db_default="", max_length=64)),
        migrations.AddField("person", "phone_tail", models.CharField(blank=True, db_default="", max_length=64)),
        migrations.AddField(
            "person", "phone_masked", models.CharField(blank=True, db_default="", max_length=11, verbose_name="手机号")
        ),
        migrations.RunPython(encrypt_phones, decrypt_phones),
        migrations.RemoveField("person", "phone"),
    ]
