#!/usr/bin/env python
"""Django's command-line utility for the sandbox host."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sandbox.settings")
    if not os.environ.get("DATABASE_URL"):
        from sandbox.services.postgres import LocalPostgres

        server = LocalPostgres.default()
        server.ensure_running()
        server.ensure_database("sandbox")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
