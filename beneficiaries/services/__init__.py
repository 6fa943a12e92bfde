"""Writes on employers, persons and registrations, a module per domain.

Every function is keyword-only, runs in a transaction, checks that the acting user
may do it (raising core.errors domain errors with Chinese messages), and writes the
audit trail. Views, API views, admin, the importer and the demo call these.
"""
