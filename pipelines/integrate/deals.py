"""The deals feature's action handlers, registered into ``pipelines.integrate.dispatch.handlers()``.

| action | data | module |
|---|---|---|
| ``crm_sync`` | {"event": "qualified"} | crm: create the amo lead (once) + the new-lead e-mail |
| ``crm_update`` | {"event": "quote"/"booking"/"booking_cancelled"/"paid"/"note", ...} | crm |
| ``booking`` | {} or {"move_from": id} | booking: offer free slots |
| ``booking_confirm`` | {"start": iso} | booking: book a slot (lock + unique index) |
| ``booking_cancel`` | {"booking_id"} | booking |
| ``payment`` | {"package"} | payments: a payment link + the invoice carrying it |
| ``payment_renew`` | {"payment_id"} | payments: the next link of the same invoice (≤ MAX_PAYMENT_ATTEMPTS) |
| ``document`` | {"kind", "package"} | payments for ``invoice`` (with the link), else the documents handler |
| ``email`` | {"event", "audience", "to", "ctx", "documents"} | emails |

Every handler is idempotent (see each module) and has the signature ``(deps, session, lead, conversation, data)
-> list[OutgoingReply]``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlmodel import Session, select

from db.models import Conversation, Lead, Message, Outbox
from pipelines.integrate import booking, crm, emails, payments
from pipelines.integrate.dealkit import ActionHandler, queue_action

if TYPE_CHECKING:
    from pipelines.dialog.types import Decision


def handlers() -> dict[str, ActionHandler]:
    return {
        "crm_sync": crm.handle_crm,
        "crm_update": crm.handle_crm,
        "booking": booking.handle_offer,
        "booking_confirm": booking.handle_confirm,
        "booking_cancel": booking.handle_cancel,
        "payment": payments.handle_payment,
        "payment_renew": payments.handle_renew,
        "document": payments.handle_document,
        "email": emails.handle_email,
    }


def note_decision(session: Session, *, lead: Lead, conversation: Conversation, message: Message,
                  decision: Decision) -> None:
    """Before the dialog's decision is applied: a new quote or another chosen package updates the CRM price
    (only for a lead already sent to the CRM; a lead qualified later is created with the current price)."""
    package = decision.state.package
    if decision.quote is None and not (package and package != lead.chosen_package):
        return
    synced = session.exec(select(Outbox.id).where(Outbox.key == f"crm:qualified:{lead.id}")).first()
    if synced is None and lead.amo_lead_id is None:
        return
    queue_action(session, lead, key=f"crm:quote:{message.id}", action="crm_update", data={"event": "quote"},
                 channel=conversation.channel)
