"""Adapters for hosts without Saleor (the sandbox, tests).

The configuration comes from the Django setting `SUPPORT_PLUGIN`:
`{"active": bool, "configuration": {field name: value}}`.
"""

from __future__ import annotations

from django.conf import settings as django_settings

from .conf import parse_settings
from .ports import Ports


def load_settings():
    config = getattr(django_settings, "SUPPORT_PLUGIN", {}) or {}
    return parse_settings(
        config.get("configuration", {}), active=bool(config.get("active", True))
    )


def shop_name() -> str:
    return str(getattr(django_settings, "SUPPORT_SHOP_NAME", "") or "")


def build_ports() -> Ports:
    return Ports(load_settings=load_settings, shop_name=shop_name)
