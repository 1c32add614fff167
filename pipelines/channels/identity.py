"""One client, one lead, one brief across channels.

Two leads are merged when they belong to the same person: the Telegram deep link from a site session
(``/start site_<session_id>``), or the same phone or e-mail (``Client.phone_hash`` / ``email_hash``, set when the
brief gets a contact). The kept lead is the older one (or the site session's for the deep link); everything that
points at the other lead moves to it (conversations, messages, outbox, quotes, documents, events... — every foreign
key to ``leads.id``), the identities move to the kept client, the briefs merge keeping the newest values, and an
Event "merged" records it. The other lead is closed (stage "lost", reason "merged into #N").
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from loguru import logger
from sqlmodel import Session, col, select

from db.engine import session_scope
from db.models import Brief, Client, ClientIdentity, Conversation, Lead, utcnow
from pipelines.leads import brief_for, contact_hash, record_event, save_brief
from pipelines.runtime import Runtime
from voronka.vocabulary import Stage, stage_rank

OPEN = (Stage.PAID, Stage.LOST)  # stages that are NOT open
SITE_PREFIX = "site_"
MERGED_REASON = "merged into #{lead_id}"


def deep_link_session(text: str) -> str | None:
    """The site session id of ``/start site_<session_id>`` (Telegram deep link), else None."""
    parts = (text or "").strip().split(maxsplit=1)
    if len(parts) != 2 or parts[0].split("@", 1)[0] != "/start" or not parts[1].startswith(SITE_PREFIX):
        return None
    session_id = parts[1][len(SITE_PREFIX):].strip()
    return session_id or None


def merge_briefs(older: Brief, newer: Brief) -> dict[str, Any]:
    """Both briefs' data; where both have a value, the one of the brief updated last wins."""
    first, last = sorted((older, newer), key=lambda b: (b.updated_at, b.id or 0))
    merged = {k: v for k, v in first.data.items() if v not in (None, "", [])}
    merged.update({k: v for k, v in last.data.items() if v not in (None, "", [])})
    return merged


def _lead_fk_columns(session: Session) -> list[tuple[str, str]]:
    """(table, column) of every foreign key to leads.id, from the live schema (covers tables added later)."""
    rows = session.execute(sa.text(
        "SELECT c.conrelid::regclass::text, a.attname FROM pg_constraint c "
        "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey) "
        "WHERE c.contype = 'f' AND c.confrelid = 'leads'::regclass AND array_length(c.conkey, 1) = 1")).all()
    return [(str(t), str(c)) for t, c in rows if str(t) not in ("briefs", "leads")]


def merge_leads(session: Session, keep: Lead, drop: Lead, *, reason: str) -> None:
    """Move everything of ``drop`` to ``keep`` (both should be locked by the caller)."""
    if keep.id == drop.id:
        return
    assert keep.id is not None and drop.id is not None
    keep_brief, drop_brief = brief_for(session, keep.id), brief_for(session, drop.id)
    data = merge_briefs(keep_brief, drop_brief)
    session.delete(drop_brief)
    session.flush()
    for table, column in _lead_fk_columns(session):
        try:
            with session.begin_nested():
                session.execute(sa.text(f'UPDATE "{table}" SET "{column}" = :keep WHERE "{column}" = :drop'),
                                {"keep": keep.id, "drop": drop.id})
        except sa.exc.IntegrityError:
            logger.warning("merge: rows of {} stay with the merged lead (unique per lead)", table)
    session.execute(sa.text("UPDATE failed_jobs SET lead_id = :keep WHERE lead_id = :drop"),
                    {"keep": keep.id, "drop": drop.id})
    if keep.client_id != drop.client_id:
        session.execute(sa.update(ClientIdentity).where(col(ClientIdentity.client_id) == drop.client_id)
                        .values(client_id=keep.client_id))
        kept_client, other = session.get(Client, keep.client_id), session.get(Client, drop.client_id)
        if kept_client is not None and other is not None:
            for slot in ("name", "phone", "email"):
                if not getattr(kept_client, slot) and getattr(other, slot):
                    setattr(kept_client, slot, getattr(other, slot))
            kept_client.phone_hash = contact_hash("phone", kept_client.phone) if kept_client.phone else None
            kept_client.email_hash = contact_hash("email", kept_client.email) if kept_client.email else None
            other.phone_hash = other.email_hash = None  # matched once; the kept client carries the contacts now
            session.add(kept_client)
            session.add(other)
    keep.manager_hold = keep.manager_hold or drop.manager_hold
    keep.handoff_reason = keep.handoff_reason or drop.handoff_reason
    keep.blocked = keep.blocked or drop.blocked
    keep.quotes_done += drop.quotes_done
    keep.listing_id = keep.listing_id or drop.listing_id
    keep.listing_product = keep.listing_product or drop.listing_product
    keep.chosen_package = keep.chosen_package or drop.chosen_package
    keep.amo_lead_id = keep.amo_lead_id or drop.amo_lead_id
    if stage_rank(drop.stage) > stage_rank(keep.stage):
        record_event(session, lead_id=keep.id, kind="stage_changed", channel=None,
                     data={"from": keep.stage, "to": drop.stage, "source": "merge"})
        keep.stage = drop.stage
    keep.updated_at = utcnow()
    drop.stage, drop.manager_hold = Stage.LOST, False
    drop.handoff_reason = MERGED_REASON.format(lead_id=keep.id)
    drop.updated_at = utcnow()
    session.add(drop)
    session.add(keep)
    session.flush()
    save_brief(session, keep, keep_brief, data)
    record_event(session, lead_id=keep.id, kind="merged", channel=None,
                 data={"merged_lead_id": drop.id, "reason": reason})
    session.flush()
    session.expire_all()  # conversations and messages moved under the ORM's feet: reload on next access
    logger.bind(lead_id=keep.id).info("lead #{} merged into #{} ({})", drop.id, keep.id, reason)


def _locked(session: Session, *lead_ids: int) -> dict[int, Lead]:
    rows = session.exec(select(Lead).where(col(Lead.id).in_(sorted(set(lead_ids))))
                        .order_by(col(Lead.id)).with_for_update()).all()
    return {int(r.id): r for r in rows if r.id is not None}


def join_site_session(session: Session, conversation: Conversation, session_id: str) -> int | None:
    """Attach this (Telegram) conversation's lead to the site session's lead. Returns the kept lead id."""
    site = session.exec(select(Conversation).where(Conversation.channel == "site",
                                                   Conversation.external_chat_id == session_id)).first()
    if site is None or site.lead_id == conversation.lead_id:
        return site.lead_id if site is not None else None
    leads = _locked(session, site.lead_id, conversation.lead_id)
    keep, drop = leads.get(site.lead_id), leads.get(conversation.lead_id)
    if keep is None or drop is None or keep.stage in OPEN:
        return None
    if not conversation.state and site.state:
        conversation.state = dict(site.state)  # the dialog goes on where the site chat stopped
        session.add(conversation)
    merge_leads(session, keep, drop, reason="telegram_deep_link")
    return keep.id


def merge_by_contacts(session: Session, lead_id: int) -> int | None:
    """Merge open leads of other clients with the same phone or e-mail into the oldest one. Returns the kept id."""
    return _merge_contacts(session, lead_id)[0]


def _merge_contacts(session: Session, lead_id: int) -> tuple[int | None, int]:
    lead = session.get(Lead, lead_id)
    if lead is None or lead.stage in OPEN:
        return None, 0
    client = session.get(Client, lead.client_id)
    if client is None or not (client.phone_hash or client.email_hash):
        return None, 0
    matches = [col(Client.phone_hash) == client.phone_hash] if client.phone_hash else []
    if client.email_hash:
        matches.append(col(Client.email_hash) == client.email_hash)
    others = session.exec(select(Lead.id).join(Client, col(Client.id) == col(Lead.client_id))
                          .where(sa.or_(*matches), col(Lead.stage).notin_(OPEN), col(Lead.id) != lead_id)).all()
    if not others:
        return None, 0
    leads = _locked(session, lead_id, *[int(i) for i in others if i is not None])
    ordered = sorted(leads.values(), key=lambda r: (r.created_at, r.id or 0))
    keep, count = ordered[0], 0
    for drop in ordered[1:]:
        if drop.stage not in OPEN:
            merge_leads(session, keep, drop, reason="same_contact")
            count += 1
    return keep.id, count


def merge_duplicates(deps: Runtime, limit: int = 100) -> int:
    """Safety net for merges missed on the way (e.g. a contact saved on the site after the Telegram chat):
    merge every group of open leads whose clients share a phone or e-mail. Returns how many leads were merged."""
    merged = 0
    for column in ("phone_hash", "email_hash"):
        with session_scope(deps.engine) as session:
            rows = session.execute(sa.text(
                f"SELECT min(l.id) FROM leads l JOIN clients c ON c.id = l.client_id "
                f"WHERE c.{column} IS NOT NULL AND l.stage NOT IN ('paid', 'lost') "
                f"GROUP BY c.{column} HAVING count(*) > 1 LIMIT :limit"), {"limit": limit}).all()
        for (lead_id,) in rows:
            with session_scope(deps.engine) as session:
                merged += _merge_contacts(session, int(lead_id))[1]
    return merged
