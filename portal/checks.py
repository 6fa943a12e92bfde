"""System check run by `migrate` (and `check --database default`): a DATABASE_URL that
parses but points at nothing stops the command with one clear line instead of a
traceback. Tagged `database`, so commands that need no database (collectstatic in an
image build, `check`) never connect."""

from django.core.checks import Error, Tags, register


@register(Tags.database)
def database_answers(app_configs=None, databases=None, **kwargs):
    if not databases or "default" not in databases:
        return []
    from portal.health import check_database

    check = check_database()
    if check.ok:
        return []
    return [
        Error(
            f"DATABASE_URL: {check.detail}",
            hint="Start the database, or correct DATABASE_URL (postgres://user:password@host:5432/name).",
            id="portal.E001",
        )
    ]


@register()
def sms_backend_imports(app_configs=None, **kwargs):
    """SMS_BACKEND is a class path: a typo is reported at start-up, not at the first SMS."""
    from django.conf import settings
    from django.utils.module_loading import import_string

    try:
        backend = import_string(settings.SMS_BACKEND)
    except ImportError as exc:
        return [Error(f"SMS_BACKEND={settings.SMS_BACKEND!r} cannot be imported: {exc}", id="portal.E002")]
    if not callable(getattr(backend, "send", None)):
        return [Error(f"SMS_BACKEND={settings.SMS_BACKEND!r} has no send(message) method.", id="portal.E003")]
    return []
