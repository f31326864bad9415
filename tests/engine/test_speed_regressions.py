"""Cases the speed work of issue 3 got wrong once (found by comparing with the previous engine's output).

Each pins the previous engine's exact result for a shape the fast paths must not skip.
"""

from __future__ import annotations

import datetime
import random

from charges.engine.api import derive_encounter
from charges.engine.parse import dater, local_date, zone
from charges.engine.snapshot import load_seed_book

BOOK = load_seed_book()


def _admin(admin_id: str, drug: str, category: str, site: str, start: str, stop: str, **extra) -> dict:
    return {
        "id": admin_id,
        "drug": drug,
        "category": category,
        "route": "iv_infusion",
        "site": site,
        "start": f"2025-05-05T{start}",
        "stop": f"2025-05-05T{stop}",
        **extra,
    }


def test_repeat_infusion_on_another_site_is_noted():
    """R13 on a site whose only infusion repeats a drug infused on another site: REPEAT_INFUSION still."""
    encounter = {
        "id": "R1",
        "setting": "professional",
        "payer": "medicare",
        "administrations": [
            _admin("A1", "famotidine", "therapeutic", "A", "10:00", "11:00"),
            _admin("A2", "famotidine", "therapeutic", "B", "12:00", "13:00", separate_site_required=True),
            _admin(
                "A3",
                "normal saline",
                "hydration",
                "B",
                "13:00",
                "14:00",
                purpose="hydration",
                separate_site_required=True,
            ),
        ],
    }
    result = derive_encounter(encounter, BOOK)
    assert [(line["code"], line["units"], line["modifiers"], line["administrations"]) for line in result["lines"]] == [
        ("96365", 1, [], ["A1"]),
        ("96360", 1, ["XU"], ["A3"]),
    ]
    assert result["warnings"] == [
        {
            "code": "REPEAT_INFUSION",
            "administration": "A2",
            "message": "R13: famotidine was already infused in this encounter (ended more than 10 minutes before, "
            "A1); its 60 billable minutes are added to the earlier infusion.",
        }
    ]


def test_zone_dater_matches_local_date_around_clock_changes():
    """The zone dater (which remembers the last local day) gives local_date's answer for every minute, in any order:
    across DST changes, half-hour offsets and 30-minute DST shifts, and back and forth between days."""
    rng = random.Random(2025)
    for name in ("UTC", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "Europe/London"):
        tz = zone(name)
        date = dater(tz, name)
        for day in (datetime.date(2025, 3, 9), datetime.date(2025, 4, 6), datetime.date(2025, 10, 5)):
            base = (day.toordinal() - datetime.date(1970, 1, 1).toordinal()) * 1440
            minutes = list(range(base - 2880, base + 2880, 7))
            for minute in minutes + rng.sample(minutes, len(minutes)):
                assert date(minute) == local_date(tz, name, minute), (name, minute)
