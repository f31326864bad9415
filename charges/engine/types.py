"""Input dataclasses of the engine (frozen, slotted) and the small mutable line record used while deriving.

Times are whole epoch minutes (UTC); seconds are dropped (Conventions: minutes are whole minutes of elapsed
time). ``Encounter.tz`` is the zone in which line dates fall.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any


@dataclass(frozen=True, slots=True)
class Administration:
    id: str
    drug: str
    hcpcs: str | None
    category: str | None
    route: str
    site: str
    start: int
    stop: int | None
    pauses: tuple[tuple[int, int], ...]
    dose: Decimal | None
    dose_unit: str | None
    wasted: Decimal | None
    ndc: str | None
    single_dose_container: bool | None
    acquired_340b: bool
    purpose: str | None
    primary_reason: bool
    separate_encounter: str | None
    bag: str | None
    hormonal: bool | None
    billing_unit: Decimal | None
    separate_site_required: bool
    integral_to: str | None
    pump_type: str
    pump_supplied_by: str | None

    @property
    def end(self) -> int:
        return self.start if self.stop is None else self.stop


@dataclass(frozen=True, slots=True)
class Encounter:
    id: Any
    setting: str
    payer: str
    billing_entity: str
    department_status: str
    other_services: tuple[str, ...]
    timezone: str
    tz: Any
    diagnoses: tuple[str, ...]
    place_of_service: str
    em_code: str | None
    em_separate: bool
    administrations: tuple[Administration, ...]


class Issue:
    """A warning or error: code from the closed list, administration id (or None), message."""

    __slots__ = ("code", "administration", "message")

    def __init__(self, code: str, administration: str | None, message: str) -> None:
        self.code = code
        self.administration = administration
        self.message = message

    def as_dict(self) -> dict:
        return {"code": self.code, "administration": self.administration, "message": self.message}


class EncounterError(Exception):
    """Raised inside the engine for an encounter-level error (the encounter gets no lines)."""

    def __init__(self, code: str, administration: str | None, message: str) -> None:
        super().__init__(message)
        self.issue = Issue(code, administration, message)


class Line:
    """One output line while it is built (turned into the output dict at the end)."""

    __slots__ = (
        "code",
        "units",
        "modifiers",
        "date",
        "admins",
        "kind",
        "explanation",
        "parent",
        "revenue_code",
        "ndc",
        "later_day",
        "anchor",
    )

    def __init__(
        self,
        code: str,
        units: int,
        date: str,
        admins: tuple[str, ...],
        kind: str,
        explanation: str,
        parent: Line | None = None,
    ) -> None:
        self.code = code
        self.units = units
        self.modifiers: list[str] = []
        self.date = date
        self.admins = admins
        self.kind = kind
        self.explanation = explanation
        self.parent = parent
        self.revenue_code = None
        self.ndc = None
        self.later_day = False
        self.anchor = parent
