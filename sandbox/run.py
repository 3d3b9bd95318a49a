"""`./dev run`: start the sandbox host with its services and demo data.

Starts PostgreSQL (unless DATABASE_URL is set), Redis, an SMTP sink that keeps
every email the plugin sends, a Celery worker with beat, migrates, seeds and
serves the plugin's routes at the paths Saleor uses.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sandbox.settings")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default=os.environ.get("SANDBOX_HOST", "127.0.0.1"))
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("SANDBOX_PORT", 8000))
    )
    parser.add_argument(
        "--smtp-port", type=int, default=int(os.environ.get("SANDBOX_SMTP_PORT", 1025))
    )
    parser.add_argument(
        "--no-worker", action="store_true", help="Do not start a Celery worker."
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="Set everything up, print the banner and exit.",
    )
    args = parser.parse_args()

    from .services.paths import runtime_dir
    from .services.postgres import LocalPostgres
    from .services.redis import LocalRedis
    from .services.smtp import SmtpSink

    if not os.environ.get("DATABASE_URL"):
        server = LocalPostgres.default()
        server.ensure_running()
        server.ensure_database("sandbox")
    if not os.environ.get("CELERY_BROKER_URL"):
        LocalRedis.default().ensure_running()

    maildir = runtime_dir() / "mail"
    sink = SmtpSink(port=args.smtp_port, maildir=maildir)
    sink.start()
    os.environ.setdefault("SUPPORT_SMTP_URL", sink.url)

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    call_command("seed_demo")

    worker = None
    if not args.no_worker and not args.check:
        # A schedule file left by a killed run can be unreadable; beat rebuilds it.
        (runtime_dir() / "celerybeat-schedule").unlink(missing_ok=True)
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "sandbox",
                "worker",
                "--beat",
                "--loglevel",
                "INFO",
                "--concurrency",
                "2",
                "--schedule",
                str(runtime_dir() / "celerybeat-schedule"),
            ],
            cwd=Path(__file__).resolve().parents[1],
        )

    _print_banner(args.host, args.port, sink.url, maildir)
    if args.check:
        sink.stop()
        return
    try:
        call_command(
            "runserver",
            f"{args.host}:{args.port}",
            use_reloader=False,
            use_threading=True,
        )
    finally:
        if worker is not None:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=30)
        sink.stop()


def _print_banner(host: str, port: int, smtp_url: str, maildir: Path) -> None:
    from django.contrib.auth import get_user_model

    from saleor_support_plugin import PLUGIN_ID

    from .accounts.tokens import create_access_token

    base = f"http://{host}:{port}/plugins/global/{PLUGIN_ID}"
    users = get_user_model().objects
    staff_token = create_access_token(users.get(email="admin@example.com"))
    customer_token = create_access_token(users.get(email="alice@example.com"))
    query = '{"query": "{ supportVersion supportRequestor { kind email } }"}'
    sys.stdout.write(
        f"""
Saleor support plugin sandbox
  GraphQL:  {base}/graphql/   (POST application/json)
  Health:   {base}/health/
  Webhooks: {base}/webhooks/<source>/
  SMTP sink: {smtp_url}  (emails saved in {maildir})

Staff token (admin@example.com, MANAGE_ORDERS):
  {staff_token}
Customer token (alice@example.com):
  {customer_token}

Try:
  curl -s {base}/graphql/ -H 'Content-Type: application/json' \\
    -H 'Authorization: Bearer {staff_token}' \\
    -d '{query}'
"""
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
