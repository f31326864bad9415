"""Per-encounter working state shared by the rule modules (resolved administrations, payer, warnings)."""

from __future__ import annotations

from .intervals import running
from .parse import dater
from .snapshot import Drug, Payer, RulesSnapshot
from .types import Administration, Encounter


class Item:
    """An administration with what the codebook and payer say about it."""

    __slots__ = (
        "admin",
        "id",
        "drug",
        "category",
        "key",
        "vaccine_kind",
        "hormonal",
        "run",
        "own",
        "site",
        "electrolyte",
        "label",
    )

    def __init__(
        self,
        admin: Administration,
        drug: Drug | None,
        category: str | None,
        key: str,
        hormonal: bool,
        vaccine_kind: str,
        electrolyte: bool,
    ) -> None:
        self.admin = admin
        self.id = admin.id
        self.drug = drug
        self.category = category
        self.key = key
        self.vaccine_kind = vaccine_kind
        self.hormonal = hormonal
        self.electrolyte = electrolyte
        start = admin.start
        stop = admin.stop
        if admin.pauses:
            self.run = running(start, start if stop is None else stop, admin.pauses)
            self.own = sum(b - a for a, b in self.run)
        elif stop is not None and stop > start:
            self.run = [(start, stop)]
            self.own = stop - start
        else:
            self.run = []
            self.own = 0
        self.site = admin.site
        self.label = admin.drug


class Context:
    __slots__ = (
        "encounter",
        "snapshot",
        "payer",
        "setting",
        "facility",
        "warnings",
        "tz",
        "tzname",
        "concurrent_done",
        "unlisted_done",
        "is_medicare",
        "encounter_entries",
        "g0498_follow_up",
        "date",
    )

    def __init__(self, encounter: Encounter, snapshot: RulesSnapshot, payer: Payer, date=None) -> None:
        self.encounter = encounter
        self.snapshot = snapshot
        self.payer = payer
        self.setting = encounter.setting
        self.facility = encounter.setting == "facility"
        self.warnings: list[tuple[str, str | None, str]] = []  # (code, administration id or None, message)
        self.tz = encounter.tz
        self.tzname = encounter.timezone
        self.concurrent_done = False
        self.unlisted_done = False
        self.is_medicare = payer.key == "medicare"
        self.date = dater(encounter.tz, encounter.timezone) if date is None else date  # epoch minute -> ISO date
        self.encounter_entries: list = []
        self.g0498_follow_up = False

    def warn(self, code: str, administration: str | None, message: str) -> None:
        """A warning of the closed list (engine-io.md): code, administration id (or None), message."""
        self.warnings.append((code, administration, message))
