"""Fixtures of the charges tests: the codebook seed loaded, an encounter, helpers to chart."""

from __future__ import annotations

import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

DOS = datetime.date(2025, 3, 4)
NY = ZoneInfo("America/New_York")


@pytest.fixture
def codebook(db):
    """The shipped 2025 seed in the database (drugs, prices, payers)."""
    from codebook.selectors import clear_rules_book_cache
    from codebook.services import codebook_load_seed

    result = codebook_load_seed(force=False)
    clear_rules_book_cache()
    return result


def at(hhmm: str, day: datetime.date = DOS) -> datetime.datetime:
    h, m = hhmm.split(":")
    return datetime.datetime.combine(day, datetime.time(int(h), int(m)), tzinfo=NY)


@pytest.fixture
def encounter(center, nurse, codebook):
    from charges.services.encounters import encounter_create

    return encounter_create(
        center=center,
        actor=nurse,
        values={
            "patient_mrn": "MRN-1001",
            "patient_name": "Ada Lovelace",
            "service_date": DOS,
            "visit_number": "V-1",
            "diagnoses": ["C83.30", "Z51.11"],
        },
    )


def rituximab_values() -> dict:
    """The documented values of the standard rituximab infusion: 700 mg, 10:00-14:10 on site A, nothing wasted."""
    return {
        "drug": "rituximab",
        "hcpcs": "J9312",
        "route": "iv_infusion",
        "site": "A",
        "start_at": at("10:00"),
        "stop_at": at("14:10"),
        "dose": Decimal("700"),
        "dose_unit": "mg",
        "wasted": Decimal("0"),
    }


def chart(encounter, actor, **values):
    """Records an administration through the service (defaults: `rituximab_values()`)."""
    from charges.services.administrations import PauseSpan, administration_create

    pauses = [PauseSpan(a, b) for a, b in values.pop("pauses", [])]
    data = rituximab_values()
    data.update(values)
    return administration_create(encounter=encounter, actor=actor, values=data, pauses=pauses)


_SEED_BOOK = None


@pytest.fixture(autouse=True)
def seed_rules_book(request, monkeypatch):
    """Speed: the engine reads the shipped seed's book (built once) instead of rebuilding the database
    book after every per-test codebook load. Both come from the same seed files; tests marked
    `database_book` keep the real `codebook.selectors.rules_book()` path."""
    global _SEED_BOOK
    if request.node.get_closest_marker("database_book"):
        return
    from charges.engine.snapshot import load_seed_book

    if _SEED_BOOK is None:
        _SEED_BOOK = load_seed_book()
    monkeypatch.setattr("charges.services.derivations.rules_book", lambda: _SEED_BOOK)


def pytest_configure(config):
    config.addinivalue_line("markers", "database_book: use the database codebook's rules book in charges tests")
