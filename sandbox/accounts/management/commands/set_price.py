"""Change a demo price, as a merchant would in Saleor's dashboard, and show what price protection did."""

import time
from decimal import Decimal, InvalidOperation

from django.conf import settings as django_settings
from django.core.management.base import BaseCommand, CommandError

from saleor_support_plugin.core.money import format_money
from saleor_support_plugin.price_protection.models import PriceClaim
from sandbox.order.models import VariantChannelListing
from sandbox.order.prices import set_price


def _amount(raw: str) -> Decimal:
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise CommandError(f"not a price: {raw!r}") from None
    if not value.is_finite() or value < 0:
        raise CommandError(f"not a price: {raw!r}")
    return value


class Command(BaseCommand):
    help = (
        "Set a variant's price in a channel (e.g. `set_price 1001 79.00`; "
        "`--discounted 75` for a promotion price, `--clear-discount` to end it). "
        "The plugin's hook fires as in Saleor; the running sandbox's worker refunds drops."
    )

    def add_arguments(self, parser):
        parser.add_argument("variant_id", type=int)
        parser.add_argument("price", nargs="?", default=None)
        parser.add_argument("--discounted", default=None)
        parser.add_argument("--clear-discount", action="store_true")
        parser.add_argument("--channel", default="default-channel")
        parser.add_argument(
            "--wait",
            type=float,
            default=10.0,
            help="Seconds to wait for the worker's claims (0: do not wait).",
        )

    def handle(
        self,
        *args,
        variant_id,
        price,
        discounted,
        clear_discount,
        channel,
        wait,
        **options,
    ):
        listing = VariantChannelListing.objects.filter(
            variant_id=variant_id, channel_slug=channel
        ).first()
        if listing is None and price is None:
            raise CommandError(f"variant {variant_id} has no price in {channel}")
        before = (
            listing.discounted_price_amount or listing.price_amount if listing else None
        )
        started = PriceClaim.objects.filter(line__variant_id=str(variant_id)).count()
        # Publish from this short-lived process before it exits.
        django_settings.SUPPORT_PUBLISH_IN_BACKGROUND = False
        listing = set_price(
            variant_id,
            price=_amount(price) if price is not None else None,
            discounted_price=_amount(discounted) if discounted is not None else None,
            clear_discount=clear_discount,
            channel_slug=channel,
        )
        now = listing.discounted_price_amount or listing.price_amount
        self.stdout.write(
            f"Variant {variant_id} ({listing.product_name or 'no name'}) in {channel}: "
            f"{format_money(before, listing.currency) if before is not None else '-'} → "
            f"{format_money(now, listing.currency)}"
        )
        deadline = time.monotonic() + wait
        while True:
            claims = list(
                PriceClaim.objects.filter(line__variant_id=str(variant_id))
                .select_related("order")
                .order_by("number")[started:]
            )
            settled = claims and all(
                c.state not in ("approved", "refund_requested") for c in claims
            )
            if settled or time.monotonic() >= deadline:
                break
            time.sleep(0.5)
        if not claims:
            self.stdout.write(
                "No new price claim (no eligible purchase, not lower, or the worker is not running)."
            )
        for claim in claims:
            self.stdout.write(
                f"  {claim.reference} on order #{claim.order.number} ({claim.customer_email}): "
                f"{format_money(claim.refund_amount, claim.currency)}, {claim.state}"
            )
