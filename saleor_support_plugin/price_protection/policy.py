"""The price-protection policy: what a price drop is worth refunding, as small named rules.

Merchants replace it by pointing the Django setting `SUPPORT_PRICE_PROTECTION_POLICY`
at a subclass ("module.path:ClassName" or "module.path.ClassName"); every rule is a
method, so a subclass overrides just the one it wants to change (e.g. a longer window
for members, no refunds under a price floor).

Amounts are `Decimal` quantized to the currency's minor unit; a refund is always
in what the customer paid (gross), also when the channel enters prices net.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import ROUND_DOWN, Decimal
from importlib import import_module
from zoneinfo import ZoneInfo

from django.conf import settings as django_settings

from ..conf import SupportSettings
from ..core.money import currency_exponent, quantize
from .data import RefundMethod, VariantPrice

ZERO = Decimal(0)


@dataclass(frozen=True)
class LineFacts:
    """What the plugin knows of one purchased line, for the policy's rules."""

    line_id: str
    placed_at: datetime
    currency: str
    quantity_kept: int
    unit_price_gross: Decimal
    unit_price_net: Decimal
    # Money this line already stands for in claims (not rejected).
    already_claimed: Decimal = ZERO


@dataclass(frozen=True)
class Limits:
    """Room left under the caps, None when the cap is off."""

    order: Decimal | None
    customer: Decimal | None


class PricePolicy:
    """The default policy; see the README's "Price protection" section."""

    def __init__(self, settings: SupportSettings) -> None:
        self.settings = settings

    # --- when a line is eligible

    def business_zone(self) -> ZoneInfo:
        return ZoneInfo(self.settings.business_timezone)

    def window_start(self, now: datetime) -> datetime:
        """Return the earliest placing time still in the window.

        Counted in calendar days of the business time zone: with a 30-day
        window an order placed on 1 March (local) is protected through 31 March
        and not on 1 April, whatever the hour.
        """
        zone = self.business_zone()
        today = now.astimezone(zone).date()
        first_day = today - timedelta(days=self.settings.price_protection_window_days)
        return datetime.combine(first_day, time.min, tzinfo=zone)

    def in_window(self, placed_at: datetime, now: datetime) -> bool:
        return placed_at >= self.window_start(now)

    def is_excluded(self, price: VariantPrice) -> bool:
        """Tell whether the variant or product carries the exclusion mark (`price_protection: exclude`)."""
        key, value = self.settings.price_protection_exclude_metadata
        if not key:
            return False
        marked = price.metadata.get(key)
        return marked is not None and (not value or str(marked).lower() == value)

    # --- how much

    def paid_unit_price(self, line: LineFacts, *, gross: bool) -> Decimal:
        """Return what the customer paid per unit, on the basis the shop enters prices in."""
        return line.unit_price_gross if gross else line.unit_price_net

    def unit_refund(self, line: LineFacts, current: Decimal, *, gross: bool) -> Decimal:
        """Return the drop per unit, in what the customer paid (gross).

        Compared like with like; a drop of a net price is scaled by the line's
        own gross/net ratio, so tax is refunded with it.
        """
        paid = self.paid_unit_price(line, gross=gross)
        if current >= paid or paid <= ZERO:
            return ZERO
        drop = paid - max(current, ZERO)
        if gross:
            return drop
        return drop * line.unit_price_gross / paid

    def line_target(self, line: LineFacts, current: Decimal, *, gross: bool) -> Decimal:
        """Return what the line is owed in total at this price, for the quantity kept."""
        return self.round_down(
            self.unit_refund(line, current, gross=gross) * line.quantity_kept,
            line.currency,
        )

    def line_refundable(self, line: LineFacts) -> Decimal:
        """Never more than was paid for what the customer kept, minus what claims already took."""
        paid = quantize(line.unit_price_gross * line.quantity_kept, line.currency)
        return max(paid - line.already_claimed, ZERO)

    def additional_amount(
        self, line: LineFacts, current: Decimal, *, gross: bool
    ) -> Decimal:
        """Return the running claim's extra: a further drop refunds only the additional difference.

        A price that rises again gives a target below what was claimed: nothing,
        and nothing already refunded is taken back.
        """
        extra = self.line_target(line, current, gross=gross) - line.already_claimed
        return min(max(extra, ZERO), self.line_refundable(line))

    def apply_caps(self, amount: Decimal, limits: Limits, currency: str) -> Decimal:
        for room in (limits.order, limits.customer):
            if room is not None:
                amount = min(amount, max(room, ZERO))
        return self.round_down(amount, currency)

    def worth_refunding(self, amount: Decimal) -> bool:
        return amount > ZERO and amount >= self.settings.price_protection_minimum

    # --- who decides

    def auto_approves(self, amount: Decimal, *, automatic: bool) -> bool:
        """Own-store drops up to the threshold are refunded without review."""
        return automatic and amount <= self.settings.price_protection_auto_approve_limit

    def refund_method(self) -> RefundMethod:
        return RefundMethod(self.settings.price_protection_refund_method)

    # --- caps, as settings

    def order_cap(self) -> Decimal | None:
        cap = self.settings.price_protection_order_cap
        return cap if cap > ZERO else None

    def customer_cap(self) -> Decimal | None:
        cap = self.settings.price_protection_customer_cap
        return cap if cap > ZERO else None

    def customer_cap_period(self) -> timedelta:
        """Count claims of the last 12 months (rolling) against the customer cap."""
        return timedelta(days=365)

    # --- money

    @staticmethod
    def round_down(amount: Decimal, currency: str) -> Decimal:
        """Quantize to the currency's minor unit, never rounding a refund up."""
        return amount.quantize(
            Decimal(1).scaleb(-currency_exponent(currency)), rounding=ROUND_DOWN
        )


def _policy_class_path() -> str:
    return str(getattr(django_settings, "SUPPORT_PRICE_PROTECTION_POLICY", "") or "")


@functools.cache
def _load(path: str) -> type[PricePolicy]:
    module_name, sep, attribute = path.partition(":")
    if not sep:
        module_name, _, attribute = path.rpartition(".")
    cls = getattr(import_module(module_name), attribute)
    if not (isinstance(cls, type) and issubclass(cls, PricePolicy)):
        raise TypeError(f"{path} is not a PricePolicy subclass")
    return cls


def get_policy(settings: SupportSettings) -> PricePolicy:
    path = _policy_class_path()
    return (_load(path) if path else PricePolicy)(settings)
