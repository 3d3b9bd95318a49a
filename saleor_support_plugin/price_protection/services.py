"""Price protection's writes: record price changes, find drops, move claims through their states.

Exactly once, concretely:
- a claim's `idempotency_key` names the fact it comes from (a drop of a line to
  a price, a customer's request) and a partial unique index allows one open
  claim per line: repeated hooks, concurrent sweeps and retries create one claim;
- detection runs under one advisory lock, so the caps are checked against
  every claim that exists, never against a concurrent detector's stale view;
- a refund step is taken by one conditional state change (approved → refund
  requested, under the row lock) and carries its own key to the host, which
  executes a key at most once; a worker that dies after the request leaves the
  claim in "refund requested", and the sweep asks the host what happened to
  that key before it would ask again.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

from django.db import connection, transaction
from django.utils import timezone

from .. import ports
from ..auth import Requestor
from ..conf import SupportSettings
from ..core.background import in_background, in_background_once
from ..core.errors import PermissionDenied, SupportErrorCode, error
from ..core.money import currency_exponent, format_money, quantize
from ..core.text import plain_text
from ..notifications.kinds import NotificationKind
from ..orders.models import OrderLineSnapshot, OrderSnapshot
from ..orders.reconcile import NotificationPlan
from .data import RefundMethod, RefundRequest, RefundResult, RefundStatus, VariantPrice
from .models import (
    COUNTED_STATES,
    OPEN_STATES,
    ActorKind,
    ClaimSource,
    ClaimState,
    PriceChange,
    PriceChangeSource,
    PriceClaim,
    PriceClaimTransition,
)
from .policy import Limits, LineFacts, PricePolicy, get_policy
from .selectors import (
    EligibleLine,
    all_bought_pairs,
    bought_pairs,
    claimed_by_customers,
    eligible_lines,
    order_money,
)

logger = logging.getLogger(__name__)

NUMBER_SEQUENCE = "ssp_price_claim_number_seq"
# A refund request the host has not settled after this long is looked up by its key.
IN_FLIGHT_CHECK_AFTER = timedelta(minutes=2)
# Price-change rows and approved claims older than this were missed by their task.
GRACE = timedelta(seconds=30)
# Prices read per port call in the sweep.
SWEEP_BATCH = 1000
MAX_NOTE = 2000
MAX_REASON = 1000
MAX_URL = 2048


@dataclass(frozen=True)
class Actor:
    kind: ActorKind
    user_id: str = ""
    email: str = ""

    @classmethod
    def of(cls, requestor: Requestor) -> Actor:
        kind = ActorKind.STAFF if requestor.is_staff else ActorKind.CUSTOMER
        return cls(kind, requestor.user_id or "", requestor.email or "")


SYSTEM = Actor(ActorKind.SYSTEM)
HOST = Actor(ActorKind.HOST)


def lock_detection() -> None:
    """One detector or claim writer at a time: caps are sums over every claim."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
            ["saleor-support-plugin:price-protection"],
        )


def next_claim_number() -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT nextval('{NUMBER_SEQUENCE}')")
        return int(cursor.fetchone()[0])


def _transition(
    claim: PriceClaim, to_state: str, actor: Actor, note: str = "", *, at: Any = None
) -> None:
    PriceClaimTransition.objects.create(
        claim=claim,
        from_state=claim.state,
        to_state=to_state,
        actor_kind=actor.kind,
        actor_id=actor.user_id,
        actor_email=actor.email,
        note=note[:MAX_REASON],
        created_at=at or timezone.now(),
    )
    claim.state = to_state


# --- the hook path


def record_price_change(
    *, variant_id: str, channel_slug: str = "", source: PriceChangeSource
) -> None:
    """Note that a variant's price may have changed: one INSERT, nothing read.

    Inside a transaction the INSERT waits for its commit (as the order hooks
    do); processing is published off the caller's thread, once per variant.
    """

    def insert() -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute(
                    f"INSERT INTO {PriceChange._meta.db_table} "  # noqa: S608
                    "(variant_id, channel_slug, source, created_at) VALUES (%s, %s, %s, %s)",
                    [variant_id, channel_slug or "", source.value, timezone.now()],
                )
        except Exception:
            logger.exception(
                "Support plugin could not record a price change of variant %s.",
                variant_id,
            )
            return
        in_background_once(f"price:{variant_id}", enqueue_price_changes, variant_id)

    if connection.in_atomic_block:
        transaction.on_commit(insert, robust=True)
    else:
        insert()


def enqueue_price_changes(variant_id: str) -> None:
    from ..tasks import process_price_changes_task

    try:
        process_price_changes_task.delay([variant_id])
    except Exception:
        logger.warning(
            "Could not enqueue price-change processing of %s; the sweep will do it.",
            variant_id,
            exc_info=True,
        )


def enqueue_refund(claim_ids: list[str]) -> None:
    from ..tasks import execute_claim_refund_task

    for claim_id in claim_ids:
        try:
            execute_claim_refund_task.delay(claim_id)
        except Exception:
            logger.warning(
                "Could not enqueue the refund of claim %s; the sweep will do it.",
                claim_id,
                exc_info=True,
            )


def process_price_changes(
    *, settings: SupportSettings, variant_ids: list[str] | None = None, now: Any = None
) -> list[str]:
    """Take pending price changes (of these variants, or all) and look for drops."""
    now = now or timezone.now()
    with transaction.atomic():
        rows = PriceChange.objects.select_for_update(skip_locked=True).filter(
            processed_at__isnull=True
        )
        if variant_ids is not None:
            rows = rows.filter(variant_id__in=variant_ids)
        taken = list(rows.order_by("id").values_list("id", "variant_id")[:5000])
        if not taken:
            return []
        created = detect_price_drops(
            variant_ids=sorted({variant for _, variant in taken}),
            settings=settings,
            now=now,
        )
        PriceChange.objects.filter(pk__in=[pk for pk, _ in taken]).update(
            processed_at=timezone.now()
        )
    return created


# --- detection


@dataclass
class _Room:
    """What is left under the caps while claims are planned."""

    order: dict[int, Decimal] = field(default_factory=dict)
    order_cap: dict[int, Decimal | None] = field(default_factory=dict)
    customer: dict[str, Decimal | None] = field(default_factory=dict)


def detect_price_drops(
    *,
    settings: SupportSettings,
    variant_ids: list[str] | None = None,
    prices: list[VariantPrice] | None = None,
    now: Any = None,
) -> list[str]:
    """Open a claim for every eligible line a drop is worth refunding; return their ids.

    Decided from levels: what the line was paid, what it costs now and what
    its claims already stand for; the order of triggers does not matter.
    """
    if not (settings.active and settings.price_protection_enabled):
        return []
    now = now or timezone.now()
    policy = get_policy(settings)
    since = policy.window_start(now)
    if prices is None:
        pairs = bought_pairs(variant_ids or [], since)
        prices = list(ports.read_variant_prices(pairs).values())
    prices = [price for price in prices if not policy.is_excluded(price)]
    if not prices:
        return []
    with transaction.atomic():
        lock_detection()
        candidates = eligible_lines(prices, since)
        rows = _plan_claims(candidates, policy, now)
        created = _insert_claims(rows, now)
    approved = [claim_id for claim_id, state in created if state == ClaimState.APPROVED]
    if approved:
        transaction.on_commit(lambda: in_background(enqueue_refund, approved))
    if created:
        logger.info(
            "Price protection opened %d claim(s) (%d approved automatically).",
            len(created),
            len(approved),
        )
    return [claim_id for claim_id, _ in created]


def _facts(line: EligibleLine) -> LineFacts:
    return LineFacts(
        line_id=line.line_id,
        placed_at=line.placed_at,
        currency=line.currency,
        quantity_kept=line.quantity_kept,
        unit_price_gross=line.unit_price_gross,
        unit_price_net=line.unit_price_net,
        already_claimed=line.already_claimed,
    )


def _rooms(
    candidates: list[tuple[EligibleLine, VariantPrice]],
    policy: PricePolicy,
    now: datetime,
) -> _Room:
    room = _Room()
    money = order_money(sorted({line.order_pk for line, _ in candidates}))
    order_cap = policy.order_cap()
    for pk, figures in money.items():
        room.order[pk] = figures.refundable
        room.order_cap[pk] = (
            None if order_cap is None else max(order_cap - figures.claimed, Decimal(0))
        )
    customer_cap = policy.customer_cap()
    if customer_cap is not None:
        emails = sorted({line.customer_email for line, _ in candidates})
        claimed = claimed_by_customers(emails, now - policy.customer_cap_period())
        for email in emails:
            room.customer[email] = max(
                customer_cap - claimed.get(email, Decimal(0)), Decimal(0)
            )
    return room


def _plan_claims(
    candidates: list[tuple[EligibleLine, VariantPrice]],
    policy: PricePolicy,
    now: datetime,
) -> list[dict[str, Any]]:
    if not candidates:
        return []
    room = _rooms(candidates, policy, now)
    method = policy.refund_method().value
    rows = []
    for line, price in candidates:
        facts = _facts(line)
        amount = policy.additional_amount(facts, price.amount, gross=price.gross)
        order_room = room.order.get(line.order_pk, Decimal(0))
        order_cap = room.order_cap.get(line.order_pk)
        limits = Limits(
            order=order_room if order_cap is None else min(order_room, order_cap),
            customer=room.customer.get(line.customer_email),
        )
        amount = policy.apply_caps(amount, limits, line.currency)
        if not policy.worth_refunding(amount):
            continue
        room.order[line.order_pk] = order_room - amount
        if order_cap is not None:
            room.order_cap[line.order_pk] = order_cap - amount
        if room.customer.get(line.customer_email) is not None:
            room.customer[line.customer_email] = (
                room.customer[line.customer_email] or Decimal(0)
            ) - amount
        state = (
            ClaimState.APPROVED
            if policy.auto_approves(amount, automatic=True)
            else ClaimState.PENDING_REVIEW
        )
        basis = "gross" if price.gross else "net"
        rows.append(
            {
                "key": f"drop:{line.line_pk}:{basis}:{price.amount.normalize()}",
                "order_pk": line.order_pk,
                "line_pk": line.line_pk,
                "state": state.value,
                "user_id": line.user_id,
                "email": line.customer_email,
                "channel": line.channel_slug,
                "currency": line.currency,
                "basis": basis,
                "paid": policy.paid_unit_price(facts, gross=price.gross),
                "new": price.amount,
                "quantity": line.quantity_kept,
                "amount": amount,
                "approved": amount if state == ClaimState.APPROVED else None,
                "method": method,
            }
        )
    return rows


INSERT_CLAIMS_SQL = """
WITH input AS (
    SELECT * FROM unnest(
        %(keys)s::text[], %(orders)s::bigint[], %(lines)s::bigint[], %(states)s::text[],
        %(users)s::text[], %(emails)s::text[], %(channels)s::text[], %(currencies)s::text[],
        %(bases)s::text[], %(paid)s::numeric[], %(new)s::numeric[], %(quantities)s::int[],
        %(amounts)s::numeric[], %(approved)s::numeric[], %(methods)s::text[]
    ) AS i(key, order_pk, line_pk, state, user_id, email, channel, currency, basis,
           paid, new, quantity, amount, approved, method)
), inserted AS (
    INSERT INTO {claims} (
        id, number, idempotency_key, order_id, line_id, source, state,
        customer_user_id, customer_email, channel_slug, currency, price_basis,
        paid_unit_price, new_unit_price, quantity, amount, approved_amount,
        refund_method, evidence_url, other_shop, note, rejection_reason,
        failure_reason, refund_attempt, refund_key, refund_reference,
        created_at, updated_at
    )
    SELECT gen_random_uuid(), nextval('{sequence}'), key, order_pk, line_pk, 'automatic',
           state, user_id, email, channel, currency, basis, paid, new, quantity, amount,
           approved, method, '', false, '', '', '', 0, '', '', %(now)s, %(now)s
    FROM input
    ON CONFLICT DO NOTHING
    RETURNING id, state
), transitions AS (
    INSERT INTO {transitions} (claim_id, from_state, to_state, actor_kind, actor_id,
                               actor_email, note, created_at)
    SELECT id, f, t, 'system', '', '', n, %(now)s FROM inserted,
    LATERAL (VALUES ('', 'detected', 'the price dropped below what the customer paid'),
                    ('detected', state, CASE WHEN state = 'approved'
                        THEN 'within the automatic-approval limit'
                        ELSE 'above the automatic-approval limit: staff review' END))
            AS v(f, t, n)
)
SELECT id::text, state FROM inserted
"""


def _insert_claims(rows: list[dict[str, Any]], now: datetime) -> list[tuple[str, str]]:
    """Insert planned claims and their first transitions in one statement; return (id, state).

    ON CONFLICT DO NOTHING covers both the fact's key and the one-open-claim
    index, so a claim another detector created meanwhile is simply not repeated.
    """
    if not rows:
        return []
    sql = INSERT_CLAIMS_SQL.format(
        claims=PriceClaim._meta.db_table,
        transitions=PriceClaimTransition._meta.db_table,
        sequence=NUMBER_SEQUENCE,
    )
    params: dict[str, Any] = {
        "keys": [r["key"] for r in rows],
        "orders": [r["order_pk"] for r in rows],
        "lines": [r["line_pk"] for r in rows],
        "states": [r["state"] for r in rows],
        "users": [r["user_id"] for r in rows],
        "emails": [r["email"] for r in rows],
        "channels": [r["channel"] for r in rows],
        "currencies": [r["currency"] for r in rows],
        "bases": [r["basis"] for r in rows],
        "paid": [r["paid"] for r in rows],
        "new": [r["new"] for r in rows],
        "quantities": [r["quantity"] for r in rows],
        "amounts": [r["amount"] for r in rows],
        "approved": [r["approved"] for r in rows],
        "methods": [r["method"] for r in rows],
        "now": now,
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [(claim_id, state) for claim_id, state in cursor.fetchall()]


# --- the sweep


@dataclass(frozen=True)
class SweepReport:
    claims_opened: int
    pairs_checked: int
    refunds_settled: int
    refunds_enqueued: int


def sweep_price_protection(
    *, settings: SupportSettings, now: Any = None
) -> SweepReport:
    """Re-read every price bought within the window (hourly), then do the tick's work.

    Saleor does not announce every price change (promotions recomputed in
    tasks, bulk updates), so detection cannot rely on hooks alone.
    """
    if not (settings.active and settings.price_protection_enabled):
        return SweepReport(0, 0, 0, 0)
    now = now or timezone.now()
    policy = get_policy(settings)
    opened = 0
    pairs = all_bought_pairs(policy.window_start(now))
    for start in range(0, len(pairs), SWEEP_BATCH):
        batch = pairs[start : start + SWEEP_BATCH]
        prices = list(ports.read_variant_prices(batch).values())
        opened += len(detect_price_drops(settings=settings, prices=prices, now=now))
    tick = price_protection_tick(settings=settings, now=now)
    return SweepReport(
        opened + tick.claims_opened,
        len(pairs),
        tick.refunds_settled,
        tick.refunds_enqueued,
    )


def price_protection_tick(*, settings: SupportSettings, now: Any = None) -> SweepReport:
    """Pick up what a lost task left (every minute): price changes, refunds in flight, approved claims."""
    if not (settings.active and settings.price_protection_enabled):
        return SweepReport(0, 0, 0, 0)
    now = now or timezone.now()
    opened = len(process_price_changes(settings=settings, now=now))
    settled = settle_in_flight(settings=settings, now=now)
    stale = list(
        PriceClaim.objects.filter(
            state=ClaimState.APPROVED, updated_at__lt=now - GRACE
        ).values_list("id", flat=True)[:500]
    )
    enqueue_refund([str(pk) for pk in stale])
    return SweepReport(opened, 0, settled, len(stale))


def settle_in_flight(
    *, settings: SupportSettings, now: Any = None, order_id: str | None = None
) -> int:
    """Ask the host what became of refunds requested a while ago (a worker may have died).

    With `order_id`: that order's refunds in flight, however recent (the shop
    just reported a refund on it).
    """
    now = now or timezone.now()
    claims_in_flight = PriceClaim.objects.filter(state=ClaimState.REFUND_REQUESTED)
    if order_id is not None:
        claims_in_flight = claims_in_flight.filter(order__order_id=order_id)
    else:
        claims_in_flight = claims_in_flight.filter(
            refund_requested_at__lt=now - IN_FLIGHT_CHECK_AFTER
        )
    claims = list(claims_in_flight.values_list("id", flat=True)[:200])
    settled = 0
    for claim_id in claims:
        if _settle_one_in_flight(str(claim_id), settings=settings):
            settled += 1
    return settled


def _settle_one_in_flight(claim_id: str, *, settings: SupportSettings) -> bool:
    claim = (
        PriceClaim.objects.select_related("order", "line").filter(pk=claim_id).first()
    )
    if claim is None or claim.state != ClaimState.REFUND_REQUESTED:
        return False
    request = refund_request(claim, settings)
    result = ports.refund_status(request)
    if result is None and not _lost(claim):
        # Not known to the host yet, and recent: the first request may still be
        # on its way; asking now could only race it.
        return False
    if result is None:
        # The host never saw this key: the request was lost before it left
        # (the worker died). Asking again with the same key is safe.
        result = ports.request_refund(request)
    if result.status == RefundStatus.PENDING:
        PriceClaim.objects.filter(pk=claim.pk).update(
            refund_requested_at=timezone.now()
        )
        return False
    return settle_refund(claim_id, request.key, result, settings=settings)


def _lost(claim: PriceClaim) -> bool:
    requested = claim.refund_requested_at
    return requested is None or timezone.now() - requested >= IN_FLIGHT_CHECK_AFTER


def enqueue_settlement(order_id: str) -> None:
    from ..tasks import settle_price_refunds_task

    try:
        settle_price_refunds_task.delay(order_id)
    except Exception:
        logger.warning(
            "Could not enqueue settling refunds of order %s; the tick will.",
            order_id,
            exc_info=True,
        )


def refunds_in_flight(order_id: str) -> bool:
    return PriceClaim.objects.filter(
        order__order_id=order_id, state=ClaimState.REFUND_REQUESTED
    ).exists()


# --- refunds


def refund_request(claim: PriceClaim, settings: SupportSettings) -> RefundRequest:
    return RefundRequest(
        key=claim.refund_key,
        claim_id=str(claim.pk),
        order_id=claim.order.order_id,
        line_id=claim.line.line_id,
        amount=quantize(claim.refund_amount, claim.currency),
        currency=claim.currency,
        method=RefundMethod(claim.refund_method),
        customer_email=claim.customer_email,
        channel_slug=claim.channel_slug,
        reason=f"Price protection {claim.reference}: {claim.line.product_name} "
        f"{format_money(claim.paid_unit_price, claim.currency)} → "
        f"{format_money(claim.new_unit_price, claim.currency)}",
        reason_reference=settings.price_protection_refund_reason,
    )


def execute_claim_refund(claim_id: str, *, settings: SupportSettings) -> str:
    """Request the refund of an approved claim, once; return the claim's state after it."""
    with transaction.atomic():
        claim = (
            PriceClaim.objects.select_for_update()
            .select_related("order", "line")
            .filter(pk=claim_id)
            .first()
        )
        if claim is None:
            return "missing"
        if claim.state != ClaimState.APPROVED:
            # Another worker took it, or it is not approved (any more).
            return str(claim.state)
        claim.refund_attempt += 1
        claim.refund_key = f"ssp-price-claim-{claim.number}-{claim.refund_attempt}"
        claim.refund_requested_at = timezone.now()
        claim.failure_reason = ""
        _transition(
            claim,
            ClaimState.REFUND_REQUESTED,
            SYSTEM,
            f"refund of {format_money(claim.refund_amount, claim.currency)} "
            f"requested ({claim.refund_method}, step {claim.refund_attempt})",
        )
        claim.save()
        request = refund_request(claim, settings)
    # Outside the transaction: the host may talk to a payment provider. A
    # crash here leaves "refund requested", which the sweep settles by key.
    try:
        result = ports.request_refund(request)
    except Exception as exc:  # the executor must not raise; be safe if it does
        logger.exception("Refund executor failed for claim %s", claim_id)
        result = RefundResult(RefundStatus.FAILED, message=type(exc).__name__)
    settle_refund(claim_id, request.key, result, settings=settings)
    return str(
        PriceClaim.objects.filter(pk=claim_id).values_list("state", flat=True).first()
    )


def settle_refund(
    claim_id: str, key: str, result: RefundResult, *, settings: SupportSettings
) -> bool:
    """Record what the host says about a refund step; True when the claim was settled."""
    if result.status == RefundStatus.PENDING:
        return False
    with transaction.atomic():
        claim = (
            PriceClaim.objects.select_for_update()
            .select_related("order", "line")
            .filter(pk=claim_id)
            .first()
        )
        if (
            claim is None
            or claim.state != ClaimState.REFUND_REQUESTED
            or claim.refund_key != key
        ):
            return False
        claim.refund_reference = result.reference[:255]
        if result.status == RefundStatus.SUCCEEDED:
            claim.refunded_at = timezone.now()
            _transition(claim, ClaimState.REFUNDED, HOST, result.message)
            claim.save()
            _notify(claim, NotificationKind.PRICE_REFUNDED, settings, result=result)
        elif result.status == RefundStatus.MANUAL:
            claim.failure_reason = (result.message or "no payment can refund it")[:255]
            _transition(claim, ClaimState.MANUAL_REFUND, HOST, claim.failure_reason)
            claim.save()
            _notify_staff(claim, settings)
        else:
            claim.failure_reason = (result.message or "the payment app refused it")[
                :255
            ]
            _transition(claim, ClaimState.FAILED, HOST, claim.failure_reason)
            claim.save()
    logger.info(
        "Price claim %s: refund %s (%s)", claim.reference, result.status, claim.state
    )
    return True


# --- notifications


def claim_context(claim: PriceClaim, *, gift_card_code: str = "") -> dict[str, Any]:
    currency = claim.currency
    return {
        "claim": {
            "reference": claim.reference,
            "product_name": claim.line.product_name,
            "variant_name": claim.line.variant_name,
            "old_price": format_money(claim.paid_unit_price, currency),
            "new_price": format_money(claim.new_unit_price, currency),
            "quantity": claim.quantity,
            "amount": format_money(claim.refund_amount, currency),
            "method": claim.refund_method,
            "gift_card": claim.refund_method == RefundMethod.GIFT_CARD,
            "gift_card_code": gift_card_code,
            "reason": claim.rejection_reason or claim.failure_reason,
            "state": claim.state,
        }
    }


def _notify(
    claim: PriceClaim,
    kind: NotificationKind,
    settings: SupportSettings,
    *,
    result: RefundResult | None = None,
) -> None:
    from ..notifications.services import create_notifications

    context = claim_context(
        claim, gift_card_code=result.gift_card_code if result is not None else ""
    )
    plan = NotificationPlan(kind, f"{kind.value}:{claim.pk}", context)
    create_notifications([plan], event=None, snapshot=claim.order, settings=settings)


def _notify_staff(claim: PriceClaim, settings: SupportSettings) -> None:
    from ..notifications.services import create_ticket_notification

    create_ticket_notification(
        kind=NotificationKind.PRICE_REFUND_MANUAL,
        key=f"price_refund_manual:{claim.pk}:{claim.refund_attempt}",
        recipients=list(settings.support_staff_addresses),
        context={
            **claim_context(claim),
            "order": {
                "number": claim.order.number,
                "customer_email": claim.order.customer_email,
            },
        },
        order_id=claim.order.order_id,
        language_code="en",
        settings=settings,
    )


# --- customer claims


@dataclass(frozen=True)
class ClaimInput:
    line_id: str
    url: str
    price: str | Decimal
    currency: str
    note: str = ""


def _owned_line(requestor: Requestor, line_id: str) -> OrderLineSnapshot:
    """Return the requestor's own line; NOT_FOUND alike for missing and not theirs."""
    line = (
        OrderLineSnapshot.objects.select_related("order")
        .filter(line_id=line_id)
        .first()
    )
    order: OrderSnapshot | None = line.order if line is not None else None
    owned = order is not None and (
        (
            requestor.is_guest
            and requestor.guest_order_id == order.order_id
            and not order.user_id
        )
        or (requestor.user_id is not None and order.user_id == requestor.user_id)
    )
    if not owned or line is None:
        raise error("line_id", "Order line not found.", SupportErrorCode.NOT_FOUND)
    return line


def _clean_url(raw: str) -> str:
    url = (raw or "").strip()
    parts = urlsplit(url) if len(url) <= MAX_URL else None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or any(ch in url for ch in " \r\n\t<>\"'")
    ):
        raise error(
            "url",
            "Enter the http(s) address of the page showing the lower price.",
            SupportErrorCode.INVALID_URL,
        )
    return url


def _is_own_shop(url: str, settings: SupportSettings) -> bool:
    own = urlsplit(settings.public_url).hostname if settings.public_url else None
    host = urlsplit(url).hostname or ""
    return bool(own) and (host == own or host.endswith(f".{own}"))


def _clean_price(raw: str | Decimal, currency: str) -> Decimal:
    try:
        price = Decimal(str(raw).strip())
    except (InvalidOperation, ValueError):
        raise error(
            "price", "Enter the price as a number.", SupportErrorCode.INVALID
        ) from None
    if not price.is_finite() or price < 0 or price > Decimal("1e12"):
        raise error("price", "Enter a price of zero or more.", SupportErrorCode.INVALID)
    exponent = currency_exponent(currency)
    if price != price.quantize(Decimal(1).scaleb(-exponent), rounding="ROUND_DOWN"):
        raise error(
            "price",
            f"{currency} prices have {exponent} decimal places.",
            SupportErrorCode.INVALID,
        )
    return price


def claim_create(
    *,
    requestor: Requestor,
    settings: SupportSettings,
    data: ClaimInput,
    now: Any = None,
) -> PriceClaim:
    """Open a customer's (or guest's) claim of a lower price: for staff review, with a ticket."""
    from ..tickets.models import TicketCategory
    from ..tickets.services import check_write_rate, ticket_create

    if not (settings.active and settings.price_protection_enabled):
        raise error(
            None, "Price protection is switched off.", SupportErrorCode.FEATURE_DISABLED
        )
    if requestor.is_anonymous or requestor.is_staff:
        raise PermissionDenied
    now = now or timezone.now()
    policy = get_policy(settings)
    line = _owned_line(requestor, data.line_id)
    order = line.order
    currency = (data.currency or "").strip().upper()
    if currency != line.currency:
        raise error(
            "currency",
            f"The order was paid in {line.currency}; enter the price in {line.currency}.",
            SupportErrorCode.CURRENCY_MISMATCH,
        )
    url = _clean_url(data.url)
    price = _clean_price(data.price, currency)
    note = plain_text(data.note or "")
    if len(note) > MAX_NOTE:
        raise error(
            "note",
            f"Keep the note under {MAX_NOTE} characters.",
            SupportErrorCode.TOO_LONG,
        )
    if not policy.in_window(order.placed_at, now):
        raise error(
            "line_id",
            f"Price protection lasts {settings.price_protection_window_days} days from "
            "the order; this order is older.",
            SupportErrorCode.OUTSIDE_WINDOW,
        )
    other_shop = not _is_own_shop(url, settings)
    if other_shop and not settings.price_protection_other_shops:
        raise error(
            "url",
            "Only this store's own lower prices are refunded.",
            SupportErrorCode.OTHER_SHOP_NOT_ACCEPTED,
        )
    current = (
        ports.read_variant_prices([(line.variant_id, order.channel_slug)]).get(
            (line.variant_id, order.channel_slug)
        )
        if line.variant_id
        else None
    )
    if current is not None and policy.is_excluded(current):
        raise error(
            "line_id",
            "This product is not covered by price protection.",
            SupportErrorCode.EXCLUDED_PRODUCT,
        )
    facts = LineFacts(
        line_id=line.line_id,
        placed_at=order.placed_at,
        currency=line.currency,
        quantity_kept=line.quantity_kept,
        unit_price_gross=line.unit_price_gross,
        unit_price_net=line.unit_price_net,
    )
    # The customer shows a price as customers see it: gross.
    if price >= line.unit_price_gross:
        raise error(
            "price",
            f"You paid {format_money(line.unit_price_gross, currency)}; the price you "
            "saw is not lower.",
            SupportErrorCode.PRICE_NOT_LOWER,
        )
    if not settings.tickets_enabled:
        # Opening the ticket counts against the same allowance otherwise.
        check_write_rate(requestor, settings, None)
    with transaction.atomic():
        lock_detection()
        # Before the amount: a second submit of the same claim is a duplicate,
        # not "nothing left" (the open claim already counts against the line).
        if PriceClaim.objects.filter(
            line=line, state__in=[s.value for s in OPEN_STATES]
        ).exists():
            raise error(
                "line_id",
                "A claim for this line is already open.",
                SupportErrorCode.DUPLICATE_CLAIM,
            )
        claimed = _claimed_on_line(line)
        facts = LineFacts(**{**facts.__dict__, "already_claimed": claimed})
        amount = policy.additional_amount(facts, price, gross=True)
        money = order_money([order.pk]).get(order.pk)
        limits = Limits(
            order=_order_limit(policy, money),
            customer=_customer_limit(policy, order.customer_email, now),
        )
        amount = policy.apply_caps(amount, limits, currency)
        if amount <= 0:
            raise error(
                "price",
                "Nothing is left to refund on this line.",
                SupportErrorCode.AMOUNT_TOO_HIGH,
            )
        claim = PriceClaim(
            number=next_claim_number(),
            idempotency_key=f"customer:{uuid.uuid4()}",
            order=order,
            line=line,
            source=ClaimSource.CUSTOMER,
            state=ClaimState.PENDING_REVIEW,
            customer_user_id=order.user_id,
            customer_email=order.customer_email,
            channel_slug=order.channel_slug,
            currency=currency,
            price_basis="gross",
            paid_unit_price=line.unit_price_gross,
            new_unit_price=price,
            quantity=line.quantity_kept,
            amount=amount,
            refund_method=policy.refund_method().value,
            evidence_url=url,
            other_shop=other_shop,
            note=note,
            created_at=now,
        )
        actor = Actor.of(requestor)
        claim.save(force_insert=True)
        PriceClaimTransition.objects.create(
            claim=claim,
            from_state="",
            to_state=ClaimState.PENDING_REVIEW,
            actor_kind=actor.kind,
            actor_id=actor.user_id,
            actor_email=actor.email,
            note="claimed by the customer",
            created_at=now,
        )
        if settings.tickets_enabled:
            ticket = ticket_create(
                requestor=requestor,
                settings=settings,
                subject=f"Price claim {claim.reference}: {line.product_name}"[:255],
                body=_ticket_body(claim, line),
                order_id=order.order_id,
                category=TicketCategory.PRICE_PROTECTION,
            )
            claim.ticket = ticket
            claim.save(update_fields=["ticket"])
        _notify(claim, NotificationKind.PRICE_CLAIM_RECEIVED, settings)
    return claim


def _ticket_body(claim: PriceClaim, line: OrderLineSnapshot) -> str:
    parts = [
        f"Price claim {claim.reference} for {line.product_name}"
        + (f" ({line.variant_name})" if line.variant_name else ""),
        f"Paid {format_money(claim.paid_unit_price, claim.currency)} each; seen for "
        f"{format_money(claim.new_unit_price, claim.currency)} at {claim.evidence_url}",
        f"Refund if approved: up to {format_money(claim.amount, claim.currency)} "
        f"for {claim.quantity} item(s).",
    ]
    if claim.note:
        parts.append(f"Customer's note: {claim.note}")
    return "\n".join(parts)


def _claimed_on_line(line: OrderLineSnapshot) -> Decimal:
    rows = PriceClaim.objects.filter(
        line=line, state__in=[s.value for s in COUNTED_STATES]
    ).values_list("approved_amount", "amount")
    return sum(
        ((a if a is not None else b) for a, b in rows),
        Decimal(0),
    )


def _order_limit(policy: PricePolicy, money: Any) -> Decimal | None:
    if money is None:
        return Decimal(0)
    cap = policy.order_cap()
    room = money.refundable
    return room if cap is None else min(room, max(cap - money.claimed, Decimal(0)))


def _customer_limit(policy: PricePolicy, email: str, now: datetime) -> Decimal | None:
    cap = policy.customer_cap()
    if cap is None:
        return None
    claimed = claimed_by_customers([email], now - policy.customer_cap_period())
    return max(cap - claimed.get(email, Decimal(0)), Decimal(0))


# --- staff decisions


def _require_staff(requestor: Requestor, settings: SupportSettings) -> None:
    if not requestor.has_perm(settings.staff_permission):
        raise PermissionDenied


def _locked_claim(claim_id: str) -> PriceClaim:
    try:
        uuid.UUID(str(claim_id))
    except ValueError:
        raise error("id", "Claim not found.", SupportErrorCode.NOT_FOUND) from None
    claim = (
        PriceClaim.objects.select_for_update()
        .select_related("order", "line")
        .filter(pk=claim_id)
        .first()
    )
    if claim is None:
        raise error("id", "Claim not found.", SupportErrorCode.NOT_FOUND)
    return claim


def _require_state(claim: PriceClaim, *states: ClaimState) -> None:
    if claim.state not in states:
        raise error(
            "id",
            f"The claim is {ClaimState(claim.state).label.lower()}; this is not possible now.",
            SupportErrorCode.INVALID_STATUS,
        )


def claim_approve(
    *,
    requestor: Requestor,
    settings: SupportSettings,
    claim_id: str,
    amount: str | Decimal | None = None,
) -> PriceClaim:
    """Staff approve a claim under review, optionally for less; the refund follows on commit."""
    _require_staff(requestor, settings)
    with transaction.atomic():
        claim = _locked_claim(claim_id)
        _require_state(claim, ClaimState.PENDING_REVIEW, ClaimState.DETECTED)
        approved = claim.amount
        if amount is not None:
            try:
                approved = Decimal(str(amount).strip())
            except (InvalidOperation, ValueError):
                raise error(
                    "amount", "Enter the amount as a number.", SupportErrorCode.INVALID
                ) from None
            if not approved.is_finite() or approved <= 0:
                raise error(
                    "amount", "Enter an amount above zero.", SupportErrorCode.INVALID
                )
            if approved > claim.amount:
                raise error(
                    "amount",
                    f"At most {format_money(claim.amount, claim.currency)} is refundable "
                    "on this claim.",
                    SupportErrorCode.AMOUNT_TOO_HIGH,
                )
            if approved != quantize(approved, claim.currency):
                raise error(
                    "amount",
                    f"{claim.currency} amounts have "
                    f"{currency_exponent(claim.currency)} decimal places.",
                    SupportErrorCode.INVALID,
                )
        claim.approved_amount = approved
        _transition(
            claim,
            ClaimState.APPROVED,
            Actor.of(requestor),
            f"approved for {format_money(approved, claim.currency)}",
        )
        claim.save()
        claim_id_text = str(claim.pk)
        transaction.on_commit(lambda: in_background(enqueue_refund, [claim_id_text]))
    return claim


def claim_reject(
    *, requestor: Requestor, settings: SupportSettings, claim_id: str, reason: str
) -> PriceClaim:
    """Staff reject a claim under review (or one that failed) with the reason the customer sees."""
    _require_staff(requestor, settings)
    reason = plain_text(reason or "")
    if not reason:
        raise error("reason", "Say why, for the customer.", SupportErrorCode.REQUIRED)
    if len(reason) > MAX_REASON:
        raise error(
            "reason",
            f"Keep the reason under {MAX_REASON} characters.",
            SupportErrorCode.TOO_LONG,
        )
    with transaction.atomic():
        claim = _locked_claim(claim_id)
        _require_state(
            claim,
            ClaimState.PENDING_REVIEW,
            ClaimState.DETECTED,
            ClaimState.FAILED,
            ClaimState.MANUAL_REFUND,
        )
        claim.rejection_reason = reason
        _transition(claim, ClaimState.REJECTED, Actor.of(requestor), reason)
        claim.save()
        _notify(claim, NotificationKind.PRICE_CLAIM_REJECTED, settings)
    return claim


def claim_retry(
    *, requestor: Requestor, settings: SupportSettings, claim_id: str
) -> PriceClaim:
    """Staff retry a failed refund (a new step with its own key); it is requested on commit."""
    _require_staff(requestor, settings)
    with transaction.atomic():
        claim = _locked_claim(claim_id)
        _require_state(claim, ClaimState.FAILED, ClaimState.MANUAL_REFUND)
        _transition(claim, ClaimState.APPROVED, Actor.of(requestor), "refund retried")
        claim.save()
        claim_id_text = str(claim.pk)
        transaction.on_commit(lambda: in_background(enqueue_refund, [claim_id_text]))
    return claim


def claim_mark_refunded(
    *,
    requestor: Requestor,
    settings: SupportSettings,
    claim_id: str,
    reference: str = "",
) -> PriceClaim:
    """Staff refunded a manual claim by hand: it is settled, and the customer is told."""
    _require_staff(requestor, settings)
    reference = plain_text(reference or "")[:255]
    with transaction.atomic():
        claim = _locked_claim(claim_id)
        _require_state(claim, ClaimState.MANUAL_REFUND)
        claim.refund_reference = reference
        claim.refunded_at = timezone.now()
        _transition(claim, ClaimState.REFUNDED, Actor.of(requestor), "refunded by hand")
        claim.save()
        _notify(claim, NotificationKind.PRICE_REFUNDED, settings)
    return claim
