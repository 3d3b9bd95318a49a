"""A real SMTP server (aiosmtpd) that keeps what it receives: the tests' and the sandbox's mail sink."""

from __future__ import annotations

import asyncio
import email
import email.policy
import os
import socket
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller


@dataclass(frozen=True)
class ReceivedMail:
    envelope_from: str
    envelope_to: tuple[str, ...]
    message: EmailMessage
    raw: bytes = field(
        default=b"", repr=False
    )  # the DATA bytes, as the client sent them

    @property
    def subject(self) -> str:
        return str(self.message["Subject"] or "")

    def body(self, subtype: str = "plain") -> str:
        part = self.message.get_body(preferencelist=(subtype,))
        return part.get_content() if part is not None else ""


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address.lower() in self.sink.rejected_recipients:
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        self.sink.data_started += 1
        if self.sink.data_delay:
            # A slow server: the client waits for "250" while we hold the message.
            try:
                await asyncio.sleep(self.sink.data_delay)
            except asyncio.CancelledError:
                # aiosmtpd cancels the session when the client's connection is lost.
                self.sink.dropped += 1
                raise
            reader = getattr(
                server, "_reader", None
            )  # EOF from the client half-closes only
            if (
                server.transport is None
                or server.transport.is_closing()
                or (reader is not None and reader.at_eof())
            ):
                # The client vanished before we accepted: like a real MTA, keep nothing.
                self.sink.dropped += 1
                return "451 Connection lost before acceptance"
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):  # only with decode_data=True, which we never set
            raw = raw.encode("utf-8", errors="surrogateescape")
        message = email.message_from_bytes(raw, policy=email.policy.default)
        mail = ReceivedMail(envelope.mail_from, tuple(envelope.rcpt_tos), message, raw)
        self.sink._store(mail)
        return "250 Message accepted for delivery"


def new_run_maildir(root: Path) -> Path:
    """Create a folder of its own for one run's mail under `root`; earlier runs' stay."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    for attempt in range(1000):
        suffix = f"-{attempt}" if attempt else ""
        path = root / f"{stamp}-{os.getpid()}{suffix}"
        try:
            path.mkdir(parents=True)
        except FileExistsError:
            continue
        return path
    raise RuntimeError(f"Could not create a new mail folder in {root}.")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SmtpSink:
    """Start, stop and restart on the same port; `messages` survives restarts."""

    def __init__(self, port: int | None = None, maildir: Path | None = None) -> None:
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.maildir = maildir
        self.messages: list[ReceivedMail] = []
        self.saved = 0  # files written to maildir; unlike `messages`, never reset
        self.data_delay = 0.0  # seconds to wait before accepting a message
        self.dropped = 0  # messages whose client disconnected before acceptance
        self.data_started = 0  # DATA commands received (accepted or not)
        self.rejected_recipients: set[str] = set()  # answered 550 at RCPT
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    def start(self) -> None:
        if self._controller is None:
            self._controller = Controller(
                _Handler(self), hostname=self.host, port=self.port
            )
            self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def running(self) -> bool:
        return self._controller is not None

    def _store(self, mail: ReceivedMail) -> None:
        with self._arrived:
            self.messages.append(mail)
            if self.maildir is not None:
                self._save(mail.raw)
            self._arrived.notify_all()

    def _save(self, raw: bytes) -> None:
        # The bytes as received (re-serializing would rewrite headers such as an
        # encoded List-Unsubscribe); "xb" never overwrites a file already there.
        assert self.maildir is not None
        self.maildir.mkdir(parents=True, exist_ok=True)
        while True:
            self.saved += 1
            try:
                with open(self.maildir / f"{self.saved:05d}.eml", "xb") as handle:
                    handle.write(raw)
                return
            except FileExistsError:
                continue

    def wait_for(self, count: int, timeout: float = 10.0) -> list[ReceivedMail]:
        """Block until at least `count` messages arrived (or the timeout passed)."""
        with self._arrived:
            self._arrived.wait_for(lambda: len(self.messages) >= count, timeout=timeout)
            return list(self.messages)

    def clear(self) -> None:
        with self._lock:
            self.messages.clear()
