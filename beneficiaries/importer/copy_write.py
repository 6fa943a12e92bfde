"""Phase B of an import of workers on PostgreSQL: COPY the clean rows to a TEMP staging
table, then set-based statements (`Stage`); or, overlapped with phase A, a writer
thread doing the same a chunk at a time (`Pipeline`)."""

from pathlib import Path

from django.db import IntegrityError, connection, transaction

from beneficiaries import sql
from beneficiaries.choices import CONFLICT_NOTE, RegistrationStatus, Source
from beneficiaries.importer.result import (
    NAME_MISMATCH,
    ImportResult,
    Rollback,
    checkpoint,
    checkpoint_result,
)
from beneficiaries.importer.validation import validate
from beneficiaries.models import Registration
from core.db import fk_triggers_restore, fk_triggers_skip

# Serialises imports into one programme: the conflict check ("is this person active
# with another employer?") and the insert must not interleave with another import's.
LOCK_NAMESPACE = 20210121
# The statements are beneficiaries.sql's (named, with their parameters).


class Stage:
    """The TEMP staging table and the set-based statements that move it into place."""

    def __init__(self, cur, *, employer, programme, job):
        self.cur = cur
        self.params = {
            "programme": programme.pk,
            "employer": employer.pk,
            "district": employer.district_id,
            "note": CONFLICT_NOTE,
            "source": Source.IMPORT,
            "job": job.pk if job is not None else None,
        }
        self.saved_role: str | None = None  # see check_references_here
        self.insert_known = sql.REGISTRATIONS_INSERT_KNOWN  # see check_references_here
        self.optimistic = True  # see insert()
        # Rows COPYed since the last truncate, while none was looked up or removed (else
        # None): insert() then knows the counts without scanning the staging table.
        self.loaded: int | None = 0
        self.none_known = False  # the last insert() met no known person: see conflict_rows

    def create(self, *, reserve_ids: bool = True) -> None:
        """The staging table. With `reserve_ids`, COPY draws each row a person id from
        the person sequence (a column default, evaluated by COPY itself): a row whose
        person turns out to exist already leaves a gap in the ids, which costs nothing
        (bigint) and saves matching inserted persons back to their rows."""
        cur = self.cur
        cur.execute(sql.WORK_MEM)
        cur.execute(sql.JIT_OFF)
        # ON COMMIT DROP does not fire inside an outer transaction (tests, a caller's
        # atomic block): drop a leftover explicitly; drop() at the end does too.
        cur.execute(sql.STAGE_DROP_LEFTOVER)
        if reserve_ids:
            cur.execute(sql.SERIAL_SEQUENCE, {"table": sql.PERSON})
            cur.execute(sql.STAGE_CREATE_RESERVING_IDS, {"sequence": cur.fetchone()[0]})
        else:
            cur.execute(sql.STAGE_CREATE)

    def check_references_here(self) -> None:
        """Check the registrations' foreign keys set-based instead of by trigger.

        Django's foreign keys are checked by one trigger per row and key, deferred to
        COMMIT: four lookups per registration, ~4.4 s of a 100,000-row import's 7.6 s.
        Every value is known here, so the same guarantee costs one statement each: the
        programme, employer, district (and job) are constants, locked FOR KEY SHARE once
        here, as the trigger would lock them, and each person is locked FOR KEY SHARE by
        the INSERT that references it (`insert`). With those locks, `session_replication_role
        = replica` turns the per-row triggers off for this transaction only (SET LOCAL;
        reverted by restore_triggers, or by a rollback to the surrounding savepoint), by
        core.db, which the entitlements and the batch build use too.

        Setting it needs a superuser or, since PostgreSQL 15, `GRANT SET ON PARAMETER
        session_replication_role TO <role>`; without that right (or with a trigger of the
        tables' own, which replica mode would skip) the triggers stay on and the import is
        only slower. Rules and user triggers would be skipped too: the
        registration table has none (only Django's foreign-key triggers), and
        test_import_fk_checks guards that."""
        cur = self.cur
        self.saved_role = fk_triggers_skip(cur, tables=[sql.PERSON, sql.REGISTRATION])
        if self.saved_role is None:
            return
        for field_name, key in (
            ("programme", "programme"),
            ("employer", "employer"),
            ("district", "district"),
            ("import_job", "job"),
        ):
            if self.params[key] is None:
                continue
            cur.execute(sql.KEY_SHARE_LOCK[field_name], {"key": self.params[key]})
            if cur.fetchone() is None:  # what the trigger would have raised at COMMIT
                table = Registration._meta.get_field(field_name).target_field.model._meta.db_table
                raise IntegrityError(f"{table} {self.params[key]!r} no longer exists")
        self.insert_known = sql.REGISTRATIONS_INSERT_KNOWN_LOCKING

    def restore_triggers(self) -> None:
        fk_triggers_restore(self.cur, self.saved_role)
        self.saved_role = None

    def load(self, fileobj) -> None:
        # 1 MB reads instead of psycopg2's 8 kB: fewer round trips through the GIL while
        # the pipeline's other thread validates.
        raw = self.cur.cursor
        raw.copy_expert(sql.STAGE_COPY, fileobj, size=1 << 20)
        if self.loaded is not None:
            self.loaded = self.loaded + raw.rowcount if raw.rowcount >= 0 else None

    def reject_mismatches(self) -> list[int]:
        """Find each staged row's person if already known (one probe of the blind index
        per row) and remove (and return) rows whose ID number is known under another
        name: most likely a typo in one of the two."""
        self.loaded = None  # rows get their person, some are deleted: count them again
        self.cur.execute(sql.STAGE_FIND_PERSONS)
        if not self.cur.rowcount:
            return []
        self.cur.execute(sql.STAGE_DELETE_NAME_MISMATCHES)
        return sorted(r[0] for r in self.cur.fetchall())

    def predict(self) -> tuple[int, int, int, int]:
        """(staged, new persons, already registered here, would be conflicts) — no writes."""
        self.cur.execute(sql.STAGE_PREDICT, self.params)
        return self.cur.fetchone()

    def predicted_conflict_rows(self, limit: int) -> list[int]:
        self.cur.execute(sql.STAGE_PREDICTED_CONFLICT_ROWS, {**self.params, "limit": int(limit)})
        return [r[0] for r in self.cur.fetchall()]

    def insert(self) -> tuple[int, int, int, int, list[int]]:
        """Persons, then registrations. Returns (staged, persons created, registrations
        created, conflicts, rows rejected late: a known ID number under another name).

        Persons not known yet are inserted (with the id reserved in create) by a plain
        INSERT, and their registrations by another: no lookup of the person by blind
        index, no check for other employers' registrations, no lock and no ON CONFLICT,
        because a person this transaction creates is invisible to everyone else. Only
        persons known before go through the full statement (`_insert_known`).

        Optimistically, while no chunk of this import has met a known person, the plain
        INSERT is tried on the whole chunk before any lookup: an employer's list is
        mostly people nobody registered before. A known person makes it fail on the
        blind index; the chunk is rolled back to a savepoint, and from then on each
        chunk first looks its persons up (reject_mismatches). The same savepoint covers
        a person committed by someone else (another programme's import, a form) after
        the lookup."""
        cur = self.cur
        self.none_known = False
        if self.optimistic and self.loaded is not None:
            # Nothing looked up or removed since the COPY: every staged row is new (no
            # person_id), as the two counts below would say after a scan each.
            staged = new = self.loaded
            late = []
        else:
            cur.execute(sql.STAGE_COUNT)
            staged = cur.fetchone()[0]
            late = [] if self.optimistic else self.reject_mismatches()
            cur.execute(sql.STAGE_COUNT_NEW)
            new = cur.fetchone()[0]
        persons = created = conflicts = 0
        if new:
            try:
                with transaction.atomic():
                    cur.execute(sql.PERSONS_INSERT_NEW)
                    persons = cur.rowcount
                    cur.execute(sql.REGISTRATIONS_INSERT_NEW, self.params)
                    created = cur.rowcount
            except IntegrityError:
                persons = created = 0
                if self.optimistic:  # a known person: look them up, this chunk and the next ones
                    self.optimistic = False
                    # Statistics lag behind a large import (or a TRUNCATE): believing the
                    # persons few, the planner, without hash joins in the pipeline, put them
                    # on the outside of a nested loop over the staging table (a re-import
                    # right after an import ran for many minutes). A sampled ANALYZE is
                    # ~0.1 s, once per import.
                    cur.execute(sql.ANALYZE_PERSONS_REGISTRATIONS)
                    late = self.reject_mismatches()
                    cur.execute(sql.STAGE_COUNT_NEW)
                    if cur.fetchone()[0]:
                        cur.execute(sql.PERSONS_INSERT_NEW_UNLESS_KNOWN)
                        persons = cur.rowcount
                else:  # committed by someone else since the lookup
                    cur.execute(sql.PERSONS_INSERT_NEW_UNLESS_KNOWN)
                    persons = cur.rowcount
                late += self.reject_mismatches()  # now every row has its person_id
        staged -= len(late)
        self.none_known = self.optimistic and staged == created  # no row has a person_id
        if staged > created:
            known_created, conflicts = self._insert_known()
            created += known_created
        return staged, persons, created, conflicts, sorted(late)

    def _insert_known(self) -> tuple[int, int]:
        """Registrations of persons known before this chunk: a conflict when the person
        is active with another employer; nothing when already registered here."""
        self.cur.execute(self.insert_known, self.params)
        by_status = dict(self.cur.fetchall())
        return sum(by_status.values()), by_status.get(RegistrationStatus.CONFLICT, 0)

    def conflict_rows(self, limit: int) -> list[int]:
        """The first staged rows registered here as conflicts (after insert). Only known
        persons can be (a new person has no other registration), and each is one probe
        of the unique index from the staged row: the LATERAL … LIMIT 1 keeps the planner
        from starting at the programme's conflicts instead, which with the pipeline's
        nested loops meant a scan of the staging table per conflict (75 s for one chunk
        of a file whose persons were all registered by another employer). After an insert
        that met no known person, no staged row has a person_id: none, without a query."""
        if self.none_known:
            return []
        self.cur.execute(sql.STAGE_CONFLICT_ROWS, {**self.params, "limit": int(limit)})
        return [r[0] for r in self.cur.fetchall()]

    def truncate(self) -> None:
        self.cur.execute(sql.STAGE_TRUNCATE)
        self.loaded = 0
        self.none_known = False

    def drop(self) -> None:
        self.cur.execute(sql.STAGE_DROP)


def apply_copy(clean_path: Path, *, employer, programme, job, dry_run, valid_only, result: ImportResult) -> None:
    """Phase B in one go, after phase A wrote every clean row to `clean_path`."""
    outcomes = result.outcomes
    with transaction.atomic(), connection.cursor() as cur:
        if not dry_run:
            cur.execute(sql.IMPORT_LOCK, {"namespace": LOCK_NAMESPACE, "programme": programme.pk})
        stage = Stage(cur, employer=employer, programme=programme, job=job)
        stage.create(reserve_ids=not dry_run and (valid_only or outcomes.rejected == 0))
        with open(clean_path, "rb") as f:
            stage.load(f)
        # No ANALYZE: it cost ~10 % of the statement time here; without statistics the planner
        # sizes the temp table from its pages, which is enough to choose the hash joins.
        for row_no in stage.reject_mismatches():
            outcomes.reject_late(row_no, [("姓名", NAME_MISMATCH)])
        stage.optimistic = False  # the persons were just looked up
        if dry_run or not (valid_only or outcomes.rejected == 0):
            staged, new_persons, unchanged, conflicts = stage.predict()
            result.persons_created, result.unchanged, result.conflicts = new_persons, unchanged, conflicts
            result.created = staged - unchanged
            result.conflict_rows = stage.predicted_conflict_rows(100)
            stage.drop()
            return
        stage.check_references_here()
        sid = transaction.savepoint()
        staged, result.persons_created, result.created, result.conflicts, late = stage.insert()
        for row_no in late:
            outcomes.reject_late(row_no, [("姓名", NAME_MISMATCH)])
        if late and not valid_only:  # a row rejected this late still means nothing is written
            transaction.savepoint_rollback(sid)
            stage.restore_triggers()
            stage.drop()
            return
        transaction.savepoint_commit(sid)
        stage.restore_triggers()
        result.unchanged = staged - result.created
        result.conflict_rows = stage.conflict_rows(100)
        stage.drop()
        checkpoint_result(job, result)
        result.written = True


class Pipeline:
    """Phase B overlapped with phase A: a writer thread (its own database connection
    and transaction) stages and inserts chunks of clean rows while the main thread
    validates the next ones, so that Python and PostgreSQL use both cores.

    Everything is written in the writer's one transaction, and rolled back at the end
    when a rejected row means nothing may be written: the result is the one of
    `apply_copy`. Used only when the caller holds no transaction (a Celery job, the
    CLI): a thread's connection could not see the caller's uncommitted rows.
    """

    CHUNK = 10_000

    def __init__(self, *, employer, programme, job, valid_only: bool):
        import queue
        import threading

        self.employer, self.programme, self.job, self.valid_only = employer, programme, job, valid_only
        self.queue: queue.Queue = queue.Queue(maxsize=4)
        self.lines: list[bytes] = []
        self.pending_lines = 0  # lines in self.lines
        # The first batch goes to the writer at once, the later ones CHUNK lines at a time:
        # waiting for CHUNK lines first left the writer (and a core) idle for the first
        # ~0.5 s of every upload, while the worker processes checked three batches.
        self.chunk = 1
        self.late: list[int] = []
        self.error: BaseException | None = None
        self.stop_inserting = False  # set when a rejected row already means a rollback
        self.counts = [0, 0, 0, 0]  # staged, persons, created, conflicts
        self.conflict_rows: list[int] = []
        self.written = False
        self.outcomes = None
        self.thread = threading.Thread(target=self._run, name="import-writer", daemon=True)
        self.thread.start()

    # main thread ------------------------------------------------------------------
    def write(self, text: bytes) -> None:
        """Take staged lines (UTF-8): one line, or a batch of them (validation writes a
        chunk at a time). Chunks are counted in lines, not in calls: counted in calls, a
        batch of 4,096 lines counted as one, so no chunk left before the end, the whole
        file waited in memory (3.2 GB for 1,000,000 rows) and nothing was written meanwhile."""
        self.lines.append(text)
        self.pending_lines += text.count(b"\n")
        if self.pending_lines >= self.chunk:
            self.chunk = self.CHUNK
            if not self.valid_only and self.outcomes.rejected:
                self.stop_inserting = True  # the end will roll back: stage only (for the name check)
            self._put(b"".join(self.lines))
            self.lines = []
            self.pending_lines = 0

    def _put(self, item) -> None:
        import queue

        while True:
            if self.error is not None:
                raise self.error
            try:
                self.queue.put(item, timeout=0.5)
                return
            except queue.Full:
                if not self.thread.is_alive():
                    raise RuntimeError("import writer stopped") from self.error

    def finish(self, *, rejected_so_far: int) -> None:
        """Send the last chunk and the verdict inputs; wait for the writer."""
        if self.lines:
            self._put(b"".join(self.lines))
            self.lines = []
        self._put(("end", rejected_so_far))
        self.thread.join()
        if self.error is not None:
            raise self.error

    def abort(self) -> None:
        if self.thread.is_alive():
            self.error = self.error or RuntimeError("aborted")
            try:
                self.queue.put_nowait(("abort", 0))
            except Exception:  # noqa: S110 (the writer also stops on self.error)
                pass
            self.thread.join(timeout=30)

    # writer thread ------------------------------------------------------------------
    def _run(self) -> None:
        import io

        from django.db import connection as conn

        try:
            with transaction.atomic(), conn.cursor() as cur:
                cur.execute(sql.IMPORT_LOCK, {"namespace": LOCK_NAMESPACE, "programme": self.programme.pk})
                # Django's foreign keys are deferred to COMMIT, where their per-row checks
                # (four or five per registration) would run after validation has ended:
                # checked with each chunk's INSERT instead, they overlap with it too.
                cur.execute(sql.CONSTRAINTS_IMMEDIATE)
                # A chunk is small next to the person table, which grows by a chunk each
                # time: probing its id_hash index per staged row (~4 µs) costs the same at
                # any size, where the hash joins the planner picks from stale statistics
                # hash the whole person table again for every chunk (quadratic over a
                # large file: 10,000 more persons hashed per chunk, ~8 ms each time).
                cur.execute(sql.HASHJOIN_OFF)
                cur.execute(sql.MERGEJOIN_OFF)
                stage = Stage(cur, employer=self.employer, programme=self.programme, job=self.job)
                stage.create()
                stage.check_references_here()
                while True:
                    item = self.queue.get()
                    if isinstance(item, tuple):
                        kind, rejected = item
                        if kind == "abort":
                            raise Rollback
                        break
                    if self.error is not None:
                        raise Rollback
                    stage.load(io.BytesIO(item))
                    if self.stop_inserting:  # staged only for the name check, for the report
                        self.late.extend(stage.reject_mismatches())
                    else:
                        staged, persons, created, conflicts, late = stage.insert()
                        self.late.extend(late)
                        if late and not self.valid_only:
                            self.stop_inserting = True
                        for i, v in enumerate((staged, persons, created, conflicts)):
                            self.counts[i] += v
                        if len(self.conflict_rows) < 100:
                            self.conflict_rows += stage.conflict_rows(100 - len(self.conflict_rows))
                    stage.truncate()
                if self.stop_inserting or not (self.valid_only or rejected + len(self.late) == 0):
                    raise Rollback
                stage.restore_triggers()
                stage.drop()
                staged, persons, created, conflicts = self.counts
                checkpoint(
                    self.job,
                    created=created,
                    conflicts=conflicts,
                    persons_created=persons,
                    unchanged=staged - created,
                    conflict_rows=self.conflict_rows[:100],
                )
                self.written = True
        except Rollback:
            pass
        except BaseException as exc:  # handed to the main thread
            self.error = exc
        finally:
            conn.close()


def run_pipeline(table, pool, *, employer, programme, job, valid_only, progress, result: ImportResult) -> None:
    """Phase A (validation.validate, checked by `pool`) feeding the Pipeline's writer."""
    outcomes = result.outcomes
    with pool:  # its worker processes forked before the writer thread starts
        pipe = Pipeline(employer=employer, programme=programme, job=job, valid_only=valid_only)
        pipe.outcomes = outcomes
        try:
            validate(table, pool, outcomes=outcomes, out=pipe, progress=progress, result=result)
        except BaseException:
            pipe.abort()
            raise
    try:
        outcomes.close()
        progress.advance(outcomes.total, message="数据已校验，正在完成写入…", force=True)
        pipe.finish(rejected_so_far=outcomes.rejected)
    except BaseException:
        pipe.abort()
        raise
    for row_no in pipe.late:
        outcomes.reject_late(row_no, [("姓名", NAME_MISMATCH)])
    staged, result.persons_created, result.created, result.conflicts = pipe.counts
    result.unchanged = staged - result.created
    result.conflict_rows = pipe.conflict_rows[:100]
    result.written = pipe.written
