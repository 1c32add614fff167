"""The per-conversation dialog state: a typed, versioned model stored as JSON in ``conversations.state``.

``DialogState.load(raw)`` reads the stored dict: it migrates older shapes (a dict without ``version`` is v0, the
untyped dict written before this model) and never fails a live conversation over a bad stored value: unknown
keys and values that do not validate are dropped (back to their defaults) with a warning. Code that *sets* a
value is checked strictly: a wrong value raises ``pydantic.ValidationError`` at the assignment.
``dump()`` gives the JSON-safe dict to store (defaults left out, ``version`` always in).

The dialog engine owns most fields; ``last_seen`` is written by the turn pipeline and ``booking_slots`` /
``booking_offered_at`` by the booking action, on the same column.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal, get_args

from loguru import logger
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, NonNegativeInt, ValidationError

from voronka.vocabulary import PACKAGES, PRODUCTS, Package, Product, Stage

CURRENT_VERSION = 1

# What the last question was about (``step``) and what ``asked`` lists.
Step = Literal["product", "industry", "users", "goals", "integrations", "hosting", "sla", "deadline", "contacts",
               "name", "phone", "package", "offer", "manager_offered"]
# The slot the NLU is told the last question asked for (``expecting_slot``).
Expecting = Literal["product", "industry", "users", "goals", "integrations", "hosting", "sla", "deadline", "name",
                    "phone"]
DocKind = Literal["proposal", "contract", "invoice"]


def _package_code(value: str) -> str:
    if value not in PACKAGES:
        raise ValueError(f"unknown package {value!r}, expected one of {', '.join(PACKAGES)}")
    return value


# A package code kept as a plain str (a dict key the engine indexes with strings), checked like ``Package``.
PackageKey = Annotated[str, AfterValidator(_package_code)]


class Pending(BaseModel):
    """An action the client asked for that waits for its prerequisites (the brief, a package, a contact)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["booking", "document", "payment"]
    doc: DocKind | None = None  # which document, for kind == "document"


class DialogState(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    version: int = CURRENT_VERSION
    # the conversation
    greeted: bool = False
    step: Step | None = None  # what was asked last
    expecting: Expecting | None = None  # = expecting_slot(state), stored for readers of the row
    asked: list[Step] = Field(default_factory=list)  # steps asked so far (soft questions are asked once)
    product: Product | None = None  # preselected by the caller (Avito listing) before the brief has one
    package: Package | None = None  # the package the client chose
    pending: Pending | None = None
    asked_for_pending: bool = False  # «the document needs the brief first» was said for the pending action
    contacts_skipped: bool = False
    price_asks: NonNegativeInt = 0
    offered: bool = False  # the full offer (КП / consultation / payment / manager) was shown
    # the last quote shown in this conversation: the pricing slots it was for, and its package prices
    quoted_snapshot: dict[str, int | str | None] | None = None
    quoted_prices: dict[PackageKey, int] | None = None
    stage: Stage = Stage.NEW  # the highest lead stage the dialog reported
    # handoff to a manager
    handoff: bool = False  # a manager holds the conversation: the dialog stays silent
    negative_streak: NonNegativeInt = 0
    miss_streak: NonNegativeInt = 0
    # written outside the dialog engine
    last_seen: AwareDatetime | None = None  # the last turn (session TTL)
    booking_slots: list[AwareDatetime] = Field(default_factory=list)  # offered consultation slots, in order
    booking_offered_at: AwareDatetime | None = None

    @classmethod
    def load(cls, raw: Mapping[str, Any] | None) -> DialogState:
        """The state stored in ``raw`` (``None`` or ``{}`` for a new conversation), migrated to this version."""
        if raw is None:
            return cls()
        if not isinstance(raw, Mapping):
            logger.warning("dialog state: stored value is {}, not an object; starting afresh", type(raw).__name__)
            return cls()
        data = dict(raw)
        version = data.pop("version", 0)
        if not isinstance(version, int) or isinstance(version, bool) or version < 0:
            logger.warning("dialog state: bad version {!r}, read as v0", version)
            version = 0
        if version > CURRENT_VERSION:
            logger.warning("dialog state: v{} is newer than this code (v{}); reading what is known",
                           version, CURRENT_VERSION)
        while version < CURRENT_VERSION:
            data = MIGRATIONS[version](data)
            version += 1
        return cls._lenient(data)

    @classmethod
    def _lenient(cls, data: dict[str, Any]) -> DialogState:
        unknown = sorted(set(data) - set(cls.model_fields) - {"version"})
        if unknown:
            logger.warning("dialog state: unknown keys dropped: {}", ", ".join(unknown))
        data = {key: value for key, value in data.items() if key in cls.model_fields and key != "version"}
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            bad = {str(error["loc"][0]) for error in exc.errors() if error["loc"]}
            logger.warning("dialog state: invalid values reset: {}", "; ".join(
                f"{'.'.join(map(str, error['loc']))}: {error['msg']}" for error in exc.errors()))
        return cls.model_validate({key: value for key, value in data.items() if key not in bad})

    def dump(self) -> dict[str, Any]:
        """The JSON-safe dict to store: fields at their defaults are left out, ``version`` is always there."""
        return {"version": self.version, **self.model_dump(mode="json", exclude_defaults=True, exclude={"version"})}


def _v0_to_v1(data: dict[str, Any]) -> dict[str, Any]:
    """v0: the untyped dict. Same keys; a few shapes it allowed are normalised."""
    data = {key: value for key, value in data.items() if value is not None}  # null meant «not set»
    if data.get("product") not in PRODUCTS:  # "none" (the NLU's «no product») or anything else means not set
        data.pop("product", None)
    if isinstance(data.get("asked"), str):
        data["asked"] = [data["asked"]]
    if isinstance(data.get("asked"), list):  # a step this version does not know is simply not remembered
        data["asked"] = [step for step in data["asked"] if step in get_args(Step)]
    return data


# MIGRATIONS[n] turns a vN dict into a v(N+1) dict; add one (and bump CURRENT_VERSION) when a field changes shape.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {0: _v0_to_v1}
