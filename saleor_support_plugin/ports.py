"""Ports: what the plugin needs from its host, with one adapter per host.

Inside Saleor the adapters in `saleor_support_plugin.saleor.ports` read Saleor's
tables; in the sandbox host (and anywhere Saleor is absent) the standalone
adapters read Django settings. A host may name its own factory in the Django
setting `SUPPORT_PLUGIN_PORTS` ("module.path:callable").
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from importlib import import_module
from typing import Any

from django.apps import apps
from django.conf import settings as django_settings

from .conf import SupportSettings
from .orders.data import OrderData
from .price_protection.data import (
    RefundRequest,
    RefundResult,
    RefundStatus,
    VariantPrice,
)

SALEOR_PORTS = "saleor_support_plugin.saleor.ports:build_ports"
STANDALONE_PORTS = "saleor_support_plugin.standalone:build_ports"


@dataclass(frozen=True)
class Ports:
    # Settings outside a request (Celery tasks, periodic sweeps, the sandbox route).
    load_settings: Callable[[], SupportSettings]
    # Database access from tasks. Saleor routes task reads to a replica and
    # guards its writer connection; the plugin's tasks lock and write rows, so
    # they declare that they use the writer.
    writer: Callable[[], AbstractContextManager[Any]] = nullcontext
    # The shop's name (Saleor: the current Site's name); "" when the host has none.
    shop_name: Callable[[], str] = lambda: ""
    # The order as it is now, by Saleor's order id, read in the worker from the
    # primary database (a lagging replica could show the state before the change
    # that was just reported); None when the host has no such order.
    read_order: Callable[[str], OrderData | None] = lambda order_id: None
    # Current effective prices of (variant id, channel slug) pairs, in one go;
    # pairs the shop does not sell (any more) are left out.
    read_variant_prices: Callable[
        [list[tuple[str, str]]], dict[tuple[str, str], VariantPrice]
    ] = lambda pairs: {}
    # Execute one refund step; must be idempotent by `request.key`: a second call
    # with the same key returns the first call's result and moves no money.
    request_refund: Callable[[RefundRequest], RefundResult] | None = None
    # What the host knows of a refund step by its key; None when it never saw
    # it (then it is safe to request it).
    refund_status: Callable[[RefundRequest], RefundResult | None] = lambda request: None
    # The database alias for heavy reads that may lag a little (the statistics):
    # Saleor's read replica when it has one, the writer otherwise.
    read_replica: Callable[[], str] = lambda: "default"
    # The public keys (JWKs, as in Saleor's `/.well-known/jwks.json`) that sign
    # Saleor's webhooks to Apps; none when the host signs no such webhooks.
    saleor_signing_keys: Callable[[], list[dict[str, Any]]] = lambda: []


def _import(path: str) -> Callable[[], Ports]:
    module_name, _, attribute = path.partition(":")
    return getattr(import_module(module_name), attribute)


@functools.cache
def get_ports() -> Ports:
    path = getattr(django_settings, "SUPPORT_PLUGIN_PORTS", None)
    if not path:
        path = SALEOR_PORTS if apps.is_installed("saleor.plugins") else STANDALONE_PORTS
    return _import(path)()


def load_settings() -> SupportSettings:
    return get_ports().load_settings()


def writer() -> AbstractContextManager[Any]:
    return get_ports().writer()


def shop_name() -> str:
    return get_ports().shop_name()


def read_current_order(order_id: str) -> OrderData | None:
    return get_ports().read_order(order_id)


def read_variant_prices(
    pairs: list[tuple[str, str]],
) -> dict[tuple[str, str], VariantPrice]:
    return get_ports().read_variant_prices(pairs) if pairs else {}


def request_refund(request: RefundRequest) -> RefundResult:
    executor = get_ports().request_refund
    if executor is None:
        return RefundResult(
            RefundStatus.MANUAL, message="this host has no refund executor"
        )
    return executor(request)


def refund_status(request: RefundRequest) -> RefundResult | None:
    return get_ports().refund_status(request)


def read_replica() -> str:
    return get_ports().read_replica()


def saleor_signing_keys() -> list[dict[str, Any]]:
    return get_ports().saleor_signing_keys()
