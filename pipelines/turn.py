"""The decision for one client message (skeleton: a Russian greeting that names the stages it went through).

Filled by the brain issue: understand → retrieve → dialog → price → document → integrate.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlmodel import Session

from db.models import Conversation, Lead, Message
from pipelines.reply import OutgoingReply

if TYPE_CHECKING:
    from pipelines.conversation import PipelineDeps, TurnResult


def decide_turn(deps: PipelineDeps, session: Session, *, lead: Lead, conversation: Conversation,
                message: Message) -> TurnResult:
    from pipelines.conversation import TurnResult

    text = ("Здравствуйте! Я ИИ-ассистент агентства «Воронка ИИ». Ваше сообщение получено и прошло этапы "
            "«понимание → поиск → ответ». Расскажите, какая услуга вас интересует: ИИ-Менеджер, ИИ-Юрист "
            "или ИИ-Аналитик?")
    return TurnResult(replies=[OutgoingReply(text=text)])
