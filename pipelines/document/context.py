"""Everything the document templates need, built from the brief, the quote and the settings.

The quote comes from ``pipelines.price.calculate``; it is read by attribute names only (``packages`` with
``code``, ``name``, ``price``, ``coefficients``, ``includes``, ``notes``, ``drivers``, ``hosting``, ``sla``),
so the templates never import pricing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import segno

from pipelines.document.money import amount_in_words, format_amount, format_rub, to_money
from voronka.errors import ValidationError
from voronka.settings import Settings
from voronka.vocabulary import PRICING_SLOT_TITLES, RECOMMENDED_PACKAGE, Package, Product, product_titles_listed

KINDS: tuple[str, ...] = ("proposal", "contract", "invoice")

TITLES: dict[str, str] = {
    "proposal": "Коммерческое предложение",
    "contract": "Договор оказания услуг",
    "invoice": "Счёт на оплату",
}
PROPOSAL_VALID_DAYS = 14
INVOICE_PAY_DAYS = 5

# The documents' description of each product (the title is the vocabulary's).
PRODUCTS: dict[str, dict[str, str]] = {
    Product.AI_MANAGER: {
        "name": Product.AI_MANAGER.info.title,
        "tagline": "ассистент продаж, который отвечает клиентам 24/7",
        "description": "Отвечает клиентам в мессенджерах и на сайте, квалифицирует заявки, собирает бриф, "
                       "считает стоимость и передаёт горячие лиды менеджерам в CRM.",
    },
    Product.AI_LAWYER: {
        "name": Product.AI_LAWYER.info.title,
        "tagline": "ассистент юриста для договоров и типовых вопросов",
        "description": "Проверяет договоры по чек-листам компании, находит рискованные условия, "
                       "готовит типовые документы и отвечает сотрудникам на правовые вопросы со ссылками "
                       "на источники.",
    },
    Product.AI_ANALYST: {
        "name": Product.AI_ANALYST.info.title,
        "tagline": "ответы на вопросы о бизнесе по данным компании",
        "description": "Подключается к учётным системам и таблицам, строит отчёты по запросу на русском "
                       "языке, находит отклонения в показателях и готовит регулярные сводки для "
                       "руководителей.",
    },
}

HOSTING = {"cloud": "Облако", "hybrid": "Гибрид (облако + контур заказчика)",
           "onprem": "On-premise (контур заказчика)"}
SLA = {
    "standard": {
        "name": "Стандартный", "uptime": "99 %", "support": "в рабочие дни с 10:00 до 19:00 (МСК)",
        "reaction": "до 8 рабочих часов", "fix": "до 3 рабочих дней",
    },
    "99.5": {
        "name": "Расширенный 99,5 %", "uptime": "99,5 %",
        "support": "критичные инциденты — 24/7, остальные — в рабочие часы",
        "reaction": "до 2 часов", "fix": "до 1 рабочего дня",
    },
    "99.9": {
        "name": "Премиальный 99,9 %", "uptime": "99,9 %", "support": "24/7, выделенный инженер",
        "reaction": "до 30 минут", "fix": "до 8 часов",
    },
}
DEADLINES = {"standard": "Стандартный (около 6 недель)", "lt2w": "Срочно — до 2 недель",
             "lt1w": "Очень срочно — до 1 недели"}
# Stage plan in working days for each deadline.
STAGES: tuple[tuple[str, str], ...] = (
    ("Аналитика и проектирование", "интервью, карта процессов, сценарии и критерии приёмки"),
    ("Настройка и обучение", "база знаний, промпты, тональность, проверка на ваших примерах"),
    ("Интеграции", "подключение каналов, CRM и учётных систем"),
    ("Тестирование и запуск", "опытная эксплуатация, обучение сотрудников, запуск в работу"),
)
# Working days per stage: a rushed deadline fixes the plan, otherwise the package's usual pace
# (matches «Запуск за 2–3 / 4–6 / 8–12 недель» in the packages' includes).
STAGE_DAYS = {"lt2w": (2, 3, 3, 2), "lt1w": (1, 2, 1, 1)}
PACKAGE_STAGE_DAYS = {Package.START: (2, 4, 4, 3), Package.OPTIMUM: (5, 10, 10, 5),
                      Package.ENTERPRISE: (10, 20, 20, 10)}
RUSH_INCLUDE = {"lt2w": "Ускоренный запуск — до 2 недель", "lt1w": "Срочный запуск — до 1 недели"}
COEFFICIENT_LABELS = {"base": "Базовая ставка", **PRICING_SLOT_TITLES, "onprem": "Размещение"}
MONTHS = ("января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа", "сентября", "октября",
          "ноября", "декабря")


def date_ru(value: date) -> str:
    """«12 мая 2026 г.»"""
    return f"{value.day} {MONTHS[value.month - 1]} {value.year} г."


def days_ru(n: int) -> str:
    """«1 рабочий день», «3 рабочих дня», «10 рабочих дней»."""
    if n % 10 == 1 and n % 100 != 11:
        return f"{n} рабочий день"
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return f"{n} рабочих дня"
    return f"{n} рабочих дней"


def brief_hash(brief: Mapping[str, Any], package: str, kind: str = "") -> str:
    """Stable fingerprint of what a document depends on (same brief + package → same document on retry)."""
    payload = json.dumps({"brief": dict(brief), "package": package, "kind": kind}, sort_keys=True,
                         ensure_ascii=False, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def _get(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


def _packages(quote: Any) -> list[Any]:
    packages = _get(quote, "packages")
    if packages is None:
        raise ValidationError("В расчёте нет пакетов — документ не из чего собрать", field="quote")
    if isinstance(packages, Mapping):
        return list(packages.values())
    return list(packages)


def _as_lines(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [line.strip(" •-\t") for line in value.splitlines() if line.strip(" •-\t")]
    if isinstance(value, Iterable):
        return [str(v) for v in value if str(v).strip()]
    return [str(value)]


def _coefficients(value: Any) -> list[dict[str, str]]:
    if not value:
        return []
    items: Iterable[tuple[Any, Any]]
    if isinstance(value, Mapping):
        items = value.items()
    elif hasattr(value, "model_dump"):
        items = value.model_dump().items()
    elif hasattr(value, "__dict__"):
        items = vars(value).items()
    else:
        return []
    rows = []
    for key, coef in items:
        if isinstance(coef, (int, float, Decimal)):
            text = f"{Decimal(str(coef)).normalize():f}"
            text = (text if "." in text else text + ".0").replace(".", ",")  # «×1,0», «×2,2»
            rows.append({"label": COEFFICIENT_LABELS.get(str(key), str(key)), "value": "×" + text})
    return rows


def _includes(value: Any, deadline: str) -> list[str]:
    """The package's list; its usual «Запуск за …» line gives way to the rushed deadline paid for."""
    lines = _as_lines(value)
    rush = RUSH_INCLUDE.get(deadline)
    if rush is None:
        return lines
    return [rush if line.startswith("Запуск за") else line for line in lines]


def _brief_rows(brief: Mapping[str, Any]) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    product = PRODUCTS.get(str(brief.get("product", "")))
    if product:
        rows.append(("Продукт", product["name"]))
    if brief.get("industry"):
        rows.append(("Отрасль", str(brief["industry"])))
    if brief.get("goals"):
        rows.append(("Цели", str(brief["goals"])))
    if brief.get("users") is not None:
        rows.append(("Пользователей", str(brief["users"])))
    if brief.get("integrations") is not None:
        rows.append(("Интеграций", str(brief["integrations"])))
    if brief.get("hosting"):
        rows.append(("Размещение", HOSTING.get(str(brief["hosting"]), str(brief["hosting"]))))
    if brief.get("sla"):
        sla = SLA.get(str(brief["sla"]))
        rows.append(("SLA", f"{sla['name']}, реакция {sla['reaction']}" if sla else str(brief["sla"])))
    if brief.get("deadline"):
        rows.append(("Срок запуска", DEADLINES.get(str(brief["deadline"]), str(brief["deadline"]))))
    if brief.get("security"):
        rows.append(("Безопасность", str(brief["security"])))
    return rows


def _vat_included(amount: Decimal, percent: int) -> Decimal:
    """VAT contained in a VAT-inclusive amount: amount × p / (100 + p), to kopecks."""
    if not percent:
        return Decimal("0.00")
    return to_money(amount * percent / (100 + percent))


def _clean_payload_value(value: str) -> str:
    return value.replace("|", "/").replace("\n", " ").strip()


def st00012_payload(settings: Settings, amount: Decimal, purpose: str) -> str:
    """Bank-transfer QR payload per ГОСТ Р 56042-2014 (UTF-8 variant, sum in kopecks)."""
    fields = [
        ("Name", settings.AGENCY_NAME), ("PersonalAcc", settings.AGENCY_ACCOUNT),
        ("BankName", settings.AGENCY_BANK), ("BIC", settings.AGENCY_BIK),
        ("CorrespAcc", settings.AGENCY_CORR_ACCOUNT), ("PayeeINN", settings.AGENCY_INN),
        ("KPP", settings.AGENCY_KPP), ("Sum", str(int(to_money(amount) * 100))),
        ("Purpose", purpose[:210]),
    ]
    return "ST00012|" + "|".join(f"{k}={_clean_payload_value(v)}" for k, v in fields if v)


def _qr(payload: str) -> dict[str, str]:
    qr = segno.make(payload, error="m", encoding="utf-8", micro=False)
    return {
        "svg": qr.svg_data_uri(scale=4, border=2, dark="#111111"),
        "png": qr.png_data_uri(scale=4, border=2),
    }


def build_context(kind: str, *, brief: dict[str, Any], quote: Any, package: str, client_name: str | None,
                  company: str | None, number: str, version: int, settings: Settings,
                  payment_url: str | None, issued_at: date) -> dict[str, Any]:
    """The whole template context for one document (``kind`` = proposal | contract | invoice)."""
    if kind not in KINDS:
        raise ValidationError(f"Неизвестный вид документа «{kind}»: нужен proposal, contract или invoice",
                              field="kind")
    product_code = str(brief.get("product", ""))
    product = PRODUCTS.get(product_code)
    if product is None:
        raise ValidationError(f"В брифе не указан продукт: {product_titles_listed()}", field="product")

    deadline = str(brief.get("deadline") or "standard")
    packages = []
    chosen: dict[str, Any] | None = None
    for pkg in _packages(quote):
        code = str(_get(pkg, "code", ""))
        price = to_money(_get(pkg, "price", 0))
        item: dict[str, Any] = {
            "code": code,
            "name": str(_get(pkg, "name", code)),
            "price": price,
            "price_text": format_rub(price),
            "includes": _includes(_get(pkg, "includes"), deadline),
            "coefficients": _coefficients(_get(pkg, "coefficients")),
            "notes": _as_lines(_get(pkg, "notes")),
            "drivers": _as_lines(_get(pkg, "drivers")),
            "hosting": str(_get(pkg, "hosting") or brief.get("hosting") or "cloud"),
            "sla": str(_get(pkg, "sla") or brief.get("sla") or "standard"),
            "chosen": code == package,
        }
        packages.append(item)
        if item["chosen"]:
            chosen = item
    if chosen is None:
        names = ", ".join(str(p["code"]) for p in packages) or "—"
        raise ValidationError(f"Пакета «{package}» нет в расчёте (есть: {names})", field="package")

    company_name = (company or "").strip() or (client_name or "").strip() or "Заказчик"
    client = {
        "name": (client_name or "").strip() or str(brief.get("name") or "").strip(),
        "company": company_name,
        "inn": str(brief.get("client_inn") or ""),
        "kpp": str(brief.get("client_kpp") or ""),
        "address": str(brief.get("client_address") or ""),
        "phone": str(brief.get("phone") or ""),
        "email": str(brief.get("email") or ""),
    }
    agency = {
        "name": settings.AGENCY_NAME, "inn": settings.AGENCY_INN, "kpp": settings.AGENCY_KPP,
        "ogrn": settings.AGENCY_OGRN, "address": settings.AGENCY_ADDRESS, "bank": settings.AGENCY_BANK,
        "bik": settings.AGENCY_BIK, "account": settings.AGENCY_ACCOUNT,
        "corr_account": settings.AGENCY_CORR_ACCOUNT, "phone": settings.AGENCY_PHONE,
        "email": settings.AGENCY_EMAIL, "director": settings.AGENCY_DIRECTOR,
        "site": settings.VORONKA_PUBLIC_URL.rstrip("/"),
    }

    stage_days = STAGE_DAYS.get(deadline) or PACKAGE_STAGE_DAYS.get(chosen["code"],
                                                                    PACKAGE_STAGE_DAYS[RECOMMENDED_PACKAGE])
    stages = [{"n": i + 1, "name": name, "result": result, "days": days, "days_text": days_ru(days)}
              for i, ((name, result), days) in enumerate(zip(STAGES, stage_days, strict=True))]
    total_days = sum(stage_days)

    # Amounts. Prices are final (VAT, if any, is included in them).
    price = chosen["price"]
    prepay_percent = settings.PREPAYMENT_PERCENT
    invoice_total = to_money(price * Decimal(prepay_percent) / 100)
    vat_percent = settings.VAT_PERCENT
    vat_amount = _vat_included(invoice_total, vat_percent)
    contract_vat = _vat_included(price, vat_percent)
    vat_label = f"В том числе НДС {vat_percent} %" if vat_percent else "Без НДС (УСН)"

    title = TITLES[kind]
    subject = f"Внедрение «{product['name']}», пакет «{chosen['name']}»"
    if prepay_percent < 100:
        line_name = f"Предоплата {prepay_percent} % за внедрение «{product['name']}», пакет «{chosen['name']}»"
    else:
        line_name = subject
    total_text = format_amount(invoice_total, kopecks=True)
    lines = [{"n": 1, "name": line_name, "qty": "1", "unit": "усл.", "price_text": total_text,
              "sum_text": total_text}]

    vat_note = f"В т.ч. НДС {vat_percent}% {format_amount(vat_amount, kopecks=True)} руб." if vat_percent \
        else "Без НДС"
    purpose = f"Оплата по счёту № {number} от {issued_at:%d.%m.%Y}. {vat_note}"
    if payment_url:
        qr_payload, qr_kind = payment_url, "url"
    else:
        qr_payload, qr_kind = st00012_payload(settings, invoice_total, purpose), "st00012"
    qr = _qr(qr_payload) if kind == "invoice" else {"svg": "", "png": ""}

    drivers = _as_lines(_get(quote, "drivers")) or chosen["drivers"]
    return {
        "kind": kind,
        "title": title,
        "number": number,
        "version": version,
        "issued_at": issued_at,
        "issued_at_text": date_ru(issued_at),
        "valid_until_text": date_ru(issued_at + timedelta(days=PROPOSAL_VALID_DAYS)),
        "pay_until_text": date_ru(issued_at + timedelta(days=INVOICE_PAY_DAYS)),
        "agency": agency,
        "client": client,
        "product": {"code": product_code, **product},
        "brief_rows": _brief_rows(brief),
        "packages": packages,
        "chosen": chosen,
        "drivers": drivers,
        "stages": stages,
        "total_days": total_days,
        "total_days_text": days_ru(total_days),
        "sla": SLA.get(chosen["sla"], SLA["standard"]),
        "hosting_text": HOSTING.get(chosen["hosting"], chosen["hosting"]),
        "subject": subject,
        "price": price,
        "price_text": format_rub(price),
        "price_amount": format_amount(price, kopecks=True),
        "price_words": amount_in_words(price),
        "contract_vat_text": format_amount(contract_vat, kopecks=True),
        "prepayment_percent": prepay_percent,
        "prepayment_amount": format_amount(invoice_total, kopecks=True),
        "vat": {"percent": vat_percent, "label": vat_label, "amount": vat_amount,
                "amount_text": format_amount(vat_amount, kopecks=True) if vat_percent else "—"},
        "lines": lines,
        "total": invoice_total,
        "total_text": format_amount(invoice_total, kopecks=True),
        "total_words": amount_in_words(invoice_total),
        "payment": {"url": payment_url or "", "qr_kind": qr_kind, "qr_payload": qr_payload,
                    "qr_svg": qr["svg"], "qr_png": qr["png"], "purpose": purpose},
        "max_pdf_bytes": settings.max_pdf_bytes,
    }
