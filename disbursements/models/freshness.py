"""What the dashboards and entitlements still owe a change: the districts whose rollup
rows are out of date, and the people (or whole districts) whose entitlements must be
computed again. Rows, not a Redis set, so a mark survives a restart of Redis or of the
workers and works the same on SQLite (`make run`). Written by
`disbursements.services.rollups.rollups_mark` in the transaction of the change (so a
change that rolls back leaves no mark), consumed by the catch-up job
(`rollups_catch_up`), which deletes the marks it read in the transaction that did the
work: a mark written meanwhile stays for the next run."""

from django.db import models
from django.utils import timezone

from beneficiaries.models import Person
from programs.models import Programme
from regions.models import Region


class RollupDirty(models.Model):
    """A district whose rollup rows (RegionRollup, RuleRollup) of a programme no longer
    show its data. Several rows per district are fine (no upsert, no lock): the
    catch-up refreshes the district once and deletes them all."""

    programme = models.ForeignKey(Programme, models.CASCADE, related_name="+")
    district = models.ForeignKey(Region, models.CASCADE, related_name="+", db_index=False)
    marked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["programme", "district"], name="rollupdirty_programme_dist")]


class RecomputeMark(models.Model):
    """Entitlements to compute again within a minute instead of at the nightly run: one
    person's (an edited registration or person: `entitlements_compute_person`) or, with
    no person, a whole district's (an employer's verification or details change what
    every one of its staff is granted)."""

    programme = models.ForeignKey(Programme, models.CASCADE, related_name="+")
    district = models.ForeignKey(Region, models.CASCADE, related_name="+", db_index=False)
    person = models.ForeignKey(Person, models.CASCADE, related_name="+", null=True, blank=True, db_index=False)
    marked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["programme", "district"], name="recompute_programme_district")]
