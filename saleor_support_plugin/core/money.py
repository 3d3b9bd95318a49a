"""Money as Decimal quantized to its currency's minor unit (ISO 4217); never floats."""

from decimal import ROUND_HALF_UP, Decimal

ZERO_DECIMAL = frozenset(
    {
        "BIF",
        "CLP",
        "DJF",
        "GNF",
        "ISK",
        "JPY",
        "KMF",
        "KRW",
        "PYG",
        "RWF",
        "UGX",
        "VND",
        "VUV",
        "XAF",
        "XOF",
        "XPF",
    }
)
THREE_DECIMAL = frozenset({"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"})


def currency_exponent(currency: str) -> int:
    code = currency.upper()
    if code in ZERO_DECIMAL:
        return 0
    if code in THREE_DECIMAL:
        return 3
    return 2


def quantize(amount: Decimal | str | int, currency: str) -> Decimal:
    return Decimal(amount).quantize(
        Decimal(1).scaleb(-currency_exponent(currency)), rounding=ROUND_HALF_UP
    )


def format_money(amount: Decimal | str | int, currency: str) -> str:
    return f"{quantize(amount, currency)} {currency.upper()}"
