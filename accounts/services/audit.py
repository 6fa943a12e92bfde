"""The audit trail: who did what to which object, and when (`accounts.models.AuditEntry`)."""

from accounts.models import AuditEntry, User


def _entry(
    *, user: User | None, action: str, obj=None, object_type: str = "", object_id: str = "", changes=None, comment=""
) -> AuditEntry:
    """One audit row, not yet saved. `obj` gives type and id unless they are named."""
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
    return AuditEntry(
        user=user if (user is not None and user.is_authenticated) else None,
        action=action,
        object_type=object_type,
        object_id=object_id,
        changes=changes or {},
        comment=comment[:500],
    )


def audit_record(
    *, user: User | None, action: str, obj=None, object_type: str = "", object_id: str = "", changes=None, comment=""
) -> AuditEntry:
    """Add one row to the audit trail. `obj` gives type and id unless they are named."""
    entry = _entry(
        user=user,
        action=action,
        obj=obj,
        object_type=object_type,
        object_id=object_id,
        changes=changes,
        comment=comment,
    )
    entry.save(force_insert=True)
    return entry


def audit_records(*, user: User | None, action: str, entries: list[tuple]) -> list[AuditEntry]:
    """`audit_record` for many objects at once, one INSERT: `entries` are (obj, changes).
    A build of 190 batches wrote 190 single-row INSERTs (~1.5 ms each on a busy machine)."""
    return AuditEntry.objects.bulk_create(
        _entry(user=user, action=action, obj=obj, changes=changes) for obj, changes in entries
    )
