"""The writes of accounts, one module per domain: the audit trail (`audit`), the Job engine
(`jobs`: running a job; `job_recovery`: bringing dead ones back, retrying, the portal's own
system jobs), the notification outbox (`notifications`) and user management (`users`).

Callers import the module they need (`from accounts.services.jobs import job_run`): this
package file stays empty, so the modules in it never import each other through it.
"""
