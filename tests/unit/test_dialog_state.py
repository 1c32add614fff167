"""The typed dialog state: reading the stored JSON (v0 = the untyped dict written before the model), writing it
back, and what happens to keys and values it does not know."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from db.rate_table import DEFAULT_RATES
from pipelines.dialog.engine import decide, expecting_slot
from pipelines.dialog.state import CURRENT_VERSION, DialogState, Pending
from pipelines.dialog.types import DialogInput
from pipelines.understand.types import Understanding
from voronka.vocabulary import Package, Product, Stage

# A state as the old code stored it on conversations.state (no "version"): a quoted lead asking for a contract.
V0_QUOTED: dict[str, Any] = {
    "greeted": True, "step": "phone", "expecting": "phone",
    "asked": ["industry", "users", "goals", "integrations", "hosting", "sla", "deadline", "contacts", "package",
              "phone"],
    "product": "ai_lawyer", "package": "optimum", "pending": {"kind": "document", "doc": "contract"},
    "asked_for_pending": True, "contacts_skipped": True, "price_asks": 1, "offered": True,
    "quoted_snapshot": {"product": "ai_lawyer", "users": 12, "integrations": 2, "hosting": "cloud", "sla": "99.5",
                        "deadline": "standard"},
    "quoted_prices": {"start": 135000, "optimum": 351000, "enterprise": 1053000},
    "stage": "quoted", "handoff": False, "negative_streak": 0, "miss_streak": 1,
    "last_seen": "2026-11-24T09:00:00.123456+00:00",
    "booking_slots": ["2026-11-25T10:00:00+03:00", "2026-11-25T11:00:00+03:00"],
    "booking_offered_at": "2026-11-24T08:59:00+00:00",
}


def test_a_v0_dict_as_stored_today_loads_every_key() -> None:
    state = DialogState.load(V0_QUOTED)
    assert state.version == CURRENT_VERSION
    assert state.greeted and state.step == "phone" and state.expecting == "phone"
    assert state.asked == V0_QUOTED["asked"]
    assert state.product is Product.AI_LAWYER and state.package is Package.OPTIMUM
    assert state.pending == Pending(kind="document", doc="contract")
    assert state.asked_for_pending and state.contacts_skipped and state.offered
    assert state.price_asks == 1 and state.miss_streak == 1 and state.negative_streak == 0 and not state.handoff
    assert state.quoted_snapshot == V0_QUOTED["quoted_snapshot"]
    assert state.quoted_prices == V0_QUOTED["quoted_prices"]
    assert state.stage is Stage.QUOTED
    assert state.last_seen == datetime(2026, 11, 24, 9, 0, 0, 123456, tzinfo=UTC)
    assert [s.isoformat() for s in state.booking_slots] == V0_QUOTED["booking_slots"]
    assert state.booking_offered_at == datetime(2026, 11, 24, 8, 59, tzinfo=UTC)


def test_every_key_written_today_is_a_field() -> None:
    assert set(V0_QUOTED) | {"version"} == set(DialogState.model_fields)


def test_dump_is_json_and_round_trips() -> None:
    state = DialogState.load(V0_QUOTED)
    stored = json.loads(json.dumps(state.dump()))  # what JSONB gives back
    assert stored["version"] == CURRENT_VERSION
    assert stored["product"] == "ai_lawyer" and stored["pending"] == {"kind": "document", "doc": "contract"}
    assert DialogState.load(stored) == state
    assert DialogState.load(stored).dump() == stored


def test_dump_leaves_defaults_out_but_keeps_the_version() -> None:
    assert DialogState().dump() == {"version": CURRENT_VERSION}
    assert DialogState(greeted=True, step="users").dump() == {"version": CURRENT_VERSION, "greeted": True,
                                                               "step": "users"}


@pytest.mark.parametrize("raw", [None, {}])
def test_a_new_conversation_starts_from_the_defaults(raw: dict[str, Any] | None) -> None:
    state = DialogState.load(raw)
    assert state == DialogState()
    assert state.stage is Stage.NEW and state.asked == [] and state.pending is None and expecting_slot(state) is None


def test_v0_shapes_are_normalised() -> None:
    state = DialogState.load({"product": "none", "asked": "phone", "pending": None, "expecting": None,
                              "step": None})
    assert state.product is None and state.asked == ["phone"] and state.pending is None and state.step is None
    assert DialogState.load({"asked": ["users", "retired_step"]}).asked == ["users"]


def test_an_unknown_old_key_is_dropped_with_a_warning(warnings: list[str]) -> None:
    state = DialogState.load({**V0_QUOTED, "name": "Иван", "legacy_flag": 1})
    assert state == DialogState.load(V0_QUOTED)
    assert "name" not in state.dump() and any("legacy_flag, name" in w for w in warnings)


def test_bad_stored_values_fall_back_to_defaults_and_keep_the_rest(warnings: list[str]) -> None:
    state = DialogState.load({**V0_QUOTED, "step": "bogus", "price_asks": -1, "package": "gold",
                              "pending": {"kind": "teleport"}, "quoted_prices": {"gold": 1},
                              "last_seen": "2026-11-24T09:00:00",  # naive: cannot be compared with now
                              "booking_offered_at": "вчера", "greeted": "maybe"})
    assert (state.step, state.price_asks, state.package, state.pending, state.quoted_prices) == (
        None, 0, None, None, None)
    assert (state.last_seen, state.booking_offered_at, state.greeted) == (None, None, False)
    assert state.stage is Stage.QUOTED and state.asked == V0_QUOTED["asked"]  # the rest is kept
    assert any("invalid values reset" in w and "step" in w and "last_seen" in w for w in warnings)


@pytest.mark.parametrize("raw", [[1, 2], "x", 7])
def test_a_stored_value_that_is_not_an_object_starts_afresh(raw: Any) -> None:
    assert DialogState.load(raw) == DialogState()


def test_a_newer_or_broken_version_reads_what_it_knows() -> None:
    assert DialogState.load({"version": CURRENT_VERSION + 1, "greeted": True, "future": 1}).greeted
    assert DialogState.load({"version": "one", "product": "none", "greeted": True}).product is None


def test_lax_values_from_json_are_coerced() -> None:
    state = DialogState.load({"price_asks": "2", "handoff": 1, "quoted_prices": {"start": "135000"}})
    assert state.price_asks == 2 and state.handoff is True and state.quoted_prices == {"start": 135000}


def test_setting_a_bad_value_in_code_raises() -> None:
    state = DialogState()
    with pytest.raises(ValidationError, match="step"):
        state.step = "bogus"  # type: ignore[assignment]
    with pytest.raises(ValidationError, match="package"):
        DialogState(package="gold")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="miss_streak"):
        state.miss_streak = -1
    with pytest.raises(ValidationError, match="last_seen"):
        state.last_seen = datetime(2026, 11, 24, 9, 0)  # naive
    with pytest.raises(ValidationError, match="unknown_key"):
        DialogState.model_validate({"unknown_key": 1})
    assert state == DialogState()


def test_a_live_conversation_with_an_old_unknown_key_goes_on() -> None:
    stored = {"greeted": True, "step": "users", "asked": ["industry", "users"], "product": "ai_lawyer",
              "retired_counter": 3, "last_seen": (datetime.now(UTC) - timedelta(hours=1)).isoformat()}
    state = DialogState.load(stored)
    assert expecting_slot(state) == "users"
    decision = decide(DialogInput(
        channel="telegram", text="12", callback=None, understanding=Understanding(intent="brief", slots={"users": 12}),
        state=state, brief={"product": "ai_lawyer", "industry": "логистика"}, history=[], knowledge=[],
        rates=DEFAULT_RATES, quotes_done=0, max_quote_recalculations=3, now=datetime.now(UTC)))
    assert decision.brief["users"] == 12
    assert decision.state.step != "users" and decision.state.last_seen == state.last_seen
    assert state.step == "users"  # decide works on a copy
    assert DialogState.load(decision.state.dump()) == decision.state
