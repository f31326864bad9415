"""Hypothesis strategies producing well-formed engine-io.md input encounters.

"Well-formed" means an encounter the engine must code without an error (coding-rules.md, the
closed error list): unique ids, known setting and routes, a category on every administration,
stop after start, pauses strictly inside their administration, dose units that convert to the
drug's billing unit, local times clear of daylight-saving changes, no 340B claim by a practice.
Everything else the rules talk about is drawn on purpose: overlaps, pauses, two and three access
sites (with and without ``separate_site_required``), separate encounter groups, mixed bags,
midnight crossings, both settings, Medicare, a commercial payer and an unknown payer key, pushes,
injections, hydration, repeats of the same drug, missing stop times, stand-alone services.

``features(encounter)`` names what an encounter contains, from the encounter itself (not from the
strategy's internal choices); the property tests send each name to ``hypothesis.event()`` and
``test_feature_coverage`` checks that 500 derandomized examples hold each required one >= 20 times.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable

from hypothesis import strategies as st

SETTINGS = ("facility", "professional")
KNOWN_PAYERS = ("medicare", "commercial")
UNKNOWN_PAYER = "acme-health-plan"  # not a key of the seed: the engine falls back to Medicare, warned
PAYERS = (*KNOWN_PAYERS, UNKNOWN_PAYER)
ZONES = ("UTC", "America/New_York", "America/Chicago", "America/Los_Angeles")
YEAR_START = dt.date(2025, 1, 1)
YEAR_END = dt.date(2025, 12, 31)
LAST_BASE_DAY = 330  # days after 1 January; leaves room for 46-hour pumps and the day-shift property
# Days whose neighbourhood holds a US daylight-saving change in 2025 (9 March, 2 November).
DST_DAYS = (dt.date(2025, 3, 9), dt.date(2025, 11, 2))

# The features the issue requires at least 20 times in 500 examples.
REQUIRED_FEATURES = (
    "overlap",
    "pause",
    "two_sites",
    "site_required",
    "site_pooled",
    "separate_group",
    "bag",
    "midnight",
    "setting:facility",
    "setting:professional",
    "payer:medicare",
    "payer:commercial",
    "payer:unknown",
    "push",
    "injection",
    "hydration",
)

# (drug text, HCPCS or None, dose unit, smallest and largest dose). Units follow the billing units
# of coding-rules-reference.md §5.2 (mg drugs may also be charted in g, saline in L).
CHEMO_DRUGS = (
    ("rituximab", "J9312", "mg", 100, 1000),
    ("pembrolizumab", "J9271", "mg", 100, 400),
    ("oxaliplatin", "J9263", "mg", 50, 200),
    ("carboplatin", "J9045", "mg", 100, 800),
    ("paclitaxel", "J9267", "mg", 50, 300),
    ("fluorouracil", "J9190", "mg", 200, 2400),
    ("investigational agent", None, None, 0, 0),
)
THERAPEUTIC_DRUGS = (
    ("ondansetron", "J2405", "mg", 4, 16),
    ("dexamethasone", "J1100", "mg", 4, 20),
    ("diphenhydramine", "J1200", "mg", 12, 50),
    ("methylprednisolone", "J2930", "mg", 40, 250),
    ("methylprednisolone 40", "J2920", "mg", 20, 40),  # same ingredient as J2930
    ("ceftriaxone", "J0696", "mg", 250, 2000),
    ("vancomycin", "J3370", "mg", 500, 2000),
    ("leucovorin", "J0640", "mg", 50, 800),
    ("iron sucrose", "J1756", "mg", 100, 300),
    ("zoledronic acid", "J3489", "mg", 4, 5),
    ("ketorolac", "J1885", "mg", 15, 30),
    ("famotidine", None, None, 0, 0),
)
FLUIDS = (
    ("normal saline 1000 mL", "J7030", "mL", 250, 1000),
    ("normal saline 250 mL", "J7050", "mL", 100, 250),
    ("normal saline", None, None, 0, 0),
)
ELECTROLYTES = (
    ("potassium chloride", "J3480", "mEq", 10, 40),
    ("magnesium sulfate", "J3475", "mg", 1000, 4000),
)
INJECTIONS = (  # (drug, HCPCS, unit, low, high, route, category, extra fields)
    ("denosumab", "J0897", "mg", 60, 120, "sc", "therapeutic", {}),
    ("ceftriaxone", "J0696", "mg", 250, 1000, "im", "therapeutic", {}),
    ("methylprednisolone", "J2930", "mg", 40, 125, "im", "therapeutic", {}),
    ("leuprolide depot", None, None, 0, 0, "im", "chemo", {"hormonal": True}),
    ("trastuzumab-hyaluronidase", "J9356", "mg", 600, 600, "sc", "chemo", {}),
    ("influenza vaccine", "90686", None, 0, 0, "im", "therapeutic", {}),  # engine-io dose units have no "dose"
)
EM_CODES = ("99211", "99213", "99214", "99284")
INFUSION_LENGTHS = (5, 14, 15, 16, 17, 30, 31, 32, 60, 89, 90, 91, 92, 120, 150, 151, 180, 210, 211, 240, 300)
_IV_DRUGS = {row[0]: row for row in (*CHEMO_DRUGS, *THERAPEUTIC_DRUGS)}
TIMED_KINDS = (
    "chemo_infusion",
    "therapeutic_infusion",
    "hydration",
    "chemo_push",
    "therapeutic_push",
    "injection",
    "bag",
    "repeat",
    "fluid_kvo",
    "other",
)

# The administration fields of engine-io.md (the damaged-input property replaces them with arbitrary JSON).
ADMINISTRATION_FIELDS = (
    *("id", "drug", "hcpcs", "category", "route", "pump_type", "pump_supplied_by", "site"),
    *("separate_site_required", "separate_site_reason", "integral_to", "start", "stop", "dose", "dose_unit"),
    *("wasted", "ndc", "single_dose_container", "acquired_340b", "purpose", "primary_reason"),
    *("separate_encounter", "pauses", "bag", "hormonal", "billing_unit"),
)

# Every HCPCS the strategies write (test_properties checks the seed knows each one).
STRATEGY_HCPCS = frozenset(
    row[1] for row in (*CHEMO_DRUGS, *THERAPEUTIC_DRUGS, *FLUIDS, *ELECTROLYTES, *INJECTIONS) if row[1] is not None
) | {"J1642", "J2997", "J2506"}


def _fmt(moment: dt.datetime, suffix: str) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M") + suffix


class _Builder:
    """Collects administrations with unique ids; times are minutes after the base day's midnight."""

    def __init__(self, base: dt.datetime, suffix: str) -> None:
        self.base, self.suffix, self.administrations = base, suffix, []

    def time(self, minute: int) -> str:
        return _fmt(self.base + dt.timedelta(minutes=minute), self.suffix)

    def add(self, draw, *, start: int, length: int | None, **fields) -> dict:
        admin = {"id": f"A{len(self.administrations) + 1}", **fields, "start": self.time(start)}
        if length is None:
            if draw(st.booleans()):
                admin["stop"] = None
        else:
            admin["stop"] = self.time(start + length)
        self.administrations.append(admin)
        return admin


def _dose_fields(draw, hcpcs, unit, low, high, *, allow_waste=True) -> dict:
    if hcpcs is None or unit is None:
        return {}
    dose = draw(st.integers(low, high))
    fields = {"dose": dose, "dose_unit": unit}
    if unit == "mg" and dose % 1000 == 0 and draw(st.booleans()):
        fields = {"dose": dose // 1000, "dose_unit": "g"}  # converted to mg by R19
    elif unit == "mL" and dose % 1000 == 0 and draw(st.booleans()):
        fields = {"dose": dose // 1000, "dose_unit": "L"}
    if allow_waste:
        waste = draw(st.sampled_from(("absent", "zero", "some")))
        if waste == "zero":
            fields["wasted"] = 0
        elif waste == "some":
            fields["wasted"] = draw(st.integers(1, max(1, dose // 2))) if fields["dose_unit"] == unit else 0
    return fields


def _pauses(draw, builder: _Builder, start: int, length: int | None) -> list[dict]:
    """Zero to two pauses strictly inside (start, start + length), not overlapping each other."""
    if length is None or length < 12 or draw(st.integers(0, 3)) != 0:
        return []
    cuts = sorted(draw(st.sets(st.integers(1, length - 1), min_size=2, max_size=4)))
    if len(cuts) % 2:
        cuts = cuts[:-1]
    return [
        {"start": builder.time(start + a), "stop": builder.time(start + b)}
        for a, b in zip(cuts[::2], cuts[1::2], strict=True)
        if b > a
    ]


def _length(draw, low: int = 1, high: int = 330) -> int:
    return draw(st.one_of(st.sampled_from(INFUSION_LENGTHS), st.integers(low, high)))


def _timed(draw, builder: _Builder, kind: str, *, site: str, start: int, placed: list[dict]) -> int:
    """Adds one administration (or a bag of them) of ``kind``; returns the minute it ends."""
    common = {"site": site}
    if kind in ("chemo_infusion", "therapeutic_infusion", "repeat"):
        earlier = [a for a in placed if a["route"] in ("iv_infusion", "iv_push") and a["drug"] in _IV_DRUGS]
        if kind == "repeat" and earlier:
            again = draw(st.sampled_from(earlier))
            (drug, hcpcs, unit, low, high), category = _IV_DRUGS[again["drug"]], again["category"]
            route = again["route"]
        else:
            table = CHEMO_DRUGS if kind == "chemo_infusion" else THERAPEUTIC_DRUGS
            drug, hcpcs, unit, low, high = draw(st.sampled_from(table))
            category = "chemo" if kind == "chemo_infusion" else "therapeutic"
            route = "iv_infusion"
        length = None if draw(st.integers(0, 24)) == 0 and route == "iv_infusion" else _length(draw)
        if route == "iv_push":
            length = draw(st.integers(1, 20))
        fields = {"drug": drug, "category": category, "route": route, **common}
        if hcpcs:
            fields["hcpcs"] = hcpcs
        fields.update(_dose_fields(draw, hcpcs, unit, low, high))
        admin = builder.add(draw, start=start, length=length, **fields)
        if route == "iv_infusion" and (pauses := _pauses(draw, builder, start, length)):
            admin["pauses"] = pauses
        return start + (length or 30)
    if kind in ("chemo_push", "therapeutic_push"):
        table = CHEMO_DRUGS if kind == "chemo_push" else THERAPEUTIC_DRUGS
        drug, hcpcs, unit, low, high = draw(st.sampled_from(table))
        length = draw(st.one_of(st.integers(1, 5), st.integers(1, 20)))
        fields = {"drug": drug, "category": kind.split("_")[0], "route": "iv_push", **common}
        if hcpcs:
            fields["hcpcs"] = hcpcs
        fields.update(_dose_fields(draw, hcpcs, unit, low, high))
        builder.add(draw, start=start, length=length, **fields)
        return start + length
    if kind in ("hydration", "fluid_kvo"):
        drug, hcpcs, unit, low, high = draw(st.sampled_from(FLUIDS))
        purpose = "hydration" if kind == "hydration" else draw(st.sampled_from(("kvo", "carrier", None)))
        length = None if draw(st.integers(0, 24)) == 0 else _length(draw, 1, 480)
        fields = {"drug": drug, "category": "hydration", "route": "iv_infusion", "purpose": purpose, **common}
        if hcpcs:
            fields["hcpcs"] = hcpcs
        fields.update(_dose_fields(draw, hcpcs, unit, low, high, allow_waste=False))
        admin = builder.add(draw, start=start, length=length, **fields)
        if pauses := _pauses(draw, builder, start, length):
            admin["pauses"] = pauses
        return start + (length or 30)
    if kind == "injection":
        drug, hcpcs, unit, low, high, route, category, extra = draw(st.sampled_from(INJECTIONS))
        fields = {"drug": drug, "category": category, "route": route, **extra}
        fields["site"] = draw(st.sampled_from((site, "INJ-1", "INJ-2")))
        if hcpcs:
            fields["hcpcs"] = hcpcs
        fields.update(_dose_fields(draw, hcpcs, unit, low, high))
        length = draw(st.integers(1, 3))
        builder.add(draw, start=start, length=length, **fields)
        return start + length
    if kind == "bag":
        return _bag(draw, builder, site=site, start=start)
    return _other(draw, builder, site=site, start=start)


def _bag(draw, builder: _Builder, *, site: str, start: int) -> int:
    label = f"bag-{len(builder.administrations) + 1}"
    length = _length(draw, 10, 300)
    variant = draw(st.sampled_from(("electrolytes", "drug_in_carrier", "two_drugs", "chemo_mix")))
    contents: list[tuple[tuple, str, str | None]] = []  # (drug row, category, purpose)
    if variant == "electrolytes":
        contents.append((FLUIDS[0], "hydration", "hydration"))
        for row in draw(st.lists(st.sampled_from(ELECTROLYTES), min_size=1, max_size=2, unique=True)):
            purpose = "electrolyte_replacement" if draw(st.integers(0, 3)) == 0 else None
            contents.append((row, "therapeutic", purpose))
    elif variant == "drug_in_carrier":
        contents.append((draw(st.sampled_from(THERAPEUTIC_DRUGS)), "therapeutic", None))
        contents.append((FLUIDS[1], "hydration", "carrier"))
    elif variant == "two_drugs":
        rows = draw(st.lists(st.sampled_from(THERAPEUTIC_DRUGS), min_size=2, max_size=2, unique=True))
        contents.extend((row, "therapeutic", None) for row in rows)
    else:
        contents.append((draw(st.sampled_from(CHEMO_DRUGS)), "chemo", None))
        contents.append((THERAPEUTIC_DRUGS[7], "therapeutic", None))  # leucovorin
    pauses = None
    for (drug, hcpcs, unit, low, high), category, purpose in contents:
        fields = {"drug": drug, "category": category, "route": "iv_infusion", "site": site, "bag": label}
        if purpose:
            fields["purpose"] = purpose
        if hcpcs:
            fields["hcpcs"] = hcpcs
        fields.update(_dose_fields(draw, hcpcs, unit, low, high, allow_waste=category != "hydration"))
        admin = builder.add(draw, start=start, length=length, **fields)
        if pauses is None:
            pauses = _pauses(draw, builder, start, length)
        if pauses:
            admin["pauses"] = [dict(p) for p in pauses]  # one bag: the same pauses for every drug in it
    return start + length


def _other(draw, builder: _Builder, *, site: str, start: int) -> int:
    """Stand-alone and rarer services: SC and intra-arterial infusions, pumps, flushes, integral ones."""
    choice = draw(
        st.sampled_from(
            (
                "sc_infusion",
                "intra_arterial_infusion",
                "intra_arterial",
                "intralesional",
                "intrathecal",
                "oral",
                "pump_prolonged",
                "pump_refill",
                "pump_disconnect",
                "port_flush",
                "catheter_clearance",
                "on_body_injector",
                "integral",
            )
        )
    )
    fields: dict = {"site": site}
    length = draw(st.integers(1, 5))
    if choice in ("sc_infusion", "intra_arterial_infusion"):
        drug, hcpcs, unit, low, high = draw(st.sampled_from(THERAPEUTIC_DRUGS[:4] + CHEMO_DRUGS[:2]))
        category = "chemo" if hcpcs and hcpcs.startswith("J9") else "therapeutic"
        length = _length(draw)
        fields.update(drug=drug, category=category, route=choice)
    elif choice in ("intra_arterial", "intralesional", "intrathecal", "oral"):
        drug, hcpcs, unit, low, high = draw(st.sampled_from(CHEMO_DRUGS))
        fields.update(drug=drug, category="chemo", route=choice)
    elif choice == "pump_prolonged":
        drug, hcpcs, unit, low, high = draw(st.sampled_from((CHEMO_DRUGS[5], THERAPEUTIC_DRUGS[5])))
        length = draw(st.sampled_from((46 * 60, 9 * 60, 24 * 60)))
        fields.update(drug=drug, category="chemo" if hcpcs == "J9190" else "therapeutic", route=choice)
        fields["pump_supplied_by"] = draw(st.sampled_from(("provider", "supplier", None)))
        if fields["pump_supplied_by"] is None:
            del fields["pump_supplied_by"]
        fields["pump_type"] = draw(st.sampled_from(("portable", "implanted")))
    elif choice in ("pump_refill", "pump_disconnect"):
        drug, hcpcs, unit, low, high = CHEMO_DRUGS[5]
        fields.update(
            drug=drug, category="chemo", route=choice, pump_type=draw(st.sampled_from(("portable", "implanted")))
        )
    elif choice == "port_flush":
        drug, hcpcs, unit, low, high = ("heparin lock flush", "J1642", "units", 100, 500)
        fields.update(drug=drug, category="therapeutic", route=choice)
    elif choice == "catheter_clearance":
        drug, hcpcs, unit, low, high = ("alteplase", "J2997", "mg", 1, 4)
        fields.update(drug=drug, category="therapeutic", route=choice)
    elif choice == "on_body_injector":
        drug, hcpcs, unit, low, high = ("pegfilgrastim", "J2506", "mg", 6, 6)
        fields.update(drug=drug, category="therapeutic", route=choice)
    else:  # integral to a procedure: no administration line, warned
        drug, hcpcs, unit, low, high = draw(st.sampled_from(FLUIDS[:1] + THERAPEUTIC_DRUGS[:2]))
        length = _length(draw)
        fields.update(drug=drug, category="therapeutic", route="iv_infusion", integral_to="moderate sedation")
    if hcpcs:
        fields["hcpcs"] = hcpcs
    fields.update(_dose_fields(draw, hcpcs, unit, low, high))
    builder.add(draw, start=start, length=length, **fields)
    return start + length


def _base_day(draw, zone: str) -> dt.date:
    day = YEAR_START + dt.timedelta(days=draw(st.integers(0, LAST_BASE_DAY)))
    if zone != "UTC":
        for change in DST_DAYS:
            if -3 <= (day - change).days <= 1:
                day = change + dt.timedelta(days=2)
    return day


@st.composite
def encounters(draw, *, zones: Iterable[str] = ZONES, max_admins: int = 6) -> dict:
    """One well-formed engine-io.md input encounter."""
    zones = tuple(zones)
    zone = draw(st.sampled_from(zones))
    setting = draw(st.sampled_from(SETTINGS))
    payer = draw(st.sampled_from(PAYERS))
    encounter: dict = {"id": "E1", "setting": setting, "payer": payer}
    if zone != "UTC" or draw(st.booleans()):
        encounter["timezone"] = zone
    suffix = draw(st.sampled_from(("", "", "Z", "+00:00"))) if zone == "UTC" else ""
    day = _base_day(draw, zone)
    builder = _Builder(dt.datetime.combine(day, dt.time()), suffix)

    if setting == "facility":
        encounter["billing_entity"] = draw(st.sampled_from(("hospital", "hospital", "covered_entity")))
        status = draw(st.sampled_from(("on_campus", "off_campus_excepted", "off_campus_non_excepted", None)))
        if status:
            encounter["department_status"] = status
    elif draw(st.integers(0, 7)) == 0:
        encounter["place_of_service"] = draw(st.sampled_from(("11", "22")))
    if draw(st.integers(0, 3)) == 0:
        encounter["em"] = {"code": draw(st.sampled_from(EM_CODES)), "separately_identifiable": draw(st.booleans())}
    if draw(st.integers(0, 9)) == 0:
        encounter["other_services"] = [draw(st.sampled_from(("36591", "36593", "99152")))]
    if draw(st.booleans()):
        encounter["diagnoses"] = ["Z51.11", "C83.30"]

    groups: list[object] = [False]
    if draw(st.integers(0, 3)) == 0:
        groups.append(draw(st.sampled_from((True, "return-1"))))
        if draw(st.integers(0, 4)) == 0:
            groups.append("return-2")
    late = draw(st.integers(0, 4)) == 0
    for group in groups:
        site_count = draw(st.sampled_from((1, 1, 2, 2, 3)))
        sites = ("A", "B", "C")[:site_count]
        required = {site: draw(st.booleans()) for site in sites[1:]}
        if sites[1:] and draw(st.integers(0, 5)) == 0:
            required[sites[0]] = True
        cursor = draw(st.integers(21 * 60, 23 * 60 + 50)) if late else draw(st.integers(7 * 60, 16 * 60))
        if group is not False:
            cursor += draw(st.integers(60, 300))
        placed: list[dict] = []
        count = draw(st.integers(1, max_admins if group is False else max(1, max_admins // 2)))
        for _ in range(count):
            kind = draw(st.sampled_from(TIMED_KINDS))
            site = draw(st.sampled_from(sites))
            timing = draw(st.sampled_from(("after", "after", "overlap", "gap", "same_start")))
            start = cursor
            if timing == "overlap" and placed:
                ref = draw(st.sampled_from(placed))
                ref_start = _minute(builder, ref["start"])
                ref_stop = _minute(builder, ref["stop"]) if ref.get("stop") else ref_start + 30
                start = ref_start + draw(st.integers(0, max(0, ref_stop - ref_start - 1)))
            elif timing == "gap":
                start = cursor + draw(st.integers(1, 60))
            elif timing == "same_start" and placed:
                start = _minute(builder, placed[-1]["start"])
            first_new = len(builder.administrations)
            end = _timed(draw, builder, kind, site=site, start=start, placed=placed)
            cursor = max(cursor, end)
            for admin in builder.administrations[first_new:]:
                if group is not False:
                    admin["separate_encounter"] = group
                if required.get(admin["site"]) and draw(st.integers(0, 4)) != 0:
                    admin["separate_site_required"] = True
                    admin["separate_site_reason"] = "incompatible drugs"
                placed.append(admin)

    administrations = builder.administrations
    if setting == "professional" and draw(st.integers(0, 3)) == 0:
        draw(st.sampled_from(administrations))["primary_reason"] = True
    if setting == "facility" and draw(st.integers(0, 4)) == 0:
        for admin in administrations:
            if admin.get("hcpcs", "").startswith("J9"):
                admin["acquired_340b"] = True
    for admin in administrations:
        if "pauses" in admin and not admin.get("stop"):
            del admin["pauses"]
    encounter["administrations"] = administrations
    return encounter


def _minute(builder: _Builder, text: str) -> int:
    moment = dt.datetime.fromisoformat(text[:16])
    return int((moment - builder.base).total_seconds() // 60)


@st.composite
def single_infusions(draw) -> tuple[dict, int, int]:
    """(encounter template, first length, a longer length) for one infusion alone on its site.

    ``with_length(template, minutes)`` sets the stop time; pauses stay where they were.
    """
    setting = draw(st.sampled_from(SETTINGS))
    payer = draw(st.sampled_from(PAYERS))
    category = draw(st.sampled_from(("chemo", "therapeutic", "hydration")))
    route = "iv_infusion"
    if category != "hydration":
        routes = ("iv_infusion", "iv_infusion", "sc_infusion")
        # Only chemo has an intra-arterial infusion code (96422, R9); a therapeutic one is not a billable infusion.
        route = draw(st.sampled_from((*routes, "intra_arterial_infusion") if category == "chemo" else routes))
    if category == "hydration":
        drug, hcpcs, unit, low, high = draw(st.sampled_from(FLUIDS))
    else:
        drug, hcpcs, unit, low, high = draw(st.sampled_from(CHEMO_DRUGS if category == "chemo" else THERAPEUTIC_DRUGS))
    day = _base_day(draw, "UTC")
    start = draw(st.one_of(st.integers(7 * 60, 16 * 60), st.integers(21 * 60, 23 * 60 + 59)))
    builder = _Builder(dt.datetime.combine(day, dt.time()), "")
    admin = {"id": "A1", "drug": drug, "category": category, "route": route, "site": "A", "start": builder.time(start)}
    if category == "hydration":
        admin["purpose"] = "hydration"
    if hcpcs:
        admin["hcpcs"] = hcpcs
    admin.update(_dose_fields(draw, hcpcs, unit, low, high, allow_waste=category != "hydration"))
    paused_until = 0
    if draw(st.booleans()):
        a = draw(st.integers(1, 60))
        b = draw(st.integers(a + 1, a + 45))
        admin["pauses"] = [{"start": builder.time(start + a), "stop": builder.time(start + b)}]
        paused_until = b
    first = draw(st.one_of(st.sampled_from(INFUSION_LENGTHS), st.integers(1, 400)))
    first = max(first, paused_until + 1)
    longer = first + draw(st.one_of(st.integers(1, 3), st.integers(1, 240)))
    encounter = {"id": "E1", "setting": setting, "payer": payer, "timezone": "UTC", "administrations": [admin]}
    return encounter, first, longer


def with_length(template: dict, minutes: int) -> dict:
    """A copy of a ``single_infusions`` encounter whose infusion lasts ``minutes`` from its start."""
    admin = dict(template["administrations"][0])
    start = dt.datetime.fromisoformat(admin["start"])
    admin["stop"] = _fmt(start + dt.timedelta(minutes=minutes), "")
    return {**template, "administrations": [admin]}


# --- features -----------------------------------------------------------------------------------


def _interval(admin: dict) -> tuple[dt.datetime, dt.datetime] | None:
    if not admin.get("stop"):
        return None
    return _parse(admin["start"]), _parse(admin["stop"])


def _parse(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).replace(tzinfo=None)


def group_key(admin: dict) -> object:
    """The encounter group of an administration (Conventions: separate_encounter value, or the main group)."""
    value = admin.get("separate_encounter", False)
    return value if value not in (None, False) else False


def features(encounter: dict) -> set[str]:
    """Names of what ``encounter`` contains, computed from the input itself."""
    admins = encounter["administrations"]
    found = {f"setting:{encounter['setting']}"}
    payer = encounter.get("payer", "medicare")
    found.add(f"payer:{payer}" if payer in KNOWN_PAYERS else "payer:unknown")
    if encounter.get("em"):
        found.add("em")
    by_group: dict[object, list[dict]] = {}
    for admin in admins:
        by_group.setdefault(group_key(admin), []).append(admin)
        route = admin["route"]
        if admin.get("pauses"):
            found.add("pause")
        if route == "iv_push":
            found.add("push")
        if route in ("sc", "im"):
            found.add("injection")
        if route == "iv_infusion" and admin.get("purpose") == "hydration" and not admin.get("bag"):
            found.add("hydration")
        if route == "iv_infusion" and "stop" in admin and not admin["stop"]:
            found.add("missing_stop")
        if route not in ("iv_push", "iv_infusion", "sc", "im"):
            found.add(f"route:{route}")
        if admin.get("separate_site_required"):
            found.add("site_required")
        if group_key(admin) is not False:
            found.add("separate_group")
        interval = _interval(admin)
        if interval and interval[0].date() != interval[1].date():
            found.add("midnight")
    if len({_parse(a["start"]).date() for a in admins}) > 1:
        found.add("midnight")
    bags: dict[str, int] = {}
    for admin in admins:
        if admin.get("bag"):
            bags[admin["bag"]] = bags.get(admin["bag"], 0) + 1
    if any(count >= 2 for count in bags.values()):
        found.add("bag")
    for members in by_group.values():
        iv = [a for a in members if a["route"] in ("iv_push", "iv_infusion")]
        sites = {a.get("site", "A") for a in iv}
        if len(sites) >= 2:
            found.add("two_sites")
            required_sites = {a.get("site", "A") for a in iv if a.get("separate_site_required")}
            if len(sites - required_sites) >= 2:
                found.add("site_pooled")
        infusions = [(a, _interval(a)) for a in members if a["route"] == "iv_infusion" and _interval(a)]
        for i, (a, ia) in enumerate(infusions):
            for b, ib in infusions[i + 1 :]:
                same_site = a.get("site", "A") == b.get("site", "A")
                same_bag = a.get("bag") and a.get("bag") == b.get("bag")
                if same_site and not same_bag and ia[0] < ib[1] and ib[0] < ia[1]:
                    found.add("overlap")
                    if a["drug"].strip().lower() == b["drug"].strip().lower():
                        found.add("overlap_same_drug")
        drugs = [a["drug"].strip().lower() for a in iv]
        if len(drugs) != len(set(drugs)):
            found.add("same_drug_again")
    return found


# --- transformations used by the properties --------------------------------------------------------

_DATE = re.compile(r"(?<!\d)(\d{4})-(\d{2})-(\d{2})(?!\d)")


def shift_text_dates(text: str, days: int) -> str:
    """Every ISO date (YYYY-MM-DD) inside ``text`` moved by ``days``."""

    def move(match: re.Match) -> str:
        day = dt.date(int(match[1]), int(match[2]), int(match[3])) + dt.timedelta(days=days)
        return day.isoformat()

    return _DATE.sub(move, text)


def shift_dates(value: object, days: int) -> object:
    """A deep copy of ``value`` with every ISO date inside every string moved by ``days``."""
    if isinstance(value, str):
        return shift_text_dates(value, days)
    if isinstance(value, list):
        return [shift_dates(item, days) for item in value]
    if isinstance(value, dict):
        return {key: shift_dates(item, days) for key, item in value.items()}
    return value


def date_range(encounter: dict) -> tuple[dt.date, dt.date]:
    """Earliest and latest calendar date written in the encounter's times."""
    days = [
        _parse(text).date()
        for admin in encounter["administrations"]
        for text in (
            admin["start"],
            admin.get("stop"),
            *(p[k] for p in admin.get("pauses") or () for k in ("start", "stop")),
        )
        if text
    ]
    return min(days), max(days)
