"""The Excel/CSV import pipeline of employers and stay-behind workers.

Public services: `workers_import` and `employers_import` (validate, and unless a dry
run, write), the upload/preview/confirm flow in `beneficiaries.importer.uploads`, and
the reports in `beneficiaries.importer.reports`. Views, API, CLI and the Celery task
are thin callers of these.
"""
