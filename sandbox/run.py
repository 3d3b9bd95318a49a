"""`./dev run`: start the sandbox host with its services and demo data.

Starts PostgreSQL (unless DATABASE_URL is set), Redis, an SMTP sink that keeps
every email the plugin sends, a Celery worker with beat, migrates, seeds and
serves the plugin's routes at the paths Saleor uses. Ctrl-C or SIGTERM stops
everything it started; `./dev stop` (stop_leftovers) stops what a killed run left.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import logging
import os
import signal
import socketserver
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sandbox.settings")

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
# A warm Celery shutdown waits for running tasks; after this it is killed.
WORKER_GRACE_SECONDS = 15.0
RUN_PID_FILE = "sandbox.pid"
WORKER_PID_FILE = "worker.pid"
# Celery warns whenever the worker runs as root, even when it accepts JSON only
# (the pickle case is refused, not warned). Its remedy, `--uid`, drops privileges
# after Python started, so later imports from an interpreter under /root (pyenv)
# fail. Sessions and CI run as root: silence exactly this warning, nothing else.
ROOT_WARNING_FILTER = "ignore:You're running the worker with superuser privileges"


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

    # SIGTERM takes the same path as Ctrl-C: unwind and stop what was started.
    for signum in STOP_SIGNALS:
        signal.signal(signum, _interrupt)
    try:
        _run(args)
    except KeyboardInterrupt:
        pass


class _Stop:
    deferring = False  # inside a step that must not be cut in half
    requested = False


def _interrupt(signum: int, frame: object) -> None:
    if _Stop.deferring:
        _Stop.requested = True
        return
    raise KeyboardInterrupt


@contextlib.contextmanager
def _deferred_stop() -> Iterator[None]:
    """Hold a stop signal until the block is done (not a signal mask: children inherit those)."""
    _Stop.deferring = True
    try:
        yield
    finally:
        _Stop.deferring = False
    if _Stop.requested:
        raise KeyboardInterrupt


def _run(args: argparse.Namespace) -> None:
    from .services.paths import runtime_dir
    from .services.postgres import LocalPostgres
    from .services.redis import LocalRedis
    from .services.smtp import SmtpSink, new_run_maildir

    runtime = runtime_dir()
    with _single_run(runtime):
        if not os.environ.get("DATABASE_URL"):
            server = LocalPostgres.default()
            server.ensure_running()
            server.ensure_database("sandbox")
        if not os.environ.get("CELERY_BROKER_URL"):
            LocalRedis.default().ensure_running()

        maildir = new_run_maildir(runtime / "mail")
        sink = SmtpSink(port=args.smtp_port, maildir=maildir)
        httpd = None
        worker: subprocess.Popen | None = None
        try:
            try:
                sink.start()
            except OSError as exc:
                sys.exit(f"SMTP port {args.smtp_port} is not free ({exc}).")
            os.environ.setdefault("SUPPORT_SMTP_URL", sink.url)

            import django

            django.setup()
            # aiosmtpd logs every SMTP command at INFO; the saved files say it all.
            logging.getLogger("mail.log").setLevel(logging.WARNING)
            from django.core.management import call_command

            if not args.check:
                httpd = _bind_http(args.host, args.port)
            call_command("migrate", interactive=False, verbosity=0)
            call_command("seed_demo")

            if not args.no_worker and not args.check:
                # A stop signal waits until `worker` is set, so cleanup sees it.
                with _deferred_stop():
                    worker = _start_worker(runtime)

            _print_banner(args.host, args.port, sink.url, maildir)
            if httpd is not None:
                httpd.serve_forever()
        finally:
            _ignore_stop_signals()  # a second Ctrl-C must not cut the cleanup short
            if httpd is not None:
                httpd.server_close()
            if worker is not None:
                sys.stderr.write("Stopping the Celery worker and beat...\n")
                stop_process_group(worker.pid, WORKER_GRACE_SECONDS, child=worker)
                (runtime / WORKER_PID_FILE).unlink(missing_ok=True)
            sink.stop()


@contextlib.contextmanager
def _single_run(runtime: Path) -> Iterator[None]:
    """Hold the runtime dir for this run; its pid lets `./dev stop` find it."""
    lock = open(runtime / "sandbox.lock", "w")  # noqa: SIM115 (held for the run)
    try:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            sys.exit(
                f"Another sandbox run uses {runtime}: stop it (Ctrl-C there, or ./dev stop)."
            )
        _write_pid_file(runtime / RUN_PID_FILE, os.getpid())
        try:
            yield
        finally:
            (runtime / RUN_PID_FILE).unlink(missing_ok=True)
    finally:
        lock.close()


def _bind_http(host: str, port: int) -> socketserver.BaseServer:
    """Bind before the slow setup, so a busy port fails at once and cleanly."""
    from django.core.servers.basehttp import (
        WSGIRequestHandler,
        WSGIServer,
        get_internal_wsgi_application,
    )

    class Server(socketserver.ThreadingMixIn, WSGIServer):
        daemon_threads = True  # as runserver: a hung request does not block exit

    try:
        httpd = Server((host, port), WSGIRequestHandler)
    except OSError as exc:
        sys.exit(f"HTTP port {port} on {host} is not free ({exc}).")
    httpd.set_app(get_internal_wsgi_application())
    return httpd


def _start_worker(runtime: Path) -> subprocess.Popen:
    # A schedule file left by a killed run can be unreadable; beat rebuilds it.
    (runtime / "celerybeat-schedule").unlink(missing_ok=True)
    # Only now: PostgreSQL and Redis, daemonized earlier, are not ours to reap.
    _adopt_orphans()
    env = dict(os.environ)
    if os.geteuid() == 0:
        env["PYTHONWARNINGS"] = ",".join(
            filter(None, [env.get("PYTHONWARNINGS"), ROOT_WARNING_FILTER])
        )
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
            str(runtime / "celerybeat-schedule"),
        ],
        cwd=Path(__file__).resolve().parents[1],
        env=env,
        # Its own session and process group (pgid == pid): the terminal's
        # Ctrl-C reaches only us, and one killpg reaches beat and the pool.
        start_new_session=True,
    )
    _write_pid_file(runtime / WORKER_PID_FILE, worker.pid)
    return worker


def _ignore_stop_signals() -> None:
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)


# --- processes, pid files and `./dev stop` --------------------------------------


def _start_time(pid: int) -> str | None:
    """Return the kernel's start time of `pid` (tells a reused pid apart), None if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    except OSError:
        return ""  # no /proc (not Linux): trust the pid
    fields = stat.rsplit(")", 1)[1].split()
    return None if fields[0] == "Z" else fields[19]


def _write_pid_file(path: Path, pid: int) -> None:
    path.write_text(f"{pid} {_start_time(pid) or ''}\n")


def _read_pid_file(path: Path) -> int | None:
    """Return the pid in `path` if that very process still runs (not a reused pid)."""
    try:
        pid_text, _, started = path.read_text().strip().partition(" ")
        pid = int(pid_text)
    except (FileNotFoundError, ValueError):
        return None
    now = _start_time(pid)
    if now is None or (started and now and now != started):
        return None
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, 0)
        return pid
    return None


def group_members(pgid: int) -> list[int]:
    """List the processes (not zombies) in process group `pgid`."""
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return []
        return [pgid]
    members = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError):
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if fields[0] != "Z" and int(fields[2]) == pgid:
                members.append(int(entry.name))
    return members


def _wait_until(done, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def stop_process_group(
    pgid: int, timeout: float, child: subprocess.Popen | None = None
) -> None:
    """Stop the group led by `pgid`, killing it if it takes more than `timeout`.

    SIGTERM goes to the leader only: Celery's warm shutdown lets running tasks
    finish, then stops beat and its pool (pool processes die at once on SIGTERM).
    """

    def reap() -> None:
        if child is None:
            return
        child.poll()  # our child: reaped here, else it lingers as a zombie
        # Pool and beat processes the worker did not wait for were handed to us
        # (_adopt_orphans); -pgid reaps only those, never our other children.
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-pgid, os.WNOHANG)[0]:
                pass

    def leader_gone() -> bool:
        reap()
        return _start_time(pgid) is None

    def group_gone() -> bool:
        reap()
        return not group_members(pgid)

    def no_zombies_left() -> bool:
        reap()
        return not _group_exists(pgid)

    with contextlib.suppress(ProcessLookupError):
        os.kill(pgid, signal.SIGTERM)
    if _wait_until(leader_gone, timeout):
        # Whatever outlived its leader (e.g. the pool of a SIGKILLed worker).
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGTERM)
        _wait_until(group_gone, 3)
    if not group_gone():
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        _wait_until(group_gone, 5)
    if child is not None:
        child.wait()
        _wait_until(no_zombies_left, 2)


def _group_exists(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _adopt_orphans() -> None:
    """Become the reaper of orphaned descendants (Linux), as an init would.

    Containers often run an init that never reaps: a pool process that outlives
    the worker would stay a zombie in its group forever.
    """
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        pr_set_child_subreaper = 36
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_child_subreaper, 1, 0, 0, 0)


def stop_leftovers() -> None:
    """`./dev stop`: stop a running sandbox, then a worker a killed run left behind."""
    from .services.paths import runtime_dir

    runtime = runtime_dir()
    run_pid = _read_pid_file(runtime / RUN_PID_FILE)
    if run_pid is not None:
        sys.stderr.write(f"Stopping the sandbox run (pid {run_pid})\n")
        os.kill(run_pid, signal.SIGTERM)
        if not _wait_until(
            lambda: _start_time(run_pid) is None, WORKER_GRACE_SECONDS + 15
        ):
            with contextlib.suppress(ProcessLookupError):
                os.kill(run_pid, signal.SIGKILL)
    worker_pid = _read_pid_file(runtime / WORKER_PID_FILE)
    if worker_pid is None:
        worker_pid = _orphaned_celery_group(runtime / WORKER_PID_FILE)
    if worker_pid is not None:
        sys.stderr.write(
            f"Stopping a Celery worker left by an earlier run (pid {worker_pid})\n"
        )
        stop_process_group(worker_pid, WORKER_GRACE_SECONDS)
    for name in (RUN_PID_FILE, WORKER_PID_FILE):  # stale, from a killed run
        (runtime / name).unlink(missing_ok=True)


def _orphaned_celery_group(pid_file: Path) -> int | None:
    """Return the recorded group if its leader died but Celery processes of it remain."""
    try:
        pgid = int(pid_file.read_text().split()[0])
    except (FileNotFoundError, ValueError, IndexError):
        return None
    for pid in group_members(pgid):
        with contextlib.suppress(OSError):
            if b"celery" not in Path(f"/proc/{pid}/cmdline").read_bytes():
                return None  # the number now belongs to someone else's group
    return pgid if group_members(pgid) else None


def _print_banner(host: str, port: int, smtp_url: str, maildir: Path) -> None:
    from django.conf import settings as django_settings
    from django.contrib.auth import get_user_model

    from saleor_support_plugin import PLUGIN_ID
    from saleor_support_plugin.ports import load_settings

    from .accounts.demo_orders import demo_orders
    from .accounts.tokens import create_access_token

    base = f"http://{host}:{port}/plugins/global/{PLUGIN_ID}"
    users = get_user_model().objects
    staff_token = create_access_token(users.get(email="admin@example.com"))
    customer_token = create_access_token(users.get(email="alice@example.com"))
    query = '{"query": "{ supportVersion supportRequestor { kind email } }"}'
    settings = load_settings()
    public_url = django_settings.PUBLIC_URL
    orders = "\n".join(f"  {order.describe()}" for order in demo_orders())
    sys.stdout.write(
        f"""
Saleor support plugin sandbox
  GraphQL:  {base}/graphql/   (POST application/json)
  Health:   {base}/health/
  Webhooks: {base}/webhooks/<source>/
  SMTP sink: {smtp_url}
  Mail:     this run's emails are saved in {maildir}/
            (each run gets its own folder; earlier runs' stay in {maildir.parent}/)

Staff token (admin@example.com, MANAGE_ORDERS):
  {staff_token}
Customer token (alice@example.com):
  {customer_token}

Try:
  curl -s {base}/graphql/ -H 'Content-Type: application/json' \\
    -H 'Authorization: Bearer {staff_token}' \\
    -d '{query}'

Demo orders (number, Saleor order ID, customer):
{orders}

Carrier:  ./dev manage carrier_event DEMO-1001 out_for_delivery   (then exception, delivered)
Price:    ./dev manage set_price 1001 79.00   (a drop: Alice's order #1001 gets 10.00 EUR back)
Inbound:  ./dev manage inbound_email alice@example.com "Where is my parcel?"
          (inbox {settings.inbound_email_address}, signed with the sandbox's inbound secret)
Survey:   ./dev manage survey_link 1004   (the links of Bob's survey email; open one in a browser)
Ticket links in emails open {public_url}/storefront/tickets/<id>/?token=…

Stop: Ctrl-C here, or `./dev stop` from another shell (that also stops PostgreSQL and Redis).
"""
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
