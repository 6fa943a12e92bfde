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
