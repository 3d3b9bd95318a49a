"""The sandbox host's ports: the standalone adapters, and orders from the sandbox's tables."""

from __future__ import annotations

from dataclasses import replace

from saleor_support_plugin.ports import Ports
from saleor_support_plugin.standalone import build_ports as standalone_ports

from .order.reader import read_order


def build_ports() -> Ports:
    return replace(standalone_ports(), read_order=read_order)
