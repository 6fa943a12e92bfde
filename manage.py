#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    # Django keeps a settings error for `runserver` only: every other command would then
    # fail with "Models aren't loaded yet". Say what is missing instead.
    try:
        settings.INSTALLED_APPS  # noqa: B018 (loads the settings)
    except ImproperlyConfigured as exc:
        sys.exit(f"{exc}\nFor development, set DEBUG=true (as `make run` does): it supplies throwaway secrets.")

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
