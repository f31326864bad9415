"""A realistic demo day per center (issue 4 item 7), used by the platform's `load_demo` command.

Seven patients on the center's today: two chemotherapy days (with premedication pushes and
hydration beside the chemo), antibiotics, hydration alone, injections (an SC injection and an
on-body injector), IV iron, and one infusion still running without a stop time. Idempotent: a
patient already charted for that center and date (by demo MRN) is left alone.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from charges.models import Encounter
from charges.services.administrations import PauseSpan, administration_create
from charges.services.derivations import derivation_run
from charges.services.encounters import encounter_create

D = Decimal

# (mrn suffix, name, dob, diagnoses, [administrations])
# administration: drug, hcpcs, route, site, start, stop, dose, unit, wasted, extra fields
PATIENTS: list[dict[str, Any]] = [
    {
        "key": "01",
        "name": "Maria Alvarez",
        "dob": datetime.date(1958, 4, 12),
        "diagnoses": ["C83.30", "Z51.11"],
        "administrations": [
            ("ondansetron", "J2405", "iv_push", "A", "09:40", None, D("8"), "mg", None, {}),
            ("diphenhydramine", "J1200", "iv_push", "A", "09:45", None, D("25"), "mg", None, {}),
            ("rituximab", "J9312", "iv_infusion", "A", "10:00", "14:10", D("700"), "mg", D("0"), {}),
            (
                "normal saline 0.9% 250 mL",
                "J7050",
                "iv_infusion",
                "A",
                "10:00",
                "14:10",
                D("250"),
                "mL",
                None,
                {"purpose": "hydration", "hydration_indication": "prevent dehydration"},
            ),
        ],
    },
    {
        "key": "02",
        "name": "James Whitfield",
        "dob": datetime.date(1962, 9, 30),
        "diagnoses": ["C34.90", "Z51.11"],
        "administrations": [
            ("dexamethasone sodium phosphate", "J1100", "iv_push", "A", "08:45", None, D("12"), "mg", None, {}),
            ("ondansetron", "J2405", "iv_push", "A", "08:50", None, D("16"), "mg", None, {}),
            ("paclitaxel", "J9267", "iv_infusion", "A", "09:00", "12:05", D("300"), "mg", D("0"), {}),
            ("carboplatin", "J9045", "iv_infusion", "A", "12:10", "12:45", D("600"), "mg", D("0"), {}),
        ],
    },
    {
        "key": "03",
        "name": "Priya Natarajan",
        "dob": datetime.date(1975, 1, 22),
        "diagnoses": ["L03.115"],
        "administrations": [
            ("ceftriaxone", "J0696", "iv_infusion", "A", "11:00", "11:35", D("1"), "g", None, {}),
            ("vancomycin", "J3370", "iv_infusion", "A", "13:00", "14:30", D("1.25"), "g", None, {}),
        ],
    },
    {
        "key": "04",
        "name": "Robert Okafor",
        "dob": datetime.date(1949, 7, 3),
        "diagnoses": ["E86.0"],
        "administrations": [
            (
                "normal saline 0.9% 1000 mL",
                "J7030",
                "iv_infusion",
                "A",
                "09:30",
                "11:45",
                D("1000"),
                "mL",
                None,
                {"purpose": "hydration", "hydration_indication": "dehydration (E86.0)"},
            ),
        ],
    },
    {
        "key": "05",
        "name": "Helen Brandt",
        "dob": datetime.date(1955, 11, 18),
        "diagnoses": ["M81.0", "C50.911"],
        "administrations": [
            ("denosumab", "J0897", "sc", "A", "10:15", None, D("60"), "mg", D("0"), {}),
            ("pegfilgrastim", "J2506", "on_body_injector", "A", "14:00", None, D("6"), "mg", D("0"), {}),
        ],
    },
    {
        "key": "06",
        "name": "Samuel Lee",
        "dob": datetime.date(1981, 2, 14),
        "diagnoses": ["D50.9"],
        "administrations": [
            ("iron sucrose", "J1756", "iv_infusion", "A", "13:00", "13:25", D("200"), "mg", D("0"), {}),
        ],
    },
    {
        "key": "07",
        "name": "Aisha Karimi",
        "dob": datetime.date(1990, 6, 6),
        "diagnoses": ["K50.90"],
        "administrations": [
            (
                "infliximab, excludes biosimilar",
                "J1745",
                "iv_infusion",
                "A",
                "13:30",
                None,  # still running: the board shows it with "Stop now"
                D("400"),
                "mg",
                None,
                {},
            ),
        ],
    },
]


def demo_mrn(center: Any, key: str) -> str:
    return f"DEMO-{center.slug[:20].upper()}-{key}"


def _actor(center: Any) -> Any:
    from accounts.models import Membership
    from accounts.roles import Role

    membership = Membership.objects.filter(center=center, role=Role.NURSE).select_related("user").first()
    return membership.user if membership else None


def load_demo_day(center: Any, day: datetime.date | None = None) -> int:
    """Charts the demo patients at `center` on `day` (the center's today); returns how many were added."""
    tz = ZoneInfo(center.time_zone)
    day = day or timezone.now().astimezone(tz).date()
    actor = _actor(center)
    end_of_day = datetime.datetime.combine(day, datetime.time(23, 59), tzinfo=tz)
    added = []
    for patient in PATIENTS:
        mrn = demo_mrn(center, patient["key"])
        if Encounter.objects.filter(center=center, patient_mrn=mrn, service_date=day).exists():
            continue
        with transaction.atomic():
            encounter = encounter_create(
                center=center,
                actor=actor,
                values={
                    "patient_mrn": mrn,
                    "patient_name": patient["name"],
                    "patient_dob": patient["dob"],
                    "visit_number": f"V{day:%y%m%d}{patient['key']}",
                    "ordering_provider": "Dr. Demo Oncologist",
                    "ordering_npi": "1234567893",
                    "service_date": day,
                    "diagnoses": patient["diagnoses"],
                },
            )
            for drug, hcpcs, route, site, start, stop, dose, unit, wasted, extra in patient["administrations"]:
                start_at = _at(day, start, tz)
                stop_at = _at(day, stop, tz) if stop else None
                administration_create(
                    encounter=encounter,
                    actor=actor,
                    values={
                        "drug": drug,
                        "hcpcs": hcpcs,
                        "route": route,
                        "site": site,
                        "start_at": start_at,
                        "stop_at": stop_at,
                        "dose": dose,
                        "dose_unit": unit,
                        "wasted": wasted,
                        **extra,
                    },
                    pauses=[PauseSpan(_at(day, "11:00", tz), _at(day, "11:10", tz))] if hcpcs == "J9312" else [],
                    now=end_of_day,
                )
        added.append(encounter.pk)
    for pk in added:
        derivation_run(encounter_id=pk)
    return len(added)


def _at(day: datetime.date, hhmm: str, tz: ZoneInfo) -> datetime.datetime:
    hour, minute = (int(x) for x in hhmm.split(":"))
    return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=tz)
