"""Money for people: the one formatter of amounts in metadata, rationales and PR bodies (pure)."""

from decimal import ROUND_HALF_UP, Decimal

# Minor units of the currencies whose cents are not two places (ISO 4217); every other code gets two.
_MINOR_UNITS = {"JPY": 0, "KRW": 0, "CLP": 0, "ISK": 0, "VND": 0, "UGX": 0, "PYG": 0,
                "BHD": 3, "KWD": 3, "OMR": 3, "JOD": 3, "TND": 3, "LYD": 3, "IQD": 3}


def format_money(amount: Decimal | float | None, currency: str | None) -> str:
    """An amount for people: 'USD 1,234.56', 'USD -1,234.56', 'JPY 1,235'; the currency's minor
    units (two places unless ISO 4217 says otherwise), rounded half up from the exact value (a
    Decimal stays exact; a float is read as the shortest text that round-trips). Without a currency
    just the number; None is 'n/a' (no amount, not zero). The currency is the warehouse's reporting
    currency (lib/billing/currency.py `reporting_currency`)."""
    if amount is None:
        return "n/a"
    value = amount if isinstance(amount, Decimal) else Decimal(str(amount))
    code = (currency or "").strip().upper()
    prefix = f"{code} " if code else ""
    if not value.is_finite():
        return f"{prefix}{value}"
    places = _MINOR_UNITS.get(code, 2)
    rounded = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    if rounded == 0:
        rounded = abs(rounded)  # -0.001 is shown as 0.00, not -0.00
    return f"{prefix}{rounded:,.{places}f}"
