"""Channels: email through SMTP, and signed JSON POSTs to the merchant's URL."""

from __future__ import annotations

import json
import logging
import smtplib
from email.mime.image import MIMEImage
from email.utils import formataddr
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import requests
import requests_hardened
from django.conf import settings as django_settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from requests_hardened.ip_filter import InvalidIPAddress

from ..conf import SupportSettings
from ..core.signing import signed_headers
from .identity import EMAIL_HEADERS_KEY, sender_address, store_name
from .kinds import TRANSACTIONAL_KINDS, NotificationKind
from .models import Notification, NotificationChannel
from .rendering import render_email
from .unsubscribe import unsubscribe_url

SMTP_TIMEOUT_SECONDS = 15
# Charts the HTML shows inline (<img src="cid:…">), stored in the context as
# their data (see metrics.report) and drawn as PNG at each delivery.
INLINE_CHARTS_KEY = "charts"

logger = logging.getLogger(__name__)


class TransientDeliveryError(Exception):
    """Try again later: the receiver is down, slow or said 4xx."""


class PermanentDeliveryError(Exception):
    """Retrying cannot help: bad address, refused for good, invalid configuration."""


def deliver(notification: Notification, settings: SupportSettings) -> None:
    if notification.channel == NotificationChannel.EMAIL:
        send_email(notification, settings)
    elif notification.channel == NotificationChannel.WEBHOOK:
        post_webhook(notification, settings)
    else:
        raise PermanentDeliveryError(f"Unknown channel {notification.channel!r}.")


def email_connection(settings: SupportSettings) -> BaseEmailBackend:
    """Connect to the plugin's own SMTP server when configured, else use the host's backend."""
    url = settings.smtp_url.reveal()
    if not url:
        return get_connection(fail_silently=False)
    parts = urlsplit(url)
    query = {
        key.lower(): values[-1].lower() for key, values in parse_qs(parts.query).items()
    }
    use_ssl = parts.scheme == "smtps" or query.get("ssl") in {"true", "1", "yes", "on"}
    use_tls = not use_ssl and query.get("tls") in {"true", "1", "yes", "on"}
    default_port = 465 if use_ssl else 587 if parts.scheme == "submission" else 25
    return get_connection(
        "django.core.mail.backends.smtp.EmailBackend",
        host=parts.hostname,
        port=parts.port or default_port,
        username=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        use_tls=use_tls,
        use_ssl=use_ssl,
        timeout=SMTP_TIMEOUT_SECONDS,
        fail_silently=False,
    )


def sender(settings: SupportSettings) -> str:
    address = sender_address(settings)
    name = store_name(settings)
    return formataddr((name, address)) if name else address


class EmailWithInlineImages(EmailMultiAlternatives):
    """multipart/related: the text and HTML alternatives, then the images the HTML shows."""

    mixed_subtype = "related"

    def message(self) -> Any:
        message = super().message()
        # RFC 2387: a multipart/related names the type of its first (root) part.
        message.set_param("type", "multipart/alternative")
        return message


def inline_images(context: dict[str, Any]) -> list[MIMEImage]:
    """Draw the context's charts as PNG parts with their Content-ID; [] when it has none.

    A chart that cannot be drawn is left out (logged): the email still reads
    well from its alt text and tables.
    """
    charts = context.get(INLINE_CHARTS_KEY)
    if not isinstance(charts, list) or not charts:
        return []
    from ..metrics.report import render_chart  # late: matplotlib loads for reports only

    images = []
    for chart in charts:
        if not isinstance(chart, dict) or not chart.get("cid"):
            continue
        try:
            png = render_chart(chart)
        except Exception:
            logger.warning(
                "Could not draw chart %r; sending its alt text only.",
                chart.get("name"),
                exc_info=True,
            )
            continue
        image = MIMEImage(png, "png")
        image.add_header("Content-ID", f"<{chart['cid']}>")
        image.add_header(
            "Content-Disposition",
            "inline",
            filename=str(chart.get("filename") or "chart.png"),
        )
        images.append(image)
    return images


def send_email(notification: Notification, settings: SupportSettings) -> None:
    kind = NotificationKind(notification.kind)
    context: dict[str, Any] = dict(notification.context)
    stored = context.pop(EMAIL_HEADERS_KEY, None)
    headers = {
        **(
            {str(name): str(value) for name, value in stored.items()}
            if isinstance(stored, dict)
            else {}
        ),
        # Rows written before the headers were stored keep their old Message-ID.
        "Message-ID": notification.message_id,
    }
    if kind not in TRANSACTIONAL_KINDS:
        url = unsubscribe_url(notification.recipient, settings)
        if url:
            context["unsubscribe_url"] = url
            headers["List-Unsubscribe"] = f"<{url}>"
            headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    rendered = render_email(
        kind, context, language_code=notification.language_code, settings=settings
    )
    images = inline_images(context)
    message = (EmailWithInlineImages if images else EmailMultiAlternatives)(
        subject=rendered.subject,
        body=rendered.text,
        from_email=sender(settings),
        to=[notification.recipient],
        headers=headers,
        reply_to=[context["reply_to"]] if context.get("reply_to") else None,
        connection=email_connection(settings),
    )
    message.attach_alternative(rendered.html, "text/html")
    for image in images:
        message.attach(image)
    try:
        message.send()
    except smtplib.SMTPResponseException as exc:
        error = f"SMTP {exc.smtp_code}: {exc.smtp_error!r}"
        if 500 <= exc.smtp_code < 600:
            raise PermanentDeliveryError(error) from exc
        raise TransientDeliveryError(error) from exc
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        if all(500 <= code < 600 for code in codes):
            raise PermanentDeliveryError(f"Recipient refused: {codes}") from exc
        raise TransientDeliveryError(f"Recipient deferred: {codes}") from exc
    except (TimeoutError, smtplib.SMTPException, OSError) as exc:
        raise TransientDeliveryError(
            f"SMTP unavailable: {type(exc).__name__}: {exc}"
        ) from exc


def _http_client() -> requests_hardened.Manager:
    return requests_hardened.Manager(
        requests_hardened.Config(
            default_timeout=(5, 15),
            never_redirect=True,
            ip_filter_enable=True,
            # Only for tests and local development: the merchant's URL is never loopback.
            ip_filter_allow_loopback_ips=bool(
                getattr(django_settings, "SUPPORT_WEBHOOK_ALLOW_LOOPBACK", False)
            ),
            user_agent_override="saleor-support-plugin",
        )
    )


def webhook_body(notification: Notification) -> bytes:
    payload = {
        "id": str(notification.pk),
        "type": f"support.order.{notification.kind}",
        "language": notification.language_code,
        "created_at": notification.created_at.isoformat(),
        "data": notification.context,
    }
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


def post_webhook(notification: Notification, settings: SupportSettings) -> None:
    body = webhook_body(notification)
    headers = {
        "Content-Type": "application/json",
        "X-Support-Delivery": str(notification.pk),
    }
    secret = settings.outgoing_webhook_secret.reveal()
    if secret:
        headers.update(signed_headers(secret, body))
    try:
        response = _http_client().send_request(
            "POST", notification.recipient, data=body, headers=headers
        )
    except InvalidIPAddress as exc:
        raise PermanentDeliveryError(f"Refused address: {exc}") from exc
    except requests.RequestException as exc:
        raise TransientDeliveryError(f"{type(exc).__name__}: {exc}") from exc
    if 200 <= response.status_code < 300:
        return
    error = f"HTTP {response.status_code}"
    if response.status_code in (408, 425, 429) or response.status_code >= 500:
        raise TransientDeliveryError(error)
    raise PermanentDeliveryError(error)
