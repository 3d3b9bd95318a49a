"""Publishing to the broker off the request thread.

Saleor runs plugin hooks after its transaction commits, so a hook's on-commit
callback runs inside Saleor's request. Publishing there would put network I/O
(and a hung broker) on the merchant's request; instead one daemon thread per
process publishes. Anything it cannot publish (broker down, process exiting)
is still in the event log and the outbox sweeper dispatches it.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from celery import current_app
from django.conf import settings as django_settings

logger = logging.getLogger(__name__)

_queue: queue.Queue[tuple[Callable[..., Any], tuple[Any, ...]]] = queue.Queue(
    maxsize=10_000
)
_lock = threading.Lock()
_owner_pid: int | None = None
# Keys of coalesced work queued and not yet started (see in_background_once).
_pending: set[str] = set()
# How long coalesced work waits for more of the same: the hooks of one Saleor
# mutation arrive within a few milliseconds of each other.
COALESCE_SECONDS = 0.02


def _work() -> None:
    while True:
        func, args = _queue.get()
        try:
            func(*args)
        except Exception:
            logger.warning(
                "Background publish failed; the sweeper will retry.", exc_info=True
            )


def _ensure_thread() -> None:
    global _owner_pid
    with _lock:
        # A forked worker (gunicorn, Celery prefork) does not inherit the thread.
        if _owner_pid != os.getpid():
            _pending.clear()  # a fork's copy names work its parent's thread owns
            threading.Thread(
                target=_work, name="support-plugin-publisher", daemon=True
            ).start()
            _owner_pid = os.getpid()


def in_background(func: Callable[..., Any], *args: Any) -> None:
    """Run `func(*args)` on the publisher thread (inline when Celery is eager, as in tests)."""
    if current_app.conf.task_always_eager or not getattr(
        django_settings, "SUPPORT_PUBLISH_IN_BACKGROUND", True
    ):
        func(*args)
        return
    _ensure_thread()
    try:
        _queue.put_nowait((func, args))
    except queue.Full:
        logger.warning("Publisher queue is full; the sweeper will dispatch the rest.")


def in_background_once(key: str, func: Callable[..., Any], *args: Any) -> None:
    """Like `in_background`, but work for `key` already queued absorbs this call.

    For work that covers everything pending when it runs (reconciling an
    order): the hooks of one mutation then publish one task, not one each.
    The key is released just before the work starts, so a later call queues
    the work again and nothing that arrives is left uncovered.
    """
    if current_app.conf.task_always_eager or not getattr(
        django_settings, "SUPPORT_PUBLISH_IN_BACKGROUND", True
    ):
        func(*args)
        return
    _ensure_thread()
    with _lock:
        if key in _pending:
            return
        _pending.add(key)

    # A deadline, not a fixed sleep: orders queued together wait together, so
    # a bulk change of thousands of orders is not published 20 ms at a time.
    deadline = time.monotonic() + COALESCE_SECONDS

    def run() -> None:
        time.sleep(max(deadline - time.monotonic(), 0))
        with _lock:
            _pending.discard(key)
        func(*args)

    try:
        _queue.put_nowait((run, ()))
    except queue.Full:
        with _lock:
            _pending.discard(key)
        logger.warning("Publisher queue is full; the sweeper will dispatch the rest.")
