"""The sandbox host's ports: the standalone adapters, plus orders, prices and refunds from the sandbox's tables and its Saleor webhook key."""

from __future__ import annotations

from dataclasses import replace

from saleor_support_plugin.ports import Ports
from saleor_support_plugin.standalone import build_ports as standalone_ports

from .order.prices import read_variant_prices
from .order.reader import read_order
from .order.refunds import refund_status, request_refund
from .saleor_signing import signing_keys


def build_ports() -> Ports:
    return replace(
        standalone_ports(),
        read_order=read_order,
        read_variant_prices=read_variant_prices,
        request_refund=request_refund,
        refund_status=refund_status,
        saleor_signing_keys=signing_keys,
    )
