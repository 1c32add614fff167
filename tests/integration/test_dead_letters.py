"""A job that fails for good is recorded with its lead id (dead letters, listed in the admin)."""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import Retries
from sqlmodel import Session, select

from db.models import Client, FailedJob, Lead, Outbox
from workers.dead_letters import DeadLetters


def test_a_job_failing_for_good_is_recorded_with_its_lead(database_url, clean_db) -> None:  # type: ignore[no-untyped-def]
    with Session(clean_db) as session:
        client = Client()
        session.add(client)
        session.flush()
        lead = Lead(client_id=client.id or 0, channel="site", source_tag="site-lead")
        session.add(lead)
        session.flush()
        row = Outbox(key="t:1", lead_id=lead.id, kind="message", channel="site")
        session.add(row)
        session.commit()
        lead_id, outbox_id = lead.id, row.id

    broker = StubBroker(middleware=[Retries(max_retries=1, min_backoff=10, max_backoff=20), DeadLetters(database_url)])
    attempts: list[int] = []

    @dramatiq.actor(actor_name="outbox.deliver", queue_name="delivery", max_retries=1, broker=broker)
    def always_fails(outbox_id: int) -> None:
        attempts.append(outbox_id)
        raise RuntimeError("channel is down")

    always_fails.send(outbox_id)
    worker = dramatiq.Worker(broker, worker_timeout=50)
    worker.start()
    broker.join("delivery", fail_fast=False)
    worker.join()
    worker.stop()

    assert attempts == [outbox_id, outbox_id]  # tried, retried once, then given up
    with Session(clean_db) as session:
        failed = session.exec(select(FailedJob)).all()
    assert len(failed) == 1
    assert failed[0].lead_id == lead_id and failed[0].actor == "outbox.deliver"
    assert "channel is down" in failed[0].error
