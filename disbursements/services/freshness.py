"""The catch-up: what a change owes the entitlements and the dashboards, done within a
minute of it, by one debounced system job (disbursements.tasks, kind refresh_rollups
with params {"catch_up": true}).

A change marks (services.rollups.rollups_mark, in its own transaction) the districts it
touched, and the people or districts whose entitlements it may change. The job, queued
after that commit and also by beat every ROLLUP_CATCH_UP_SECONDS (so a lost message or
a broker restart costs one beat period):

1. computes again what the recompute marks ask for — a district whole
   (`entitlements_compute`, the fingerprint skips one whose inputs did not change) or
   one person (`entitlements_compute_person`) — each of which marks its districts;
2. refreshes the rollups of the marked districts only, programme by programme
   (`rollups_refresh(districts=…)`, which deletes the marks it covered in its own
   transaction).

Marks read by a run are deleted only once their work is committed; a mark written
meanwhile waits for the next run (one is queued by the change that wrote it), so a
killed or repeated run leaves the same result.
"""

from __future__ import annotations

from disbursements.models import RecomputeMark, RollupDirty
from disbursements.services.entitlements import entitlements_compute
from disbursements.services.person_compute import entitlements_compute_person
from disbursements.services.rollups import rollups_catching_up, rollups_refresh
from programs.models import Programme

# Each person's computation stages their district's candidates: past this many people
# of one district in a catch-up, the district is computed whole instead.
PEOPLE_PER_DISTRICT = 20


def rollups_catch_up(*, progress=None) -> dict:
    """Steps 1 and 2 of the module. Returns what was done, for the job's message."""
    with rollups_catching_up():
        return _catch_up(progress)


def _catch_up(progress) -> dict:
    step = progress or (lambda: None)
    done = {"districts_computed": 0, "people_computed": 0, "programmes": 0, "districts_refreshed": 0}
    marks = list(RecomputeMark.objects.order_by("id").values_list("id", "programme_id", "district_id", "person_id"))
    programmes = {p.pk: p for p in Programme.objects.filter(pk__in={m[1] for m in marks}).select_related("region")}
    people_in: dict[tuple[int, str], set[int]] = {}
    for _id, pid, code, person in marks:
        if person is not None:
            people_in.setdefault((pid, code), set()).add(person)
    # Many people of one district: its whole computation costs less than theirs one by one.
    crowded = {key for key, people in people_in.items() if len(people) > PEOPLE_PER_DISTRICT}
    whole = sorted(
        {(pid, code) for _id, pid, code, person in marks if person is None and pid in programmes}
        | {key for key in crowded if key[0] in programmes}
    )
    for pid, code in whole:
        entitlements_compute(programme=programmes[pid], district=code)
        done["districts_computed"] += 1
        step()
    covered = set(whole)
    people = sorted(
        {(pid, person) for _id, pid, code, person in marks if person is not None and (pid, code) not in covered}
    )
    for pid, person in people:
        if pid in programmes:
            entitlements_compute_person(programme=programmes[pid], person_id=person)
            done["people_computed"] += 1
            step()
    RecomputeMark.objects.filter(id__in=[m[0] for m in marks]).delete()
    dirty: dict[int, set[str]] = {}
    for pid, code in RollupDirty.objects.values_list("programme_id", "district_id"):
        dirty.setdefault(pid, set()).add(code)
    for programme in Programme.objects.filter(pk__in=dirty).select_related("region").order_by("pk"):
        result = rollups_refresh(programme=programme, districts=dirty[programme.pk], progress=lambda n: step())
        done["programmes"] += 1
        done["districts_refreshed"] += result["districts"]
        step()
    return done


def catch_up_owed() -> bool:
    """Whether any change waits for the catch-up (beat's check before it queues one)."""
    return RollupDirty.objects.exists() or RecomputeMark.objects.exists()
