"""Money as printed on Russian documents: «180 000,00» and «Сто восемьдесят тысяч рублей 00 копеек»."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from num2words import CONVERTER_CLASSES, num2words

_CENT = Decimal("0.01")
_RUB_FORMS, _KOP_FORMS = CONVERTER_CLASSES["ru"].CURRENCY_FORMS["RUB"]


def to_money(value: Decimal | int | str) -> Decimal:
    """Round to kopecks (half up, as accountants do)."""
    return Decimal(str(value)).quantize(_CENT, rounding=ROUND_HALF_UP)


def _plural(n: int, forms: tuple[str, str, str]) -> str:
    result: str = CONVERTER_CLASSES["ru"].pluralize(n, forms)
    return result


def amount_in_words(amount: Decimal) -> str:
    """«Сто пятьдесят тысяч рублей 00 копеек»: roubles in words, kopecks in digits, first letter capital.

    num2words is given a Decimal of whole roubles (an int would be read as kopecks) and its «, ноль копеек»
    tail is replaced by the two-digit kopecks with the right plural form.
    """
    value = to_money(amount)
    if value < 0:
        raise ValueError("amount_in_words: сумма не может быть отрицательной")
    roubles = int(value)
    kopecks = int((value - roubles) * 100)
    words = num2words(Decimal(roubles), lang="ru", to="currency", currency="RUB")
    roubles_part = words.split(",")[0].strip()
    if not roubles_part.endswith(_RUB_FORMS):  # guard against a num2words format change
        roubles_part = f"{roubles_part} {_plural(roubles, _RUB_FORMS)}"
    text = f"{roubles_part} {kopecks:02d} {_plural(kopecks, _KOP_FORMS)}"
    return text[0].upper() + text[1:]


def format_amount(amount: Decimal | int, *, kopecks: bool = False) -> str:
    """«180 000» (or «180 000,00» with ``kopecks``): groups of three split by a space, comma decimals.

    A plain space (not a no-break one) so that the PDF text reads «180 000»; templates keep amounts on one
    line with CSS ``white-space: nowrap``.
    """
    value = to_money(amount)
    whole = not kopecks and value == value.to_integral_value()
    text = f"{int(value):,}" if whole else f"{value:,.2f}"
    return text.replace(",", " ").replace(".", ",")


def format_rub(amount: Decimal | int, *, kopecks: bool = False) -> str:
    """«180 000 ₽»."""
    return f"{format_amount(amount, kopecks=kopecks)} ₽"
