r"""Hook cost on a real Saleor: `draftOrderComplete` and `orderFulfill`, plugin active vs inactive.

Run with the Saleor virtualenv's python from the repository root, against a
populated database of its own (never the one the Saleor suite uses):

    source /opt/saleor-env.sh
    DATABASE_URL=postgres://postgres@127.0.0.1:54329/saleor_bench \\
    DJANGO_SETTINGS_MODULE=saleor.settings $SALEOR_VENV/bin/python -m benchmarks.saleor_hook_cost

Each sample creates a 2-line draft order through Saleor's GraphQL (not timed),
then times `draftOrderComplete` and `orderFulfill` (both lines, a tracking
number, `notifyCustomer: false`) through Django's test Client on `/graphql/`
with a staff JWT. The plugin's global `PluginConfiguration` row is switched
on/off before each sample in ABBA order (Saleor's plugin manager reads that row
on every request, so no cache is involved). Then a few more samples per state
run under `CaptureQueriesContext` to count statements (per hook: inside the
call and in the on-commit callbacks it registered), and every hook is called
directly with fresh Saleor objects. The script raises stock in the database it
runs on and leaves the orders it makes there.

`--variant-samples` (default 40; 0 skips it, `--only-variant` skips the order
mutations) also times `productVariantChannelListingUpdate` (one variant's price
in the channel, alternating between two values) with the plugin active and
price protection on (its `product_variant_updated` hook records the change)
against the plugin inactive, ABBA as above, then counts statements and calls
the hook directly; the variant's price is restored at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import django

PLUGIN_TABLE_PREFIX = "saleor_support_plugin_"

DRAFT_CREATE = """
mutation($input: DraftOrderCreateInput!) {
  draftOrderCreate(input: $input) {
    order { id shippingMethods { id active } lines { id } }
    errors { field code message }
  }
}
"""
DRAFT_UPDATE = """
mutation($id: ID!, $input: DraftOrderInput!) {
  draftOrderUpdate(id: $id, input: $input) { errors { field code message } }
}
"""
DRAFT_COMPLETE = """
mutation($id: ID!) {
  draftOrderComplete(id: $id) { order { id status } errors { field code message } }
}
"""
ORDER_FULFILL = """
mutation($order: ID!, $input: OrderFulfillInput!) {
  orderFulfill(order: $order, input: $input) {
    fulfillments { id trackingNumber }
    errors { field code message }
  }
}
"""
ADDRESS = {
    "firstName": "Bench",
    "lastName": "Mark",
    "streetAddress1": "1600 Amphitheatre Pkwy",
    "city": "MOUNTAIN VIEW",
    "postalCode": "94043",
    "country": "US",
    "countryArea": "CA",
    "phone": "+16505550100",
}
VARIANT_LISTING_UPDATE = """
mutation($id: ID!, $input: [ProductVariantChannelListingAddInput!]!) {
  productVariantChannelListingUpdate(id: $id, input: $input) {
    variant { id }
    errors { field code message }
  }
}
"""
VARIANT_HOOK = "product_variant_updated"
HOOK_NAMES = (
    "order_created",
    "order_confirmed",
    "order_fully_paid",
    "fulfillment_created",
    "fulfillment_approved",
    "tracking_number_updated",
    "order_fulfilled",
    "order_cancelled",
    "order_refunded",
    "order_fully_refunded",
    "order_updated",
)


def _environment() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "saleor.settings")
    os.environ["DEBUG"] = "False"
    os.environ.setdefault("ALLOWED_CLIENT_HOSTS", "localhost")
    if not os.environ.get("RSA_PRIVATE_KEY"):
        # Saleor refuses to start with DEBUG off without a signing key: a throwaway one.
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        os.environ["RSA_PRIVATE_KEY"] = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
    # Tasks the hooks enqueue go to a Redis db nothing consumes; purged at the end.
    os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:56379/9")


class Saleor:
    """Staff GraphQL calls through Django's test Client."""

    def __init__(self) -> None:
        from django.test import Client
        from saleor.account.models import User
        from saleor.core.jwt import create_access_token

        staff = User.objects.filter(is_superuser=True, is_active=True).first()
        if staff is None:
            sys.exit(
                "No superuser: run `python manage.py populatedb --createsuperuser`."
            )
        self.client = Client(HTTP_HOST="localhost")
        self.auth = f"Bearer {create_access_token(staff)}"

    def call(self, query: str, variables: dict[str, Any], field: str) -> dict[str, Any]:
        response = self.client.post(
            "/graphql/",
            json.dumps({"query": query, "variables": variables}),
            content_type="application/json",
            HTTP_AUTHORIZATION=self.auth,
        )
        body = response.json()
        if body.get("errors"):
            raise RuntimeError(f"{field}: {body['errors']}")
        result = body["data"][field]
        if result.get("errors"):
            raise RuntimeError(f"{field}: {result['errors']}")
        return result


def _pick_variants(channel_slug: str) -> list[str]:
    """Two variants sold in the channel, with plenty of stock in its warehouses."""
    from graphene import Node
    from saleor.product.models import ProductVariant
    from saleor.warehouse.models import Stock

    variants = list(
        ProductVariant.objects.filter(
            channel_listings__channel__slug=channel_slug,
            channel_listings__price_amount__isnull=False,
            product__channel_listings__channel__slug=channel_slug,
            product__channel_listings__is_published=True,
            stocks__warehouse__channels__slug=channel_slug,
        )
        .distinct()
        .order_by("pk")[:2]
    )
    if len(variants) < 2:
        sys.exit("Need two stocked variants in the channel: run populatedb.")
    Stock.objects.filter(product_variant__in=variants).update(quantity=1_000_000)
    from saleor.site.models import SiteSettings

    # Fulfil without paying first: marking paid would fire more hooks than the issue measured.
    SiteSettings.objects.update(
        fulfillment_allow_unpaid=True, fulfillment_auto_approve=True
    )
    return [Node.to_global_id("ProductVariant", v.pk) for v in variants]


def _prepare_draft(api: Saleor, channel_id: str, variant_ids: list[str]) -> str:
    draft = api.call(
        DRAFT_CREATE,
        {
            "input": {
                "channelId": channel_id,
                "userEmail": "bench.customer@example.com",
                "lines": [{"variantId": v, "quantity": 1} for v in variant_ids],
                "shippingAddress": ADDRESS,
                "billingAddress": ADDRESS,
            }
        },
        "draftOrderCreate",
    )["order"]
    methods = [m["id"] for m in draft["shippingMethods"] if m["active"]]
    if not methods:
        sys.exit("No shipping method for the bench address in the channel.")
    api.call(
        DRAFT_UPDATE,
        {"id": draft["id"], "input": {"shippingMethod": methods[0]}},
        "draftOrderUpdate",
    )
    return draft["id"]


def _fulfill_input(order_id: str) -> dict[str, Any]:
    """Both lines from the warehouses their stock is allocated in."""
    from graphene import Node
    from saleor.warehouse.models import Allocation

    _, pk = Node.from_global_id(order_id)
    stocks: dict[int, tuple[Any, int]] = {}
    for allocation in Allocation.objects.filter(order_line__order_id=pk).select_related(
        "stock"
    ):
        stocks[allocation.order_line_id] = (
            allocation.stock.warehouse_id,
            allocation.quantity_allocated,
        )
    return {
        "order": order_id,
        "input": {
            "notifyCustomer": False,
            "trackingNumber": f"TRACK-{pk}",
            "lines": [
                {
                    "orderLineId": Node.to_global_id("OrderLine", line),
                    "stocks": [
                        {
                            "quantity": quantity,
                            "warehouse": Node.to_global_id("Warehouse", warehouse),
                        }
                    ],
                }
                for line, (warehouse, quantity) in stocks.items()
            ],
        },
    }


def _set_active(active: bool, *, price_protection: bool | None = None) -> None:
    """Switch the plugin's row; `price_protection` also stores that one setting (else kept)."""
    from saleor.plugins.models import PluginConfiguration

    from saleor_support_plugin import PLUGIN_ID

    defaults: dict[str, Any] = {"active": active, "name": "Customer Support"}
    if price_protection is not None:
        defaults["configuration"] = [
            {"name": "price_protection_enabled", "value": price_protection}
        ]
    PluginConfiguration.objects.update_or_create(
        identifier=PLUGIN_ID, channel=None, defaults=defaults
    )


def _sample(
    api: Saleor, channel_id: str, variants: list[str], measure: Callable[..., Any]
) -> dict[str, Any]:
    """One draft made, then completed and fulfilled, each under `measure`."""
    draft = _prepare_draft(api, channel_id, variants)
    complete = measure(api.call, DRAFT_COMPLETE, {"id": draft}, "draftOrderComplete")
    fulfill = measure(api.call, ORDER_FULFILL, _fulfill_input(draft), "orderFulfill")
    return {"draftOrderComplete": complete, "orderFulfill": fulfill}


def _timed(call: Callable[..., Any], *args: Any) -> float:
    started = time.perf_counter_ns()
    call(*args)
    return (time.perf_counter_ns() - started) / 1e6


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class HookStatements:
    """Counts the statements each of the plugin's hook methods causes.

    `in_call`: statements run inside the hook method. `deferred`: statements of
    the on-commit callbacks the hook registered (a hook called inside a
    transaction defers its INSERT to the commit), counted when they run.
    """

    def __init__(self, names: tuple[str, ...] = HOOK_NAMES) -> None:
        from django.db import connection

        from saleor_support_plugin.plugin import SupportPlugin

        self.in_call: dict[str, list[int]] = defaultdict(list)
        self.deferred: dict[str, list[int]] = defaultdict(list)
        self.current: dict[str, int] = defaultdict(int)

        def counted(name: str, func: Callable[[], Any]) -> Callable[[], Any]:
            def run() -> Any:
                before = len(connection.queries)
                try:
                    return func()
                finally:
                    self.deferred[name].append(len(connection.queries) - before)

            return run

        for name in names:
            original = getattr(SupportPlugin, name)

            def wrapper(
                plugin: Any,
                *args: Any,
                _name: str = name,
                _hook: Any = original,
                **kw: Any,
            ) -> Any:
                before = len(connection.queries)
                registered = len(connection.run_on_commit)
                try:
                    return _hook(plugin, *args, **kw)
                finally:
                    self.in_call[_name].append(len(connection.queries) - before)
                    self.current[_name] += 1
                    callbacks = connection.run_on_commit
                    for i in range(registered, len(callbacks)):
                        # (savepoint ids, callback, robust) in Django 5
                        entry: list[Any] = list(callbacks[i])
                        entry[1] = counted(_name, entry[1])
                        callbacks[i] = tuple(entry)

            setattr(SupportPlugin, name, wrapper)

    def describe(self, name: str) -> str:
        def span(values: list[int]) -> str:
            if not values:
                return "0"
            low, high = min(values), max(values)
            return f"{low}" if low == high else f"{low}–{high}"

        text = f"{span(self.in_call[name])} SQL in call"
        if self.deferred[name]:
            text += f", {span(self.deferred[name])} after commit"
        return text


def _captured(
    api: Saleor,
    channel_id: str,
    variants: list[str],
    samples: int,
    hooks: HookStatements,
) -> dict[bool, dict[str, dict[str, Any]]]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    result: dict[bool, dict[str, dict[str, Any]]] = {}
    for active in (True, False):
        _set_active(active)
        totals: dict[str, list[int]] = defaultdict(list)
        plugin_sql: dict[str, list[int]] = defaultdict(list)
        fired: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for _ in range(samples):

            def measure(call: Callable[..., Any], *args: Any) -> None:
                hooks.current.clear()
                with CaptureQueriesContext(connection) as queries:
                    call(*args)
                mutation = args[-1]
                totals[mutation].append(len(queries.captured_queries))
                plugin_sql[mutation].append(
                    sum(
                        PLUGIN_TABLE_PREFIX in q["sql"]
                        for q in queries.captured_queries
                    )
                )
                for name, calls in hooks.current.items():
                    fired[mutation][name] += calls

            _sample(api, channel_id, variants, measure)
        result[active] = {
            m: {
                "total": statistics.median(totals[m]),
                "plugin": statistics.median(plugin_sql[m]),
                "fired": {k: v / samples for k, v in fired[m].items()},
            }
            for m in totals
        }
    return result


def _direct_hooks(out: Any) -> None:
    """Call every hook of the plugin with fresh Saleor objects, in a rolled-back transaction.

    Inside a transaction a hook defers its INSERT to the commit: the callbacks
    it registered are taken out and run at once, under their own capture.
    """
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext
    from saleor.order.models import Fulfillment, Order
    from saleor.plugins.manager import get_plugins_manager

    from saleor_support_plugin import PLUGIN_ID

    _set_active(True)
    plugin = get_plugins_manager(allow_replica=False).get_plugin(PLUGIN_ID)
    orders = list(
        Order.objects.exclude(status="draft").values_list("pk", flat=True)[:20]
    )
    fulfillments = list(Fulfillment.objects.values_list("pk", flat=True)[:20])
    out.write(
        f"\n{'hook called directly':<25}{'calls':>6}{'SQL in call':>12}"
        f"{'after commit':>13}  statements after commit\n"
    )
    for name in HOOK_NAMES:
        model, pks = (
            (Fulfillment, fulfillments)
            if name.startswith(("fulfillment_", "tracking_"))
            else (Order, orders)
        )
        in_call: list[int] = []
        after: list[int] = []
        kinds: set[str] = set()
        for pk in pks:
            subject = model.objects.get(pk=pk)
            with transaction.atomic():
                registered = len(connection.run_on_commit)
                with CaptureQueriesContext(connection) as queries:
                    getattr(plugin, name)(subject, None)
                in_call.append(len(queries.captured_queries))
                callbacks = connection.run_on_commit[registered:]
                del connection.run_on_commit[registered:]
                with CaptureQueriesContext(connection) as queries:
                    for entry in callbacks:
                        entry[1]()
                after.append(len(queries.captured_queries))
                kinds.update(
                    " ".join(q["sql"].split()[:3]) for q in queries.captured_queries
                )
                transaction.set_rollback(True)
        if pks:
            out.write(
                f"{name:<25}{len(pks):>6}{_span(in_call):>12}{_span(after):>13}"
                f"  {', '.join(sorted(kinds)) or '-'}\n"
            )
    _set_active(False)
    out.write(
        "(The hooks run in the transaction, so their INSERT is deferred; its own "
        "enqueue is dropped with the rollback.)\n"
    )


def _span(values: list[int]) -> str:
    low, high = min(values), max(values)
    return f"{low}" if low == high else f"{low}–{high}"


def _variant_listing(
    api: Saleor,
    channel: Any,
    variant_id: str,
    *,
    samples: int,
    warmup: int,
    captured: int,
    out: Any,
) -> None:
    """Time productVariantChannelListingUpdate, plugin active with price protection on vs inactive."""
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext
    from graphene import Node
    from saleor.product.models import ProductVariant, ProductVariantChannelListing

    from saleor_support_plugin import PLUGIN_ID
    from saleor_support_plugin.price_protection.models import PriceChange

    _, pk = Node.from_global_id(variant_id)
    listing = ProductVariantChannelListing.objects.get(variant_id=pk, channel=channel)
    original = listing.price_amount
    prices = [original, original + 1]
    channel_id = Node.to_global_id("Channel", channel.pk)
    counter = iter(range(10**9))

    def update() -> None:
        price = prices[next(counter) % 2]  # every call changes the price
        api.call(
            VARIANT_LISTING_UPDATE,
            {
                "id": variant_id,
                "input": [{"channelId": channel_id, "price": str(price)}],
            },
            "productVariantChannelListingUpdate",
        )

    def state(active: bool) -> None:
        _set_active(active, price_protection=True)

    try:
        for i in range(warmup):
            state(i % 2 == 0)
            update()
        rows_before = PriceChange.objects.filter(variant_id=pk).count()
        timings: dict[bool, list[float]] = {True: [], False: []}
        active_calls = 0
        for i in range(2 * samples):
            active = i % 4 in (0, 3)  # ABBA
            state(active)
            timings[active].append(_timed(update))
            active_calls += active
        rows = PriceChange.objects.filter(variant_id=pk).count() - rows_before

        hooks = HookStatements((VARIANT_HOOK,))
        totals: dict[bool, list[int]] = {True: [], False: []}
        plugin_sql: dict[bool, list[int]] = {True: [], False: []}
        fired: dict[bool, int] = {True: 0, False: 0}
        for active in (True, False):
            state(active)
            for _ in range(captured):
                hooks.current.clear()
                with CaptureQueriesContext(connection) as queries:
                    update()
                totals[active].append(len(queries.captured_queries))
                plugin_sql[active].append(
                    sum(
                        PLUGIN_TABLE_PREFIX in q["sql"]
                        for q in queries.captured_queries
                    )
                )
                fired[active] += hooks.current.get(VARIANT_HOOK, 0)

        in_mutation = hooks.describe(VARIANT_HOOK)

        # The hook alone, with a fresh variant, in a rolled-back transaction.
        from saleor.plugins.manager import get_plugins_manager

        state(True)
        plugin = get_plugins_manager(allow_replica=False).get_plugin(PLUGIN_ID)
        in_call: list[int] = []
        after: list[int] = []
        kinds: set[str] = set()
        for _ in range(20):
            variant = ProductVariant.objects.get(pk=pk)
            with transaction.atomic():
                registered = len(connection.run_on_commit)
                with CaptureQueriesContext(connection) as queries:
                    getattr(plugin, VARIANT_HOOK)(variant, None)
                in_call.append(len(queries.captured_queries))
                callbacks = connection.run_on_commit[registered:]
                del connection.run_on_commit[registered:]
                with CaptureQueriesContext(connection) as queries:
                    for entry in callbacks:
                        entry[1]()
                after.append(len(queries.captured_queries))
                kinds.update(
                    " ".join(q["sql"].split()[:3]) for q in queries.captured_queries
                )
                transaction.set_rollback(True)
    finally:
        _set_active(False, price_protection=False)
        ProductVariantChannelListing.objects.filter(pk=listing.pk).update(
            price_amount=original,
            discounted_price_amount=listing.discounted_price_amount,
        )
        PriceChange.objects.filter(variant_id=pk).delete()

    on, off = timings[True], timings[False]
    m_on, m_off = statistics.median(on), statistics.median(off)
    added = statistics.median(totals[True]) - statistics.median(totals[False])
    out.write(
        f"\nproductVariantChannelListingUpdate (one variant, price alternating "
        f"{prices[0]} / {prices[1]}), plugin active with price protection on vs inactive, "
        f"{samples} interleaved samples each (ABBA)\n\n"
    )
    out.write(
        f"{'mutation':<36}{'active ms':>10}{'inactive':>10}{'ratio':>7}"
        f"{'p90 act':>9}{'p90 inact':>10}{'+SQL':>6}{'plugin SQL':>11}\n"
    )
    out.write(
        f"{'productVariantChannelListingUpdate':<36}{m_on:>10.1f}{m_off:>10.1f}"
        f"{m_on / m_off:>7.2f}{_p(on, 0.9):>9.1f}{_p(off, 0.9):>10.1f}{added:>+6.0f}"
        f"{statistics.median(plugin_sql[True]):>11.0f}\n"
    )
    out.write(
        f"Inactive total: {statistics.median(totals[False]):.0f} statements; "
        f"{VARIANT_HOOK} fired {fired[True] / captured:g}x per mutation "
        f"({in_mutation}); price-change rows written by the "
        f"{active_calls} timed active mutations: {rows}\n"
    )
    out.write(
        f"Called directly with a fresh ProductVariant (20 calls, in a transaction): "
        f"{_span(in_call)} SQL in call, {_span(after)} after commit "
        f"({', '.join(sorted(kinds)) or '-'})\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--samples", type=int, default=40, help="timed samples per state"
    )
    parser.add_argument(
        "--captured", type=int, default=5, help="counted samples per state"
    )
    parser.add_argument("--warmup", type=int, default=4)
    parser.add_argument("--channel", default="default-channel")
    parser.add_argument(
        "--variant-samples",
        type=int,
        default=40,
        help="timed productVariantChannelListingUpdate samples per state (0: skip)",
    )
    parser.add_argument(
        "--only-variant",
        action="store_true",
        help="skip the order mutations (draftOrderComplete, orderFulfill)",
    )
    args = parser.parse_args()
    _environment()
    django.setup()
    from django.conf import settings
    from graphene import Node
    from saleor.channel.models import Channel

    if settings.DEBUG:
        sys.exit("DEBUG must be off.")
    if "saleor_support_plugin.plugin.SupportPlugin" not in getattr(
        settings, "PLUGINS", []
    ):
        sys.exit("The plugin is not installed in this Saleor environment.")
    channel = Channel.objects.get(slug=args.channel)
    channel_id = Node.to_global_id("Channel", channel.pk)
    api = Saleor()
    variants = _pick_variants(args.channel)
    out = sys.stdout

    if not args.only_variant:
        _order_mutations(api, channel_id, variants, args, settings, out)
    if args.variant_samples > 0:
        _variant_listing(
            api,
            channel,
            variants[0],
            samples=args.variant_samples,
            warmup=args.warmup,
            captured=args.captured,
            out=out,
        )
    from saleor.celeryconf import app

    app.control.purge()


def _order_mutations(
    api: Saleor,
    channel_id: str,
    variants: list[str],
    args: argparse.Namespace,
    settings: Any,
    out: Any,
) -> None:
    """Time draftOrderComplete and orderFulfill, plugin active vs inactive; then the hooks directly."""
    for i in range(args.warmup):
        _set_active(i % 2 == 0)
        _sample(api, channel_id, variants, lambda call, *a: call(*a))

    timings: dict[bool, dict[str, list[float]]] = {
        True: defaultdict(list),
        False: defaultdict(list),
    }
    for i in range(2 * args.samples):
        active = i % 4 in (0, 3)  # ABBA
        _set_active(active)
        for mutation, ms in _sample(api, channel_id, variants, _timed).items():
            timings[active][mutation].append(ms)

    hooks = HookStatements()
    settings.DEBUG = False  # CaptureQueriesContext forces the debug cursor itself
    counted = _captured(api, channel_id, variants, args.captured, hooks)
    _set_active(False)

    out.write(
        f"Saleor mutations, plugin active vs inactive, {args.samples} interleaved samples each "
        f"(ABBA), DEBUG off, 2-line orders, channel {args.channel}\n\n"
    )
    out.write(
        f"{'mutation':<20}{'active ms':>10}{'inactive':>10}{'ratio':>7}{'':<14}"
        f"{'p90 act':>9}{'p90 inact':>10}{'+SQL':>6}{'plugin SQL':>11}\n"
    )
    for mutation in ("draftOrderComplete", "orderFulfill"):
        on, off = timings[True][mutation], timings[False][mutation]
        m_on, m_off = statistics.median(on), statistics.median(off)
        added = counted[True][mutation]["total"] - counted[False][mutation]["total"]
        out.write(
            f"{mutation:<20}{m_on:>10.1f}{m_off:>10.1f}{m_on / m_off:>7.2f}{'  (goal ≤ 1.05)':<14}"
            f"{_p(on, 0.9):>9.1f}{_p(off, 0.9):>10.1f}{added:>+6.0f}"
            f"{counted[True][mutation]['plugin']:>11.0f}\n"
        )
    out.write(
        "\n+SQL: median statements per mutation, active minus inactive; plugin SQL: statements "
        f"touching {PLUGIN_TABLE_PREFIX}* tables (active).\n"
    )
    out.write(
        f"Inactive totals: { {m: v['total'] for m, v in counted[False].items()} }\n"
    )
    out.write("\nHooks fired per mutation (active), calls and statements per call:\n")
    for mutation in ("draftOrderComplete", "orderFulfill"):
        fired = counted[True][mutation]["fired"]
        parts = []
        for name, calls in sorted(fired.items()):
            parts.append(f"{name} ×{calls:g} ({hooks.describe(name)})")
        out.write(f"  {mutation}: {', '.join(parts) or 'none'}\n")

    _direct_hooks(out)


if __name__ == "__main__":
    main()
