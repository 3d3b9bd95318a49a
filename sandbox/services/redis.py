"""A local Redis server (Celery's broker) for the sandbox and the test run."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from .paths import runtime_dir

DEFAULT_PORT = 56379


@dataclass(frozen=True)
class LocalRedis:
    port: int
    data_dir: Path

    @classmethod
    def default(cls) -> LocalRedis:
        port = int(os.environ.get("SANDBOX_REDIS_PORT", DEFAULT_PORT))
        return cls(port=port, data_dir=runtime_dir() / f"redis-{port}")

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def is_accepting(self) -> bool:
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock,
        ):
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
        return False

    def ensure_running(self) -> None:
        if self.is_accepting():
            return
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError(
                "redis-server is not installed: run ./dev setup (apt-get install redis-server)."
            )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.data_dir),
                "--daemonize",
                "yes",
                "--pidfile",
                str(self.data_dir / "redis.pid"),
                "--logfile",
                str(self.data_dir / "redis.log"),
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            check=True,
        )
        deadline = time.monotonic() + 15
        while not self.is_accepting():
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"Redis is not accepting connections on port {self.port}."
                )
            time.sleep(0.05)

    def stop(self) -> None:
        if not self.is_accepting():
            return
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock,
        ):
            sock.sendall(b"SHUTDOWN NOSAVE\r\n")
            with contextlib.suppress(OSError):
                sock.recv(16)
