"""The failure policy: a job is retried MAX_RETRIES times with backoff, then recorded once as a dead letter with its
lead (listed in the admin) and the managers get one alert; a periodic job is not retried; a `throws` error is final."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import dramatiq
import pytest
from dramatiq.brokers.stub import StubBroker
from sqlalchemy import Engine
from sqlmodel import Session, select

from db.models import Client, FailedJob, Lead, Outbox
from pipelines.failed_jobs import record_failed_job
from voronka.settings import Settings
from workers.broker import middleware
from workers.policy import job_actor, periodic_actor


class Gone(Exception):
    """What a job raises when there is nothing to retry."""


@pytest.fixture
def stub_broker(settings: Settings, database_url: str) -> Iterator[StubBroker]:
    fast = settings.model_copy(update={"MAX_RETRIES": 2, "RETRY_MIN_BACKOFF_SECONDS": 0.01,
                                       "RETRY_MAX_BACKOFF_SECONDS": 0.02})
    broker = StubBroker(middleware=middleware(fast, database_url=database_url))
    yield broker
    broker.close()


def run_worker(broker: StubBroker, *queues: str) -> None:
    worker = dramatiq.Worker(broker, worker_timeout=50)
    worker.start()
    try:
        for queue in queues:
            broker.join(queue, fail_fast=False)
        worker.join()
    finally:
        worker.stop()


def outbox_row(engine: Engine) -> tuple[int, int]:
    with Session(engine) as session:
        client = Client()
        session.add(client)
        session.flush()
        lead = Lead(client_id=client.id or 0, channel="site", source_tag="site-lead")
        session.add(lead)
        session.flush()
        row = Outbox(key="t:1", lead_id=lead.id, kind="document", channel="site")
        session.add(row)
        session.commit()
        return lead.id or 0, row.id or 0


def failed_jobs(engine: Engine) -> list[FailedJob]:
    with Session(engine) as session:
        return list(session.exec(select(FailedJob)).all())


def alerts(engine: Engine) -> list[Outbox]:
    with Session(engine) as session:
        return list(session.exec(select(Outbox).where(Outbox.kind == "notify")).all())


def declare_alert_delivery(broker: StubBroker) -> list[int]:
    delivered: list[int] = []

    @job_actor("outbox.deliver", "delivery", time_limit_ms=10_000, broker=broker)
    def deliver(outbox_id: int) -> None:
        delivered.append(outbox_id)

    return delivered


def always_failing(broker: StubBroker, declare: Callable[..., Any], name: str, queue: str,
                   error: Exception, **options: Any) -> tuple[dramatiq.Actor[[int], None], list[int]]:
    attempts: list[int] = []

    @declare(name, queue, time_limit_ms=10_000, broker=broker, **options)
    def fails(row_id: int) -> None:
        attempts.append(row_id)
        raise error

    return fails, attempts


def test_a_job_failing_every_time_is_retried_then_dead_lettered_once_and_the_managers_alerted(
        stub_broker: StubBroker, clean_db: Engine) -> None:
    lead_id, outbox_id = outbox_row(clean_db)
    delivered = declare_alert_delivery(stub_broker)
    fails, attempts = always_failing(stub_broker, job_actor, "document.render", "documents",
                                     RuntimeError("renderer is down"))

    fails.send(outbox_id)
    run_worker(stub_broker, "documents", "delivery")

    assert attempts == [outbox_id] * 3  # the first try and MAX_RETRIES = 2 retries
    [failed] = failed_jobs(clean_db)
    assert (failed.actor, failed.queue, failed.lead_id, failed.args) == ("document.render", "documents", lead_id,
                                                                        [outbox_id])
    assert failed.error == "RuntimeError: renderer is down"
    [alert] = alerts(clean_db)
    assert alert.lead_id == lead_id and alert.status == "pending"
    assert alert.payload == {"event": "job_failed", "job": "document.render", "error": "RuntimeError: renderer is down",
                             "lead_id": lead_id}
    assert delivered == [alert.id]  # handed to the delivery queue (the notify sender posts it to the managers)


def test_a_periodic_job_is_not_retried_and_an_error_it_throws_is_final(stub_broker: StubBroker,
                                                                      clean_db: Engine) -> None:
    declare_alert_delivery(stub_broker)
    periodic, periodic_attempts = always_failing(stub_broker, periodic_actor, "maintenance.sweep", "maintenance",
                                                 RuntimeError("database is away"))
    final, final_attempts = always_failing(stub_broker, job_actor, "channels.inbound", "inbound", Gone("no row"),
                                           throws=(Gone,))

    periodic.send(1)
    final.send(2)
    run_worker(stub_broker, "maintenance", "inbound", "delivery")

    assert periodic_attempts == [1] and final_attempts == [2]
    assert sorted(f.actor for f in failed_jobs(clean_db)) == ["channels.inbound", "maintenance.sweep"]
    assert sorted(a.payload["job"] for a in alerts(clean_db)) == ["channels.inbound", "maintenance.sweep"]


def test_one_alert_per_job_lead_and_hour(clean_db: Engine) -> None:
    lead_id, outbox_id = outbox_row(clean_db)

    at = datetime(2026, 3, 2, 10, 30, tzinfo=UTC)

    def fail(args: list[Any], now: datetime) -> int | None:
        return record_failed_job(clean_db, actor="document.render", queue="documents", message_id="m", args=args,
                                 error="RuntimeError: down", first_arg_row=Outbox, now=now).alert_id

    first, second, lead_less = fail([outbox_id], at), fail([outbox_id], at + timedelta(minutes=20)), fail([], at)
    next_hour = fail([outbox_id], at + timedelta(hours=1))

    assert first is not None and second is None and lead_less is not None and next_hour is not None
    assert len(failed_jobs(clean_db)) == 4  # every failure is a dead letter; only the alerts are rationed
    assert sorted((a.lead_id or 0) for a in alerts(clean_db)) == [0, lead_id, lead_id]
