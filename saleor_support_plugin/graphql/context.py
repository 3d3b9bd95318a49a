from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest

from ..auth import Requestor
from ..conf import SupportSettings


@dataclass
class SupportContext:
    """Passed to every resolver as `info.context`."""

    request: HttpRequest
    requestor: Requestor
    settings: SupportSettings
