"""Questions about the agency are answered from the knowledge base (offline), then the funnel continues."""

from __future__ import annotations

from tests.support.site import Visitor, joined


async def test_faq_and_objection_answers_come_from_the_knowledge_base(client, knowledge, start_worker) -> None:  # type: ignore[no-untyped-def]
    start_worker()
    visitor = Visitor(client, "kb-1")
    await visitor.say("Здравствуйте, интересует ИИ-юрист")
    answer = joined(await visitor.say("Где хранятся наши данные и как вы соблюдаете 152-ФЗ?"))
    assert "152" in answer or "персональн" in answer.lower(), answer
    assert "#" not in answer and "**" not in answer
    objection = joined(await visitor.say("Дорого как-то"))
    assert len(objection) > 40
    assert "?" in objection  # back to the funnel: a question or an offer follows the answer
