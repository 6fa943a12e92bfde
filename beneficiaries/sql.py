"""The raw SQL of beneficiaries, each statement a named constant with its parameters
visible (`%(name)s`): the import's phase B on PostgreSQL (beneficiaries.importer.copy_write).

The statements interpolate only table and column names, from the models' meta, when this
module is loaded; every value is a parameter. The staging table `import_stage` is a TEMP
table of the importing connection (one per transaction, dropped at its end).

Parameters of the import's statements (copy_write.Stage.params): programme, employer,
district (the employer's), note (the conflict note), source, job (or NULL).
"""

from beneficiaries.importer.result import STAGE_COLUMNS
from beneficiaries.models import Person, Registration

PERSON = Person._meta.db_table
REGISTRATION = Registration._meta.db_table

# -- the importing transaction ------------------------------------------------------------

# Serialises imports into one programme. Parameters: namespace, programme.
IMPORT_LOCK = "SELECT pg_advisory_xact_lock(%(namespace)s, %(programme)s)"
# Sorting and hashing 100,000s of staged rows in memory, not in temp files.
WORK_MEM = "SET LOCAL work_mem = '64MB'"
# The temp table has no statistics, so the planner overestimates the statements and
# JIT-compiles them: ~0.4 s per statement of compiling for no gain.
JIT_OFF = "SET LOCAL jit = off"
CONSTRAINTS_IMMEDIATE = "SET CONSTRAINTS ALL IMMEDIATE"
HASHJOIN_OFF = "SET LOCAL enable_hashjoin = off"
MERGEJOIN_OFF = "SET LOCAL enable_mergejoin = off"
# Parameter: key. One per foreign key of a registration that the import sets to a constant.
KEY_SHARE_LOCK = {
    field_name: (
        f"SELECT 1 FROM {target.model._meta.db_table} WHERE {target.column} = %(key)s FOR KEY SHARE"  # noqa: S608
    )
    for field_name, target in (
        (name, Registration._meta.get_field(name).target_field)
        for name in ("programme", "employer", "district", "import_job")
    )
}
ANALYZE_PERSONS_REGISTRATIONS = f"ANALYZE {PERSON}, {REGISTRATION}"

# -- the staging table ----------------------------------------------------------------------

STAGE_DROP_LEFTOVER = "DROP TABLE IF EXISTS pg_temp.import_stage"
# Parameter: table.
SERIAL_SEQUENCE = "SELECT pg_get_serial_sequence(%(table)s, 'id')"
_STAGE_TABLE = (
    "CREATE TEMP TABLE import_stage ("
    " row_no integer PRIMARY KEY, id_hash text, id_cipher text, id_masked text, name text, sex text,"
    " birth_date date, hukou_code_raw text, hukou_code text, phone_cipher text,"
    " phone_hash text, phone_tail text, phone_masked text, start_date date, end_date date,"
    " duty_days integer, seniority_years integer, category text, bank_name text, account_cipher text,"
    " account_masked text, payout_choice text, {new_id}, person_id bigint, name_ok boolean NOT NULL DEFAULT true)"
    " ON COMMIT DROP"
)
STAGE_CREATE = _STAGE_TABLE.format(new_id="new_id bigint")
# Parameter: sequence (the person table's): COPY draws each row a person id.
STAGE_CREATE_RESERVING_IDS = _STAGE_TABLE.format(new_id="new_id bigint DEFAULT nextval(%(sequence)s::regclass)")
STAGE_COPY = f"COPY import_stage ({', '.join(STAGE_COLUMNS)}) FROM STDIN"
STAGE_COUNT = "SELECT count(*) FROM import_stage"
STAGE_COUNT_NEW = "SELECT count(*) FILTER (WHERE person_id IS NULL) FROM import_stage"
STAGE_TRUNCATE = "TRUNCATE import_stage"
STAGE_DROP = "DROP TABLE import_stage"

# Each staged row's person, if known (one probe of the blind index per row).
STAGE_FIND_PERSONS = (
    f"UPDATE import_stage s SET person_id = p.id, name_ok = (p.name = s.name) FROM {PERSON} p"  # noqa: S608
    " WHERE p.id_hash = s.id_hash"
)
STAGE_DELETE_NAME_MISMATCHES = "DELETE FROM import_stage WHERE NOT name_ok RETURNING row_no"

# -- a dry run's prediction -----------------------------------------------------------------

_OTHER_ACTIVE = (
    f"EXISTS (SELECT 1 FROM {REGISTRATION} o WHERE o.person_id = p.id AND o.programme_id = %(programme)s"  # noqa: S608
    " AND o.employer_id <> %(employer)s AND o.status IN ('active', 'conflict'))"
)
# (staged, new persons, already registered here, would be conflicts). Parameters: programme, employer.
STAGE_PREDICT = (
    "SELECT count(*), count(*) FILTER (WHERE p.id IS NULL), count(r.id),"  # noqa: S608
    f" count(*) FILTER (WHERE r.id IS NULL AND p.id IS NOT NULL AND {_OTHER_ACTIVE})"
    f" FROM import_stage s LEFT JOIN {PERSON} p ON p.id_hash = s.id_hash"
    f" LEFT JOIN {REGISTRATION} r ON r.person_id = p.id AND r.programme_id = %(programme)s"
    " AND r.employer_id = %(employer)s"
)
# Parameters: programme, employer, limit.
STAGE_PREDICTED_CONFLICT_ROWS = (
    f"SELECT s.row_no FROM import_stage s JOIN {PERSON} p ON p.id_hash = s.id_hash"  # noqa: S608
    f" LEFT JOIN {REGISTRATION} r ON r.person_id = p.id AND r.programme_id = %(programme)s"
    " AND r.employer_id = %(employer)s"
    f" WHERE r.status = 'conflict' OR (r.id IS NULL AND {_OTHER_ACTIVE}) ORDER BY s.row_no LIMIT %(limit)s"
)

# -- the writes -----------------------------------------------------------------------------

# Persons not known yet, with the ids reserved in the staging table; sorted by blind index,
# so that two imports inserting the same persons take their index locks in the same order.
# Any fixed order does that: byte order (COLLATE "C", memcmp on abbreviated keys) sorts the
# hex digests in ~0.35 µs a row against ~0.8 µs under the database's collation.
PERSONS_INSERT_NEW = (
    f"INSERT INTO {PERSON} (id, id_hash, id_cipher, id_masked, name, sex, birth_date,"  # noqa: S608
    " hukou_code_raw, hukou_code, phone_cipher, phone_hash, phone_tail, phone_masked, created_at)"
    " SELECT new_id, id_hash, id_cipher, id_masked, name, sex, birth_date, hukou_code_raw, hukou_code,"
    " phone_cipher, phone_hash, phone_tail, phone_masked, now()"
    ' FROM import_stage WHERE person_id IS NULL ORDER BY id_hash COLLATE "C"'
)
PERSONS_INSERT_NEW_UNLESS_KNOWN = PERSONS_INSERT_NEW + " ON CONFLICT (id_hash) DO NOTHING"
_REGISTRATIONS_INSERT = (
    f"INSERT INTO {REGISTRATION} (person_id, programme_id, employer_id, district_id, start_date,"
    " end_date, duty_days, seniority_years, category, bank_name, account_cipher, account_masked,"
    " payout_choice, status, status_note, source, import_job_id, created_at, updated_at)"
)
# The registrations of the persons just inserted. Parameters: programme, employer, district,
# source, job.
REGISTRATIONS_INSERT_NEW = (
    _REGISTRATIONS_INSERT  # noqa: S608
    + " SELECT new_id, %(programme)s, %(employer)s, %(district)s, start_date, end_date,"
    " duty_days, seniority_years, category, bank_name, account_cipher, account_masked,"
    " payout_choice, 'active', '', %(source)s, %(job)s, now(), now() FROM import_stage WHERE person_id IS NULL"
)
# Registrations of persons known before: a conflict (with the note) when the person is active
# with another employer; nothing when already registered here. Returns (status, count) rows.
# "Active with another employer" is one index probe per row (LIMIT 1 keeps it a probe): as
# EXISTS the planner may hash every registration of the programme instead, once per
# statement, which the pipeline runs per chunk. Parameters: programme, employer, district,
# note, source, job.
_REGISTRATIONS_INSERT_KNOWN = (
    f"WITH ins AS ({_REGISTRATIONS_INSERT}"  # noqa: S608
    " SELECT p.id, %(programme)s, %(employer)s, %(district)s, s.start_date, s.end_date, s.duty_days,"
    " s.seniority_years, s.category, s.bank_name, s.account_cipher, s.account_masked, s.payout_choice,"
    " CASE WHEN c.other THEN 'conflict' ELSE 'active' END, CASE WHEN c.other THEN %(note)s ELSE '' END,"
    " %(source)s, %(job)s, now(), now()"
    f" FROM import_stage s JOIN {PERSON} p ON p.id = s.person_id"
    f" LEFT JOIN LATERAL (SELECT true AS other FROM {REGISTRATION} o WHERE o.person_id = p.id"
    " AND o.programme_id = %(programme)s AND o.employer_id <> %(employer)s"
    " AND o.status IN ('active', 'conflict') LIMIT 1) c ON true"
    " WHERE s.person_id IS NOT NULL ORDER BY p.id{lock}"
    " ON CONFLICT (person_id, programme_id, employer_id) DO NOTHING RETURNING status)"
    " SELECT status, count(*) FROM ins GROUP BY status"
)
REGISTRATIONS_INSERT_KNOWN = _REGISTRATIONS_INSERT_KNOWN.replace("{lock}", "")
# The same, each person locked FOR KEY SHARE (when the per-row foreign-key triggers are off).
REGISTRATIONS_INSERT_KNOWN_LOCKING = _REGISTRATIONS_INSERT_KNOWN.replace("{lock}", " FOR KEY SHARE OF p")
# The first staged rows registered here as conflicts. Parameters: programme, employer, limit.
STAGE_CONFLICT_ROWS = (
    "SELECT s.row_no FROM import_stage s CROSS JOIN LATERAL"  # noqa: S608
    f" (SELECT 1 FROM {REGISTRATION} r WHERE r.person_id = s.person_id AND r.programme_id = %(programme)s"
    " AND r.employer_id = %(employer)s AND r.status = 'conflict' LIMIT 1) c"
    " WHERE s.person_id IS NOT NULL ORDER BY s.row_no LIMIT %(limit)s"
)
