"""Post a signed inbound email to the running sandbox, as a mail provider would."""

import json
import os
import uuid

import requests
from django.core.management.base import BaseCommand, CommandError

from saleor_support_plugin import PLUGIN_ID
from saleor_support_plugin.core.signing import signed_headers
from saleor_support_plugin.ports import load_settings


class Command(BaseCommand):
    help = (
        "POST a signed inbound email (e.g. `inbound_email alice@example.com "
        '"Where is my parcel?" --text "It has not arrived."`) to the sandbox.'
    )

    def add_arguments(self, parser):
        parser.add_argument("sender", help="The From address.")
        parser.add_argument("subject")
        parser.add_argument("--text", default="Hello, I have a question.")
        parser.add_argument(
            "--to",
            default=None,
            help="Recipient (default: the support inbox; a reply address "
            "support+t…/support+o… from one of our emails threads the mail).",
        )
        parser.add_argument(
            "--in-reply-to",
            default="",
            help="The Message-ID of our email this answers (see the .eml files).",
        )
        parser.add_argument(
            "--unverified",
            action="store_true",
            help="Send no DMARC/DKIM/SPF pass: the sender counts as unverified.",
        )
        parser.add_argument(
            "--url",
            default=os.environ.get("SANDBOX_URL", "http://127.0.0.1:8000"),
            help="The running sandbox (default: $SANDBOX_URL or http://127.0.0.1:8000).",
        )

    def handle(
        self, *args, sender, subject, text, to, in_reply_to, unverified, url, **options
    ):
        settings = load_settings()
        domain = sender.rpartition("@")[2]
        payload = {
            "from": sender,
            "to": [to or settings.inbound_email_address],
            "subject": subject,
            "text": text,
            "html": "",
            "message_id": f"<sandbox-{uuid.uuid4()}@{domain or 'mail.example'}>",
            "in_reply_to": in_reply_to,
            "references": [in_reply_to] if in_reply_to else [],
        }
        if not unverified:
            # What the provider's receiving server concluded (RFC 8601).
            payload["authentication_results"] = (
                f"mx.sandbox.example; dmarc=pass header.from={domain};"
                f" dkim=pass header.d={domain}"
            )
        body = json.dumps(payload).encode()
        secret = settings.inbound_email_secret.reveal()
        endpoint = (
            f"{url.rstrip('/')}/plugins/global/{PLUGIN_ID}/webhooks/inbound-email/"
        )
        headers = {"Content-Type": "application/json", **signed_headers(secret, body)}
        try:
            response = requests.post(endpoint, data=body, headers=headers, timeout=10)
        except requests.RequestException as exc:
            raise CommandError(f"Is the sandbox running? {exc}") from exc
        self.stdout.write(f"{response.status_code} {response.text}")
