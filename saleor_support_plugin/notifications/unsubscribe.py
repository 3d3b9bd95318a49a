"""Customer opt-out from shipping updates and surveys through a signed link (and RFC 8058 one-click)."""

from __future__ import annotations

from django.conf import settings as django_settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.utils.html import escape

from .. import PLUGIN_ID
from ..conf import SupportSettings
from ..core.http import method_not_allowed

SALT = "saleor-support-plugin.unsubscribe"


def make_token(email: str) -> str:
    return signing.dumps({"e": email.lower()}, salt=SALT, compress=True)


def read_token(token: str) -> str | None:
    try:
        data = signing.loads(token, salt=SALT)
    except signing.BadSignature:
        return None
    email = data.get("e") if isinstance(data, dict) else None
    return email if isinstance(email, str) and email else None


def public_base_url(settings: SupportSettings) -> str:
    return (
        settings.public_url or getattr(django_settings, "PUBLIC_URL", None) or ""
    ).rstrip("/")


def unsubscribe_url(email: str, settings: SupportSettings) -> str:
    base = public_base_url(settings)
    if not base:
        return ""
    return f"{base}/plugins/global/{PLUGIN_ID}/unsubscribe/?token={make_token(email)}"


def opt_out(email: str) -> None:
    from .models import EmailOptOut

    try:
        with transaction.atomic():
            EmailOptOut.objects.get_or_create(email=email.lower())
    except IntegrityError:
        pass  # a concurrent click already recorded it


def _page(title: str, body: str, status: int = 200) -> HttpResponse:
    html = (
        "<!doctype html><html><head><meta charset='utf-8'><meta name='viewport' "
        f"content='width=device-width'><title>{escape(title)}</title></head>"
        f"<body style='font-family:sans-serif;max-width:32rem;margin:3rem auto'><h1>{escape(title)}</h1>{body}</body></html>"
    )
    return HttpResponse(html, status=status, content_type="text/html; charset=utf-8")


def handle_unsubscribe(request: HttpRequest, settings: SupportSettings) -> HttpResponse:
    """GET shows a confirmation button (mail scanners follow links); POST opts out."""
    if request.method not in ("GET", "POST"):
        return method_not_allowed(["GET", "POST"])
    token = request.GET.get("token") or request.POST.get("token") or ""
    email = read_token(token)
    if email is None:
        return _page(
            "This link is not valid",
            "<p>The unsubscribe link is broken or was altered.</p>",
            status=400,
        )
    if request.method == "GET":
        return _page(
            "Stop shipping updates and surveys?",
            f"<p>{escape(email)} will no longer get shipping updates or surveys. Order confirmations, "
            "cancellations and refunds are still sent.</p>"
            f"<form method='post'><input type='hidden' name='token' value='{escape(token)}'>"
            "<button type='submit'>Unsubscribe</button></form>",
        )
    opt_out(email)
    return _page(
        "You are unsubscribed",
        f"<p>{escape(email)} will no longer get shipping updates or surveys.</p>",
    )
