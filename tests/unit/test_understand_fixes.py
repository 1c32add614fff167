"""Offline understanding: bugs seen in real conversations and in the v4 held-out set, one test each."""

from __future__ import annotations

from datetime import date

import pytest

from pipelines.understand.offline import understand_offline

MONDAY = date(2025, 3, 10)


@pytest.mark.parametrize("text", ["битрикс24", "Битрикс 24", "bitrix24"])
def test_bitrix24_as_an_answer_is_one_integration_not_24(text: str) -> None:
    u = understand_offline(text, expecting="integrations")
    assert (u.intent, u.slots) == ("brief", {"integrations": 1})


def test_bitrix24_in_a_list_counts_as_one_system() -> None:
    assert understand_offline("1С и Битрикс24", expecting="integrations").slots == {"integrations": 2}
    assert understand_offline("нас 12, подключить Битрикс24 и сайт").slots == {"users": 12, "integrations": 1}


@pytest.mark.parametrize(
    ("text", "deadline"),
    [("недели за три", "standard"), ("недели через две", "lt2w"), ("месяца через два", "standard")],
)
def test_a_period_with_the_number_after_the_unit(text: str, deadline: str) -> None:
    assert understand_offline(text, expecting="deadline", today=MONDAY).slots == {"deadline": deadline}


@pytest.mark.parametrize("text", ["сколько стоит месяц юриста", "цена месяц подписки на аналитика"])
def test_the_price_of_a_month_of_service_is_not_a_deadline(text: str) -> None:
    u = understand_offline(text, today=MONDAY)
    assert u.intent == "price"
    assert "deadline" not in u.slots


def test_a_month_to_launch_is_still_a_deadline() -> None:
    assert understand_offline("сколько стоит запустить юриста за месяц", today=MONDAY).slots == {
        "deadline": "standard"
    }


@pytest.mark.parametrize(
    ("text", "deadline"),
    [("дедлайн 31 марта", "standard"), ("крайний срок: 14 марта", "lt1w"), ("срок 20.03", "lt2w")],
)
def test_a_date_after_a_deadline_word_without_a_preposition(text: str, deadline: str) -> None:
    u = understand_offline(text, today=MONDAY)
    assert (u.intent, u.slots) == ("brief", {"deadline": deadline})


def test_a_name_signed_after_the_phone_number() -> None:
    u = understand_offline("позвоните по номеру 8 (912) 345-67-89, Андрей")
    assert u.slots == {"phone": "+79123456789", "name": "Андрей"}
    assert "name" not in understand_offline("наберите 8 912 345-67-89, спасибо").slots


def test_cian_and_the_site_are_channels_not_integrations() -> None:
    u = understand_offline("заявки идут с сайта и с циана, 18 менеджеров")
    assert "integrations" not in u.slots and u.slots["users"] == 18


def test_web_studio_and_data_centre_operator_are_it() -> None:
    assert understand_offline("веб студия, 15 человек").slots == {"users": 15, "industry": "IT"}
    assert understand_offline("мы дата-центр, 20 инженеров").slots == {"users": 20, "industry": "IT"}


@pytest.mark.parametrize("text", ["развернуть надо в нашем дата-центре", "у нас свой ЦОД, только туда"])
def test_own_data_centre_is_on_premises(text: str) -> None:
    u = understand_offline(text)
    assert (u.intent, u.slots) == ("brief", {"hosting": "onprem"})


def test_a_proposal_request_that_states_the_brief_keeps_every_slot() -> None:
    u = understand_offline("Хочу КП: ИИ-Юрист, 40 пользователей, облако")
    assert (u.intent, u.product, u.slots) == ("documents", "ai_lawyer", {"users": 40, "hosting": "cloud"})
    u = understand_offline("Хочу КП: ИИ-Менеджер, 40 пользователей, облако, амо и телеграм, запуск через 2 недели",
                           today=MONDAY)
    assert u.slots == {"users": 40, "integrations": 1, "hosting": "cloud", "deadline": "lt2w"}


def test_where_to_send_the_proposal_is_not_an_integration() -> None:
    assert understand_offline("скиньте кп в телеграм").slots == {}
    assert understand_offline("пришлите договор на почту").slots == {}


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        # the agency's experience, training, being Russian, hours, contract basis, size
        ("а вы уже работали с автосалонами?", "faq"),
        ("работали ли вы с медициной", "faq"),
        ("какой у вас опыт в ритейле?", "faq"),
        ("проводите обучение для персонала?", "faq"),
        ("обучаете ли вы менеджеров работе с системой?", "faq"),
        ("вы российская компания или зарубежная?", "faq"),
        ("до скольки вы работаете?", "faq"),
        ("вы работаете по оферте?", "faq"),
        ("сколько компаний у вас уже на обслуживании?", "faq"),
        # doubts without the usual cue words
        ("это надо согласовать с собственником", "objection"),
        ("у нас уже есть разработчик, который это делает", "objection"),
        ("мы как-то и так неплохо обходимся", "objection"),
        ("для нас это слишком сложно", "objection"),
        ("не вижу смысла в этом", "objection"),
        # short greetings
        ("доброго", "greeting"),
        ("Добрый!", "greeting"),
        ("драсьте, вы на связи?", "greeting"),
        # papers, paying, slots, a person
        ("пришлите предложение на почту", "documents"),
        ("где подписать акт?", "documents"),
        ("можно наличными заплатить?", "payment"),
        ("а скидка на год есть?", "price"),
        ("есть свободное окно в четверг?", "booking"),
        ("с вашим руководителем сначала пообщаюсь", "human"),
        ("хватит шаблонных ответов", "human"),
        ("живой человек есть?", "human"),
        ("спасибо за встречу!", "other"),
    ],
)
def test_general_patterns_found_on_the_v4_misses(text: str, intent: str) -> None:
    assert understand_offline(text).intent == intent


def test_a_product_doing_something_asked_about_is_product_info_not_a_brief() -> None:
    u = understand_offline("аналитик забирает остатки из МоегоСклада?")
    assert (u.intent, u.product, u.slots) == ("product_info", "ai_analyst", {})


def test_a_need_stated_next_to_an_existing_contractor_is_a_brief() -> None:
    u = understand_offline("у нас уже есть подрядчик на сайт, нужен бот на авито, 3 человека")
    assert (u.intent, u.slots["users"]) == ("brief", 3)


def test_a_polite_refusal_is_neutral_not_positive() -> None:
    assert understand_offline("нет, спасибо").emotion == "neutral"
    assert understand_offline("спасибо, пока не надо").emotion == "neutral"
    assert understand_offline("спасибо, всё понятно").emotion == "positive"


def test_price_per_single_user_is_not_a_head_count() -> None:
    u = understand_offline("сколько стоит за одного сотрудника?", expecting="users")
    assert (u.intent, u.slots) == ("price", {})
    assert understand_offline("нужен юрист на 1 человека").slots == {"users": 1}


def test_not_keeping_up_with_messages_points_to_the_manager() -> None:
    u = understand_offline("нас трое, клиенты пишут в телеграм, отвечать не успеваем")
    assert (u.intent, u.product, u.slots) == ("brief", "ai_manager", {"users": 3})


def test_margin_points_to_the_analyst() -> None:
    assert understand_offline("хотим считать маржу по каждому заказу").product == "ai_analyst"


def test_usual_deadline_and_pharmacy_in_one_brief_message() -> None:
    from pipelines.understand.offline import understand_offline

    got = understand_offline("Нужен ИИ-аналитик для сети аптек, 60 сотрудников, 1С и Битрикс24, облако, "
                             "стандартный SLA, обычные сроки")
    assert got.slots == {"users": 60, "integrations": 2, "hosting": "cloud", "sla": "standard",
                         "deadline": "standard", "industry": "фармацевтика"}
    assert understand_offline("сроки обычные", expecting="deadline").slots == {"deadline": "standard"}
