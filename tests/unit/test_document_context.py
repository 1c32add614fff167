"""What the documents say: totals, VAT line, amounts in words, validity, payment QR payload."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from db.rate_table import DEFAULT_RATES
from pipelines.document.context import build_context, st00012_payload
from pipelines.price.engine import calculate, validate_brief
from voronka.errors import ValidationError
from voronka.settings import Settings

BRIEF = {"product": "ai_manager", "users": 25, "integrations": 3, "hosting": "cloud", "sla": "99.5",
         "deadline": "standard"}
DAY = date(2026, 5, 12)


def _settings(**overrides: Any) -> Settings:
    return Settings(_env_file=None, ENVIRONMENT="test", **overrides)  # type: ignore[call-arg]


def _context(kind: str, settings: Settings, *, package: str = "optimum", payment_url: str | None = None,
             brief: dict[str, Any] | None = None) -> dict[str, Any]:
    data = brief or BRIEF
    quote = calculate(validate_brief(data), DEFAULT_RATES)
    return build_context(kind, brief=data, quote=quote, package=package, client_name="Анна Смирнова",
                         company="ООО «Ромашка»", number="СЧ-2026-0001", version=1, settings=settings,
                         payment_url=payment_url, issued_at=DAY)


def _price(package: str, brief: dict[str, Any] | None = None) -> Decimal:
    quote = calculate(validate_brief(brief or BRIEF), DEFAULT_RATES)
    return next(p.price for p in quote.packages if p.code == package)


def test_invoice_without_vat_says_so_and_totals_the_package() -> None:
    ctx = _context("invoice", _settings(VAT_PERCENT=0))
    price = _price("optimum")
    assert ctx["total"] == price
    assert ctx["vat"]["label"] == "Без НДС (УСН)"
    assert ctx["vat"]["amount"] == 0
    assert ctx["lines"][0]["sum_text"] == f"{int(price):,}".replace(",", " ") + ",00"


def test_invoice_with_vat_shows_the_included_vat() -> None:
    ctx = _context("invoice", _settings(VAT_PERCENT=20))
    price = _price("optimum")
    assert ctx["vat"]["label"] == "В том числе НДС 20 %"
    assert ctx["vat"]["amount"] == (price / 6).quantize(Decimal("0.01"))
    assert ctx["total"] == price  # prices are final, VAT is inside


def test_total_in_words_matches_the_total() -> None:
    brief = {"product": "ai_lawyer", "users": 5}
    ctx = _context("invoice", _settings(), package="start", brief=brief)
    assert _price("start", brief) == Decimal(120000)
    assert ctx["total_words"] == "Сто двадцать тысяч рублей 00 копеек"


def test_prepayment_invoice_is_for_the_share() -> None:
    ctx = _context("invoice", _settings(PREPAYMENT_PERCENT=50))
    assert ctx["total"] == _price("optimum") / 2
    assert ctx["lines"][0]["name"].startswith("Предоплата 50 %")


def test_proposal_is_valid_for_14_days_and_marks_the_chosen_package() -> None:
    ctx = _context("proposal", _settings(), package="enterprise")
    assert ctx["valid_until_text"] == "26 мая 2026 г."
    assert [p["code"] for p in ctx["packages"] if p["chosen"]] == ["enterprise"]
    assert ctx["chosen"]["price"] == _price("enterprise")
    assert ctx["drivers"], "the price drivers are explained"


def test_qr_is_the_payment_url_when_given() -> None:
    ctx = _context("invoice", _settings(), payment_url="https://yoomoney.ru/checkout/payments/v2/contract?orderId=1")
    assert ctx["payment"]["qr_kind"] == "url"
    assert ctx["payment"]["qr_payload"].startswith("https://yoomoney.ru/")
    assert ctx["payment"]["qr_svg"].startswith("data:image/svg+xml")


def test_qr_is_the_bank_transfer_payload_otherwise() -> None:
    settings = _settings()
    ctx = _context("invoice", settings)
    payload = ctx["payment"]["qr_payload"]
    assert ctx["payment"]["qr_kind"] == "st00012"
    fields = dict(part.split("=", 1) for part in payload.split("|")[1:])
    assert payload.startswith("ST00012|")
    assert fields["Name"] == settings.AGENCY_NAME
    assert fields["PersonalAcc"] == settings.AGENCY_ACCOUNT
    assert fields["BIC"] == settings.AGENCY_BIK
    assert fields["CorrespAcc"] == settings.AGENCY_CORR_ACCOUNT
    assert fields["PayeeINN"] == settings.AGENCY_INN
    assert fields["Sum"] == str(int(_price("optimum") * 100))  # kopecks
    assert "СЧ-2026-0001" in fields["Purpose"]


def test_payload_values_cannot_break_the_format() -> None:
    payload = st00012_payload(_settings(AGENCY_NAME="ООО «A|B»"), Decimal("12.34"), "за | услуги")
    assert payload.count("|") == 9
    assert "Sum=1234" in payload


def test_unknown_package_or_product_is_a_clear_error() -> None:
    with pytest.raises(ValidationError, match="Пакета «gold» нет"):
        _context("proposal", _settings(), package="gold")
    with pytest.raises(ValidationError, match="Неизвестный вид документа"):
        _context("letter", _settings())
