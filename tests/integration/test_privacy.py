"""Personal data at rest and on request: encrypted columns in Postgres, the 0007 data migration, export, erase
(funnel rows kept), the retention purge, and the CLI commands."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import redis as redis_lib
import sqlalchemy as sa
from sqlmodel import Session, select

from db import crypto
from db.models import Brief, Client, ClientIdentity, Conversation, Document, Event, Lead, Message, Payment, utcnow
from pipelines import analytics
from pipelines.leads import contact_hash
from pipelines.memory import memory_key
from pipelines.privacy import erase_lead, export_lead, purge_expired

NAME, PHONE, EMAIL = "Иван Петров", "+79161234567", "ivan@example.ru"
TEXT = "Меня зовут Иван Петров, телефон +7 916 123-45-67"


def make_client_lead(session: Session, documents_dir: Path, *, days_ago: int = 0) -> tuple[int, int]:
    when = utcnow() - timedelta(days=days_ago)
    client = Client(name=NAME, phone=PHONE, email=EMAIL, phone_hash=contact_hash("phone", PHONE),
                    email_hash=contact_hash("email", EMAIL), created_at=when)
    session.add(client)
    session.flush()
    assert client.id is not None
    session.add(ClientIdentity(client_id=client.id, channel="telegram", external_id=f"tg-user-{client.id}"))
    lead = Lead(client_id=client.id, channel="telegram", source_tag="telegram-lead", product="ai_lawyer",
                stage="paid", created_at=when, updated_at=when)
    session.add(lead)
    session.flush()
    assert lead.id is not None
    conv = Conversation(lead_id=lead.id, channel="telegram", external_chat_id=f"chat-{lead.id}",
                        state={"asked": "phone", "name": NAME}, created_at=when)
    session.add(conv)
    session.flush()
    assert conv.id is not None
    session.add(Message(conversation_id=conv.id, lead_id=lead.id, channel="telegram", direction="in", role="client",
                        text=TEXT, external_id=f"m-{lead.id}", created_at=when))
    session.add(Message(conversation_id=conv.id, lead_id=lead.id, channel="telegram", direction="out",
                        role="assistant", text=f"Спасибо, {NAME}!", created_at=when))
    session.add(Brief(lead_id=lead.id, data={"product": "ai_lawyer", "users": 40, "name": NAME, "phone": PHONE,
                                             "email": EMAIL, "company": "ООО «Ромашка»"}))
    session.add(Event(lead_id=lead.id, kind="stage_changed", channel="telegram", data={"from": "booked", "to": "paid"},
                      created_at=when))
    session.add(Event(lead_id=lead.id, kind="handoff", channel="telegram",
                      data={"reason": "manager_request", "summary": TEXT}, created_at=when))
    session.add(Payment(lead_id=lead.id, package="optimum", amount=Decimal("250000.00"), status="succeeded",
                        idempotence_key=f"pay-{lead.id}", paid_at=when, created_at=when))
    number = f"КП-2026-{lead.id:04d}"
    path = documents_dir / f"{lead.id}" / f"KP-2026-{lead.id:04d}-v1.pdf"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"%PDF-1.4 " + NAME.encode())
    session.add(Document(lead_id=lead.id, kind="proposal", number=number, path=f"{lead.id}/{path.name}",
                         sha256="x", size=10, created_at=when))
    session.commit()
    return client.id, lead.id


def test_personal_data_is_encrypted_in_the_database(db: Session, settings, clean_db) -> None:  # type: ignore[no-untyped-def]
    crypto.configure(settings)
    client_id, lead_id = make_client_lead(db, settings.documents_dir)
    with clean_db.connect() as conn:
        row = conn.execute(sa.text("SELECT name, phone, email FROM clients WHERE id = :id"), {"id": client_id}).one()
        texts = conn.execute(sa.text("SELECT text FROM messages WHERE lead_id = :id"), {"id": lead_id}).scalars().all()
    for stored in (*row, *texts):
        assert stored.startswith("enc1:")
        assert not any(part in stored for part in ("Иван", "916", "ivan", "example"))
    db.expire_all()
    client = db.get(Client, client_id)
    assert client is not None and (client.name, client.phone, client.email) == (NAME, PHONE, EMAIL)
    # lookup goes through the keyed hash, never through the ciphertext
    found = db.exec(select(Client).where(Client.phone_hash == contact_hash("phone", PHONE))).one()
    assert found.id == client_id


def test_migration_encrypts_existing_plaintext_rows(settings, database_url, clean_db) -> None:  # type: ignore[no-untyped-def]
    from db.migrate import upgrade

    crypto.configure(settings)
    with clean_db.begin() as conn:
        client_id = conn.execute(sa.text("INSERT INTO clients (name, phone, created_at) VALUES "
                                         "('Мария', '+79990001122', now()) RETURNING id")).scalar()
    # a row written before encryption existed, then the schema goes back before 0007 and forward again
    from alembic import command

    from db.migrate import alembic_config

    command.downgrade(alembic_config(database_url), "0006_deals")
    with clean_db.connect() as conn:
        assert conn.execute(sa.text("SELECT name FROM clients WHERE id = :id"), {"id": client_id}).scalar() == "Мария"
    upgrade(database_url)
    with clean_db.connect() as conn:
        stored = conn.execute(sa.text("SELECT name, phone FROM clients WHERE id = :id"), {"id": client_id}).one()
    assert all(v.startswith("enc1:") for v in stored)
    with Session(clean_db) as session:
        client = session.get(Client, client_id)
        assert client is not None and client.name == "Мария" and client.phone == "+79990001122"


def test_export_contains_everything_decrypted(db: Session, settings) -> None:  # type: ignore[no-untyped-def]
    crypto.configure(settings)
    _, lead_id = make_client_lead(db, settings.documents_dir)
    data = json.loads(json.dumps(export_lead(db, lead_id), default=str, ensure_ascii=False))
    assert data["client"]["name"] == NAME and data["client"]["phone"] == PHONE
    assert data["client"]["identities"][0]["channel"] == "telegram"
    exported = data["leads"][0]
    assert TEXT in [m["text"] for m in exported["messages"]]
    assert exported["brief"][0]["data"]["email"] == EMAIL
    assert exported["payments"][0]["amount"] == "250000.00"


def test_erase_removes_personal_data_and_keeps_the_funnel(db: Session, settings, redis_client, clean_db) -> None:  # type: ignore[no-untyped-def]
    crypto.configure(settings)
    client_id, lead_id = make_client_lead(db, settings.documents_dir)
    redis_client.set(memory_key(lead_id), json.dumps([{"text": TEXT}]))
    period = analytics.Period.last_days(30)
    before = analytics.report(db, period)

    report = erase_lead(db, lead_id, documents_dir=settings.documents_dir, redis=redis_client)
    db.commit()
    assert report.leads == [lead_id] and report.files_removed == 1 and report.messages == 2

    db.expire_all()
    client = db.get(Client, client_id)
    assert client is not None and client.name is None and client.phone is None and client.email is None
    assert client.phone_hash is None
    assert all(m.text == "" for m in db.exec(select(Message).where(Message.lead_id == lead_id)))
    brief = db.exec(select(Brief).where(Brief.lead_id == lead_id)).one()
    assert brief.data == {"product": "ai_lawyer", "users": 40}
    handoff = db.exec(select(Event).where(Event.lead_id == lead_id, Event.kind == "handoff")).one()
    assert handoff.data == {"reason": "manager_request"}
    identity = db.exec(select(ClientIdentity).where(ClientIdentity.client_id == client_id)).one()
    assert identity.external_id.startswith("erased:")
    assert not list((settings.documents_dir / str(lead_id)).glob("*.pdf"))
    assert redis_client.get(memory_key(lead_id)) is None
    with clean_db.connect() as conn:
        dump = " ".join(str(v) for row in conn.execute(sa.text(
            "SELECT c.name, c.phone, c.email, conv.state::text, conv.external_chat_id FROM clients c "
            "JOIN leads l ON l.client_id = c.id JOIN conversations conv ON conv.lead_id = l.id")) for v in row)
    assert "Иван" not in dump and "chat-" not in dump

    after = analytics.report(db, period)  # the funnel, revenue and reply times are unchanged
    assert after["funnel"] == before["funnel"] and after["revenue"] == before["revenue"]
    assert after["reply_time"]["count"] == before["reply_time"]["count"]
    assert db.exec(select(Event).where(Event.lead_id == lead_id, Event.kind == "privacy_erased")).one()


def test_retention_purge_erases_only_old_leads(settings, clean_db, redis_client) -> None:  # type: ignore[no-untyped-def]
    crypto.configure(settings)
    with Session(clean_db) as session:
        _, old_lead = make_client_lead(session, settings.documents_dir, days_ago=400)
    with Session(clean_db) as session:
        _, fresh_lead = make_client_lead(session, settings.documents_dir, days_ago=1)
    assert purge_expired(clean_db, 365, documents_dir=settings.documents_dir, redis=redis_client) == 1
    assert purge_expired(clean_db, 365, documents_dir=settings.documents_dir, redis=redis_client) == 0
    with Session(clean_db) as session:
        old = session.get(Client, session.get(Lead, old_lead).client_id)  # type: ignore[union-attr]
        fresh = session.get(Client, session.get(Lead, fresh_lead).client_id)  # type: ignore[union-attr]
        assert old is not None and old.name is None
        assert fresh is not None and fresh.name == NAME


def _cli(args: list[str], settings, services, stdin: str = "") -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    env = {**os.environ, "DATABASE_URL": services[0], "REDIS_URL": services[1], "ENVIRONMENT": "test",
           "JWT_SECRET_KEY": settings.JWT_SECRET_KEY, "VORONKA_DATA_DIR": str(settings.VORONKA_DATA_DIR),
           "DOCUMENTS_PATH": str(settings.documents_dir), "LOG_JSON": "false"}
    return subprocess.run([sys.executable, "-m", "cli", *args], input=stdin, capture_output=True, text=True,
                          env=env, timeout=120, check=False)


def test_privacy_cli_export_and_erase(settings, services, clean_db) -> None:  # type: ignore[no-untyped-def]
    crypto.configure(settings)
    with Session(clean_db) as session:
        _, lead_id = make_client_lead(session, settings.documents_dir)
    exported = _cli(["privacy", "export", "--lead", str(lead_id)], settings, services)
    assert exported.returncode == 0, exported.stderr
    assert json.loads(exported.stdout)["client"]["name"] == NAME
    missing = _cli(["privacy", "export", "--lead", "999999"], settings, services)
    assert missing.returncode == 2 and "не найден" in missing.stderr
    erased = _cli(["privacy", "erase", "--lead", str(lead_id), "--yes"], settings, services)
    assert erased.returncode == 0, erased.stderr
    assert json.loads(erased.stdout)["erased"]["leads"] == [lead_id]
    with Session(clean_db) as session:
        client = session.get(Client, session.get(Lead, lead_id).client_id)  # type: ignore[union-attr]
        assert client is not None and client.name is None


def test_admin_create_user_cli_reads_the_password_from_stdin(settings, services, clean_db) -> None:  # type: ignore[no-untyped-def]
    from db.models_ops import AdminUser
    from web.admin.auth import verify_password

    done = _cli(["admin", "create-user", "--username", "Olga", "--role", "manager", "--password-stdin"], settings,
                services, stdin="a-strong-password-1\n")
    assert done.returncode == 0, done.stderr
    assert "olga" in done.stdout
    weak = _cli(["admin", "create-user", "--username", "petr", "--password-stdin"], settings, services, stdin="123\n")
    assert weak.returncode == 2 and "Пароль" in weak.stderr
    with Session(clean_db) as session:
        user = session.exec(select(AdminUser).where(AdminUser.username == "olga")).one()
        assert user.role == "manager" and verify_password(user.password_hash, "a-strong-password-1")
        assert session.exec(select(AdminUser).where(AdminUser.username == "petr")).first() is None


def test_worker_and_web_share_the_key_ring(settings) -> None:  # type: ignore[no-untyped-def]
    """A value written by one process decrypts in another configured from the same settings."""
    code = ("from db import crypto; from voronka.settings import load_settings; "
            "crypto.configure(load_settings()); print(crypto.encrypt('Анна'))")
    env = {**os.environ, "ENVIRONMENT": "test", "JWT_SECRET_KEY": settings.JWT_SECRET_KEY}
    stored = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True,
                            timeout=60).stdout.strip()
    crypto.configure(settings)
    assert stored.startswith("enc1:") and crypto.decrypt(stored) == "Анна"
    assert redis_lib  # imported for the erase test's client type
