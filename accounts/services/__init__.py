"""Writes shared by every app: the audit trail (`audit`) and the Job engine (`jobs`: running
a job; `job_recovery`: bringing dead ones back, retrying, the portal's own system jobs).

Callers import the module they need (`from accounts.services.jobs import job_run`): this
package file stays empty, so the modules in it never import each other through it.
"""
