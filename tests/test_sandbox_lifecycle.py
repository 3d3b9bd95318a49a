"""`./dev run` as a process: stopping it, and the mail each run keeps.

Ctrl-C and SIGTERM stop all a run started, `./dev stop` what a killed run left;
every run keeps its own mail, byte for byte as it was sent.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import os
import signal
import smtplib
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
import redis
from django.conf import settings

from sandbox import celery_app
from sandbox.run import stop_leftovers
from sandbox.services.paths import REPO_ROOT
from sandbox.services.smtp import SmtpSink, free_port

pytestmark = pytest.mark.services

STOP_BOUND_SECONDS = 30  # the worker's warm-shutdown grace (15 s) and some slack
DEMO_CUSTOMERS = {"alice@example.com", "bob@example.com", "guest@example.com"}
HEALTH = "/plugins/global/saleor-support-plugin/health/"


def wait_until(condition, timeout=60.0, interval=0.1, message="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise AssertionError(f"Timed out waiting for {message}")


def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name: state, ppid, pgid, ..."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None


def _descendants(root: int) -> dict[int, str]:
    """Every live process below `root`, by pid, with its start time (pids get reused)."""
    children: dict[int, list[int]] = {}
    starts = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))):
            children.setdefault(int(fields[1]), []).append(int(entry.name))
            starts[int(entry.name)] = fields[19]
    found: dict[int, str] = {}
    todo = list(children.get(root, []))
    while todo:
        pid = todo.pop()
        found[pid] = starts[pid]
        todo.extend(children.get(pid, []))
    return found


def _still_running(processes: dict[int, str]) -> list[int]:
    """Those of `processes` that still run (a zombie has stopped running)."""
    left = []
    for pid, started in processes.items():
        fields = _stat(pid)
        if fields is not None and fields[19] == started and fields[0] != "Z":
            left.append(pid)
    return left


def _group_exists(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _mail(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.glob("*.eml"))}


def _recipients(mail: dict[str, bytes]) -> set[str]:
    return {
        address.addr_spec
        for raw in mail.values()
        for address in email.message_from_bytes(raw, policy=email.policy.default)[
            "To"
        ].addresses
    }


def _fresh_database(name: str) -> str:
    db = settings.DATABASES["default"]
    server = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{server}/{name}"


def _drop_database(name: str) -> None:
    db = settings.DATABASES["default"]
    server = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _database_name(suffix: str) -> str:
    # Named after this test run's database: parallel runs by other people do not collide.
    base = str(settings.DATABASES["default"]["NAME"]).removeprefix("test_")
    return f"{base}_lifecycle_{suffix}"


@dataclass
class SandboxRun:
    """A real `python -m sandbox.run` with its own ports, runtime dir, database and broker."""

    runtime: Path
    database: str
    log: Path
    process: subprocess.Popen | None = None
    port: int = field(default_factory=free_port)
    smtp_port: int = field(default_factory=free_port)
    worker_groups: set[int] = field(default_factory=set)  # for clean_up

    def start(self) -> None:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("SUPPORT_", "EMAIL_", "CELERY_"))
        }
        env.update(
            DJANGO_SETTINGS_MODULE="sandbox.settings",
            SANDBOX_RUNTIME_DIR=str(self.runtime),
            DATABASE_URL=_fresh_database(self.database),
            CELERY_BROKER_URL=celery_app.conf.broker_url,
        )
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sandbox.run",
                "--port",
                str(self.port),
                "--smtp-port",
                str(self.smtp_port),
            ],
            cwd=REPO_ROOT,
            env=env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
        )
        wait_until(
            self._healthy, message=f"the sandbox to answer: {self.output()[-3000:]}"
        )

    def _healthy(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"The sandbox exited: {self.output()[-3000:]}")
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{self.port}{HEALTH}", timeout=2
            ) as response:
                return response.status == 200
        except OSError:
            return False

    def clean_up(self) -> None:
        """After a failed test: leave no process behind, whatever state the run is in."""
        if self.process is None:
            return
        groups = self.worker_groups | {
            int(f[2]) for pid in _descendants(self.process.pid) if (f := _stat(pid))
        }
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_BOUND_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for pgid in groups - {os.getpgid(0)}:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    @property
    def worker_pid(self) -> int:
        """The Celery worker: the run's child in a process group of its own."""
        assert self.process is not None
        workers = [
            pid
            for pid in _descendants(self.process.pid)
            if (fields := _stat(pid))
            and int(fields[1]) == self.process.pid
            and int(fields[2]) == pid
        ]
        assert len(workers) == 1, workers
        self.worker_groups.add(workers[0])
        return workers[0]

    def maildir(self) -> Path:
        folders = [path for path in (self.runtime / "mail").iterdir() if path.is_dir()]
        mine = [path for path in folders if path.name.endswith(f"-{self.process.pid}")]  # type: ignore[union-attr]
        assert len(mine) == 1, folders
        return mine[0]


@dataclass
class StoppedRun:
    exit_code: int | None
    seconds: float
    worker_pid: int
    started: dict[int, str]  # every process below the run, while it ran
    output: str
    mail: dict[str, bytes]
    maildir: Path


def _run_then_stop(run: SandboxRun, signum: int) -> StoppedRun:
    try:
        return _stop(run, signum)
    finally:
        run.clean_up()


def _stop(run: SandboxRun, signum: int) -> StoppedRun:
    run.start()
    assert run.process is not None
    wait_until(
        lambda: DEMO_CUSTOMERS <= _recipients(_mail(run.maildir())),
        message="the demo emails",
    )
    worker_pid = run.worker_pid
    started = _descendants(run.process.pid)
    began = time.monotonic()
    run.process.send_signal(signum)
    try:
        exit_code = run.process.wait(timeout=STOP_BOUND_SECONDS)
    except subprocess.TimeoutExpired:
        exit_code = None
    seconds = time.monotonic() - began
    return StoppedRun(
        exit_code,
        seconds,
        worker_pid,
        started,
        run.output(),
        _mail(run.maildir()),
        run.maildir(),
    )


@pytest.fixture(scope="module")
def two_runs(redis_server, tmp_path_factory):
    """Two runs in one runtime dir: the first stopped by SIGTERM, the second by Ctrl-C."""
    runtime = tmp_path_factory.mktemp("runtime")
    broker = redis.Redis.from_url(celery_app.conf.broker_url)
    broker.flushdb()
    first = _run_then_stop(
        SandboxRun(runtime, _database_name("a"), runtime / "first.log"),
        signal.SIGTERM,
    )
    second = _run_then_stop(
        SandboxRun(runtime, _database_name("b"), runtime / "second.log"),
        signal.SIGINT,
    )
    yield first, second, _mail(first.maildir)
    broker.flushdb()  # beat's messages must not reach the next test's worker
    _drop_database(_database_name("a"))
    _drop_database(_database_name("b"))


def test_sigterm_stops_the_worker_beat_pool_and_server_and_exits_0(two_runs):
    # given a sandbox run with its worker, beat and pool (fixture)
    # when it received SIGTERM
    stopped, _, _ = two_runs

    # then it exited 0 in time, without a traceback, and left no process behind
    assert stopped.exit_code == 0, stopped.output
    assert stopped.seconds < STOP_BOUND_SECONDS
    assert "Traceback" not in stopped.output
    assert len(stopped.started) >= 3  # the worker, beat and at least one pool process
    assert _still_running(stopped.started) == []
    assert not _group_exists(stopped.worker_pid)


def test_ctrl_c_stops_the_worker_beat_pool_and_server_and_exits_0(two_runs):
    # given a second sandbox run (fixture)
    # when it received SIGINT (Ctrl-C)
    _, stopped, _ = two_runs

    # then it exited 0 in time, without a traceback, and left no process behind
    assert stopped.exit_code == 0, stopped.output
    assert stopped.seconds < STOP_BOUND_SECONDS
    assert "Traceback" not in stopped.output
    assert len(stopped.started) >= 3
    assert _still_running(stopped.started) == []
    assert not _group_exists(stopped.worker_pid)


def test_a_second_run_keeps_the_first_runs_mail(two_runs):
    # given two runs, one after the other, in one runtime dir (fixture)
    first, second, first_mail_now = two_runs

    # then each run's demo emails are in a folder of its own, printed in its banner,
    assert first.maildir != second.maildir
    assert first.maildir.parent == second.maildir.parent
    assert f"{first.maildir}/" in first.output
    assert f"{second.maildir}/" in second.output
    assert DEMO_CUSTOMERS <= _recipients(first.mail)
    assert DEMO_CUSTOMERS <= _recipients(second.mail)
    # and the second run left the first run's files as they were
    assert first_mail_now == first.mail


def test_dev_stop_stops_the_worker_a_killed_run_left(
    redis_server, tmp_path, monkeypatch, request
):
    # given a run killed with SIGKILL: its worker, beat and pool outlive it
    request.addfinalizer(lambda: _drop_database(_database_name("c")))
    request.addfinalizer(
        lambda: redis.Redis.from_url(celery_app.conf.broker_url).flushdb()
    )
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    run = SandboxRun(runtime, _database_name("c"), tmp_path / "run.log")
    request.addfinalizer(run.clean_up)
    run.start()
    assert run.process is not None
    worker_pid = run.worker_pid
    wait_until(lambda: len(_descendants(worker_pid)) >= 2, message="beat and the pool")
    started = _descendants(run.process.pid)
    run.process.kill()
    run.process.wait(timeout=10)
    assert worker_pid in _still_running(started)

    # when `./dev stop` runs (its first step) for that runtime dir
    monkeypatch.setenv("SANDBOX_RUNTIME_DIR", str(runtime))
    stop_leftovers()

    # then nothing the run started is left running
    assert _still_running(started) == []
    assert not (runtime / "worker.pid").exists()


def test_saved_mail_holds_the_bytes_the_client_sent(tmp_path):
    # given a sink saving to a folder, and a message whose encoded, folded
    # List-Unsubscribe header re-serializing would rewrite
    sink = SmtpSink(maildir=tmp_path)
    sink.start()
    sent = (
        b"From: Sandbox Store Support <support@sandbox.example.com>\r\n"
        b"To: alice@example.com\r\n"
        b"Subject: =?utf-8?q?Ihre_Bestellung_=231002_ist_best=C3=A4tigt?=\r\n"
        b"List-Unsubscribe: =?utf-8?q?=3Chttps=3A//shop=2Eexample/plugins/global/"
        b"saleor-support-plugin/unsubscribe/?=\r\n"
        b" =?utf-8?q?=3Ftoken=3Dabc123def456ghi789jkl012mno345pqr678stu901=3E?=,\r\n"
        b"  <mailto:support@sandbox.example.com?subject=unsubscribe>\r\n"
        b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
        b"MIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n"
        b"\r\n"
        b"Hallo Bob,\r\n"
        b".a line that starts with a dot\r\n"
        b"Gr\xc3\xbc\xc3\x9fe\r\n"
    )

    # when a client sends it over SMTP
    try:
        with smtplib.SMTP(sink.host, sink.port) as client:
            client.sendmail("support@sandbox.example.com", ["alice@example.com"], sent)
        sink.wait_for(1)
    finally:
        sink.stop()

    # then the saved file holds exactly those bytes, and the in-memory copy parses them
    assert [path.name for path in tmp_path.iterdir()] == ["00001.eml"]
    assert (tmp_path / "00001.eml").read_bytes() == sent
    assert sink.messages[0].subject == "Ihre Bestellung #1002 ist bestätigt"


def test_a_cleared_sink_never_overwrites_saved_mail(tmp_path):
    # given a sink that saved one message, then had its in-memory list cleared
    sink = SmtpSink(maildir=tmp_path)
    sink.start()
    try:
        with smtplib.SMTP(sink.host, sink.port) as client:
            client.sendmail(
                "a@example.com", ["b@example.com"], b"Subject: one\r\n\r\n1\r\n"
            )
            sink.wait_for(1)
            sink.clear()

            # when the next message arrives
            client.sendmail(
                "a@example.com", ["b@example.com"], b"Subject: two\r\n\r\n2\r\n"
            )
            sink.wait_for(1)
    finally:
        sink.stop()

    # then both files are there, the first one untouched
    assert (tmp_path / "00001.eml").read_bytes() == b"Subject: one\r\n\r\n1\r\n"
    assert (tmp_path / "00002.eml").read_bytes() == b"Subject: two\r\n\r\n2\r\n"
