"""Signals sent by beneficiaries for the apps above it.

beneficiaries may not import disbursements; disbursements listens instead.

`import_finished` — a registration import has written its rows. Send it after the
import's transaction commits:

    transaction.on_commit(lambda: import_finished.send(
        sender=Registration, programme_id=programme.pk, district_code=employer.district_id, job_id=job.pk))

disbursements recomputes that programme's entitlements for that district (a Job).
"""

from django.dispatch import Signal

import_finished = Signal()  # kwargs: programme_id, district_code (may be None), job_id

# `registry_changed` — a registration, person or employer was written through its service
# (beneficiaries.services). Sent INSIDE the change's transaction (not on commit): the
# receiver (disbursements, the dashboards' catch-up) writes its marks in the same
# transaction, so they commit or roll back with the change, and queues its job after
# the commit. kwargs:
#   districts     the stay districts whose figures changed (both, for a move)
#   programme_id  the registration's programme; None: every programme (an employer)
#   person_ids    people whose entitlements to compute again (an edited registration or person)
#   recompute     True: every entitlement of the districts (an employer's status or details)
registry_changed = Signal()


def registry_changed_send(
    sender, *, districts, programme_id: int | None = None, person_ids=(), recompute: bool = False
) -> None:
    """The one way the services send `registry_changed`."""
    registry_changed.send(
        sender=sender,
        districts=sorted({d for d in districts if d}),
        programme_id=programme_id,
        person_ids=sorted(set(person_ids)),
        recompute=recompute,
    )
