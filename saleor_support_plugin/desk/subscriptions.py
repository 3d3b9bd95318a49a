"""What the App asks Saleor to send it: the promotion price webhook and its query.

Saleor calls the plugin hook `product_variant_discounted_price_updated` only
when some App subscribes to this event, so the manifest subscribes with the
smallest query that says which variant changed in which channel; the
`webhooks/saleor/` route records it as the hook would.
"""

from __future__ import annotations

# Saleor's `WebhookEventTypeAsyncEnum` name (the manifest's `asyncEvents`); the
# `Saleor-Event` header of a delivery carries its lower-case value.
DISCOUNTED_PRICE_EVENT = "PRODUCT_VARIANT_DISCOUNTED_PRICE_UPDATED"

# Field names of `ProductVariantDiscountedPriceUpdated` in Saleor 3.22+
# (saleor/graphql/webhook/subscription_types.py). With `event` as the root
# field Saleor sends the event's fields at the top level of the body:
# {"productVariant": {"id": "<global id>"}, "channel": {"slug": "..."}}.
DISCOUNTED_PRICE_QUERY = (
    "subscription { event { ... on ProductVariantDiscountedPriceUpdated "
    "{ productVariant { id } channel { slug } } } }"
)
