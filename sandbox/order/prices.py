"""The sandbox's current prices (a table shaped like Saleor's channel listings) and a way to change them."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction
from django.db.models import Q

from saleor_support_plugin.price_protection.data import VariantPrice
from saleor_support_plugin.saleor import hooks

from .models import VariantChannelListing


def read_variant_prices(
    pairs: list[tuple[str, str]],
) -> dict[tuple[str, str], VariantPrice]:
    """Read the listings of these (variant, channel) pairs in one query."""
    wanted = {(v, c) for v, c in pairs if str(v).isdigit()}
    if not wanted:
        return {}
    query = Q()
    for variant_id, channel in wanted:
        query |= Q(variant_id=int(variant_id), channel_slug=channel)
    prices = {}
    for row in VariantChannelListing.objects.filter(query):
        amount = (
            row.discounted_price_amount
            if row.discounted_price_amount is not None
            else row.price_amount
        )
        key = (str(row.variant_id), row.channel_slug)
        prices[key] = VariantPrice(
            variant_id=key[0],
            channel_slug=row.channel_slug,
            amount=amount,
            currency=row.currency,
            gross=row.prices_entered_with_tax,
            metadata={str(k): str(v) for k, v in (row.metadata or {}).items()},
        )
    return prices


class _Variant:
    """What Saleor passes to product_variant_updated: the variant (only its pk is read)."""

    def __init__(self, pk: int) -> None:
        self.pk = pk


def set_price(
    variant_id: int,
    *,
    price: Decimal | None = None,
    discounted_price: Decimal | None = None,
    clear_discount: bool = False,
    channel_slug: str = "default-channel",
    currency: str | None = None,
) -> VariantChannelListing:
    """Change a listing as Saleor's productVariantChannelListingUpdate does, then call the hook."""
    with transaction.atomic():
        listing = (
            VariantChannelListing.objects.select_for_update()
            .filter(variant_id=variant_id, channel_slug=channel_slug)
            .first()
        )
        if listing is None:
            if price is None:
                raise ValueError(f"variant {variant_id} has no price in {channel_slug}")
            listing = VariantChannelListing(
                variant_id=variant_id,
                channel_slug=channel_slug,
                currency=currency or "USD",
                price_amount=price,
            )
        if price is not None:
            listing.price_amount = price
        if discounted_price is not None:
            listing.discounted_price_amount = discounted_price
        elif clear_discount:
            listing.discounted_price_amount = None
        if currency:
            listing.currency = currency
        listing.save()
    # After the commit, as Saleor calls its hooks.
    hooks.product_variant_updated(_Variant(variant_id))
    return listing
