"""Post a signed carrier event to the running sandbox, as a carrier would."""

import json
import os
import uuid
from datetime import UTC, datetime

import requests
from django.core.management.base import BaseCommand, CommandError

from saleor_support_plugin import PLUGIN_ID
from saleor_support_plugin.core.signing import signed_headers
from saleor_support_plugin.ports import load_settings


class Command(BaseCommand):
    help = "POST a signed carrier event (e.g. `carrier_event DEMO-1001 out_for_delivery`) to the sandbox."

    def add_arguments(self, parser):
        parser.add_argument("tracking_number")
        parser.add_argument("status")
        parser.add_argument("--description", default="")
        parser.add_argument("--estimated-delivery", default=None)
        parser.add_argument(
            "--url",
            default=os.environ.get("SANDBOX_URL", "http://127.0.0.1:8000"),
            help="The running sandbox (default: $SANDBOX_URL or http://127.0.0.1:8000).",
        )

    def handle(
        self,
        *args,
        tracking_number,
        status,
        description,
        estimated_delivery,
        url,
        **options,
    ):
        body = json.dumps(
            {
                "event_id": f"sandbox-{uuid.uuid4()}",
                "tracking_number": tracking_number,
                "status": status,
                "occurred_at": datetime.now(UTC).isoformat(),
                "estimated_delivery": estimated_delivery,
                "description": description,
                "carrier": "sandbox",
            }
        ).encode()
        secret = load_settings().carrier_webhook_secret.reveal()
        endpoint = f"{url.rstrip('/')}/plugins/global/{PLUGIN_ID}/webhooks/carrier/"
        headers = {"Content-Type": "application/json", **signed_headers(secret, body)}
        try:
            response = requests.post(endpoint, data=body, headers=headers, timeout=10)
        except requests.RequestException as exc:
            raise CommandError(f"Is the sandbox running? {exc}") from exc
        self.stdout.write(f"{response.status_code} {response.text}")
