"""`manage.py check_services`: /healthz for the command line, with the details.

Exit status 0 when the database, the broker, a live worker and beat are fine, 1 when
something is down (each line says what and what to do). For monitoring and for
operators after a restart; see docs/operations.md "Jobs".
"""

from django.core.management.base import BaseCommand

from portal.health import check_all


class Command(BaseCommand):
    help = "Check the database, the broker, a live Celery worker and beat (exit 1 if one is down)."
    requires_system_checks = []

    def handle(self, *args, **options):
        checks = check_all()
        for check in checks:
            mark = self.style.SUCCESS("ok  ") if check.ok else self.style.ERROR("DOWN")
            self.stdout.write(f"{mark} {check.name:<9} {check.detail}")
        if any(not c.ok for c in checks):
            raise SystemExit(1)
