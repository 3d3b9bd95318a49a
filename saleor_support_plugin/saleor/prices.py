"""Current variant prices from Saleor's channel listings (the price port inside Saleor)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from django.conf import settings

from ..price_protection.data import VariantPrice

# Variant ids per statement: a sweep may ask for thousands of pairs; one
# statement per chunk keeps the parameter list bounded and the count fixed for
# any request up to this size.
CHUNK_SIZE = 2000


def _strings(metadata: Any) -> dict[str, str]:
    if not isinstance(metadata, Mapping):
        return {}
    return {
        str(key): value if isinstance(value, str) else str(value)
        for key, value in metadata.items()
    }


def _chunks(items: list[int], size: int) -> Iterable[list[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def read_variant_prices(
    pairs: list[tuple[str, str]],
) -> dict[tuple[str, str], VariantPrice]:
    """Read the listings of (variant id, channel slug) pairs from the writer, in one query.

    The amount is the discounted price when Saleor computed one (a promotion
    applies), else the listing price; a listing without a price is not for sale
    and is left out, as are pairs without a listing and non-numeric variant ids.
    """
    from saleor.core.db.connection import allow_writer
    from saleor.product.models import ProductVariantChannelListing

    wanted = {
        (int(variant_id), slug)
        for variant_id, slug in pairs
        if variant_id.isascii() and variant_id.isdigit()
    }
    if not wanted:
        return {}
    variant_ids = sorted({variant_id for variant_id, _ in wanted})
    slugs = sorted({slug for _, slug in wanted})
    database = getattr(settings, "DATABASE_CONNECTION_DEFAULT_NAME", "default")
    prices: dict[tuple[str, str], VariantPrice] = {}
    # The worker compares against a price that was just changed: a lagging
    # replica could still show the old one.
    with allow_writer():
        for chunk in _chunks(variant_ids, CHUNK_SIZE):
            rows = (
                ProductVariantChannelListing.objects.using(database)
                .filter(
                    variant_id__in=chunk,
                    channel__slug__in=slugs,
                    price_amount__isnull=False,
                )
                .values_list(
                    "variant_id",
                    "channel__slug",
                    "price_amount",
                    "discounted_price_amount",
                    "currency",
                    "channel__tax_configuration__prices_entered_with_tax",
                    "variant__product__metadata",
                    "variant__metadata",
                )
            )
            for (
                variant_id,
                slug,
                price,
                discounted,
                currency,
                entered_with_tax,
                product_metadata,
                variant_metadata,
            ) in rows:
                # The query matches every listed channel of every variant;
                # keep only the pairs asked for.
                if (variant_id, slug) not in wanted:
                    continue
                amount = discounted if discounted is not None else price
                key = (str(variant_id), slug)
                prices[key] = VariantPrice(
                    variant_id=key[0],
                    channel_slug=slug,
                    amount=Decimal(amount),
                    currency=currency,
                    # A channel without a tax configuration row gets Saleor's
                    # default (prices entered with tax).
                    gross=True if entered_with_tax is None else bool(entered_with_tax),
                    metadata={
                        **_strings(product_metadata),
                        **_strings(variant_metadata),
                    },
                )
    return prices
