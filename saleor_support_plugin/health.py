"""`health/`: is the plugin serving and can it reach its database."""

from __future__ import annotations

import logging

from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse

from . import __version__
from .conf import SupportSettings
from .core.http import method_not_allowed

logger = logging.getLogger(__name__)


def handle_health(request: HttpRequest, settings: SupportSettings) -> HttpResponse:
    if request.method not in ("GET", "HEAD"):
        return method_not_allowed(["GET", "HEAD"])
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        database = "ok"
    except DatabaseError:
        logger.exception("Support plugin health check: database unreachable")
        database = "unavailable"
    status = 200 if database == "ok" else 503
    return JsonResponse(
        {
            "status": "ok" if status == 200 else "degraded",
            "version": __version__,
            "database": database,
            "active": settings.active,
        },
        status=status,
    )
