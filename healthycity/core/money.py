"""Money as people read it: the one way every page, report and export prints pounds."""

from __future__ import annotations

from decimal import Decimal


def pounds(value: Decimal | None) -> str:
    """£1,234 or £1,234.56: whole pounds without pence, as the seed reports print them."""
    if value is None:
        return "–"
    sign = "-" if value < 0 else ""
    value = abs(value)
    if value == value.to_integral_value():
        return f"{sign}£{int(value):,}"
    return f"{sign}£{value:,.2f}"
