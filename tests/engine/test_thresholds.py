"""Unit tests at every threshold of coding-rules.md: R1 15/16 own minutes, R4 30/31 hydration, R10 90/91,
150/151, 210/211, R6 bag change 10/11 and overlap 15/16, R13 pushes 30/31, R18 midnight dating, DST errors."""

from __future__ import annotations

import collections
import datetime

import pytest

from charges.engine.api import derive_encounter
from charges.engine.snapshot import build_book, load_seed_book, read_tables

BOOK = load_seed_book()
BASE = datetime.datetime(2025, 3, 4, 10, 0)


def t(minutes: int, base: datetime.datetime = BASE) -> str:
    return (base + datetime.timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M")


def adm(admin_id, start, stop, route="iv_infusion", category="therapeutic", drug=None, **extra):
    item = {
        "id": admin_id,
        "drug": drug or f"drug {admin_id}",
        "category": category,
        "route": route,
        "start": start,
        "stop": stop,
    }
    item.update(extra)
    return item


def run(admins, setting="facility", payer="medicare", book=BOOK, **extra):
    encounter = {"id": "E", "setting": setting, "payer": payer, "administrations": admins}
    encounter.update(extra)
    return derive_encounter(encounter, book)


def units(result) -> dict:
    total = collections.Counter()
    for line in result["lines"]:
        if line["kind"] == "administration":
            total[line["code"]] += line["units"]
    return dict(total)


def warnings(result) -> set:
    return {w["code"] for w in result["warnings"]}


def errors(result) -> set:
    return {e["code"] for e in result["errors"]}


@pytest.mark.parametrize(("minutes", "expected"), [(15, {"96374": 1}), (16, {"96365": 1})])
def test_r1_push_or_infusion_at_15_16_own_minutes(minutes, expected):
    assert units(run([adm("A1", t(0), t(minutes))])) == expected


def test_r1_threshold_uses_own_minutes_after_pauses():
    pause = [{"start": t(5), "stop": t(10)}]
    assert units(run([adm("A1", t(0), t(20), pauses=pause)])) == {"96374": 1}  # 20 - 5 = 15 own minutes
    assert units(run([adm("A1", t(0), t(21), pauses=pause)])) == {"96365": 1}


@pytest.mark.parametrize(("minutes", "expected"), [(15, {"96409": 1}), (16, {"96413": 1})])
def test_r1_chemo_push_or_infusion(minutes, expected):
    assert units(run([adm("A1", t(0), t(minutes), category="chemo")])) == expected


@pytest.mark.parametrize(("minutes", "expected"), [(30, {}), (31, {"96360": 1})])
def test_r4_hydration_floor_30_31(minutes, expected):
    result = run([adm("H", t(0), t(minutes), category="hydration", purpose="hydration")])
    assert units(result) == expected
    assert ("HYDRATION_UNDER_31" in warnings(result)) == (minutes == 30)


@pytest.mark.parametrize(("minutes", "hours"), [(90, 0), (91, 1), (150, 1), (151, 2), (210, 2), (211, 3)])
def test_r10_additional_hours(minutes, hours):
    got = units(run([adm("A1", t(0), t(minutes))]))
    assert got.get("96365") == 1
    assert got.get("96366", 0) == hours
    chemo = units(run([adm("A1", t(0), t(minutes), category="chemo")]))
    assert chemo.get("96415", 0) == hours
    hydration = units(run([adm("H", t(0), t(minutes), category="hydration", purpose="hydration")]))
    assert hydration.get("96361", 0) == hours


@pytest.mark.parametrize(("minutes", "expected"), [(30, 0), (31, 1), (90, 1), (91, 2), (150, 2), (151, 3)])
def test_r11_secondary_hydration_units(minutes, expected):
    push = adm("P", t(0), t(0), route="iv_push")
    hydration = adm("H", t(1), t(1 + minutes), category="hydration", purpose="hydration")
    assert units(run([push, hydration])).get("96361", 0) == expected


def _repeat_book(method: str):
    tables = read_tables()
    tables["payers"] = [dict(row, repeat_infusion_method=method) for row in tables["payers"]]
    return build_book(tables, "test")


@pytest.mark.parametrize(("gap", "repeat"), [(10, False), (11, True)])
def test_r6_r13_same_drug_bag_change_gap_10_11(gap, repeat):
    first = adm("A1", t(0), t(60), drug="vancomycin")
    second = adm("A2", t(60 + gap), t(100 + gap), drug="vancomycin")
    result = run([first, second])
    assert ("REPEAT_INFUSION" in warnings(result)) is repeat
    assert units(result) == {"96365": 1, "96366": 1}  # 100 minutes either joined or added (add_times)
    interval = run([first, second], book=_repeat_book("interval"))
    assert units(interval) == {"96365": 1, "96366": 1}  # joined 100 minutes, or 60 + one unit for the repeat
    assert "96367" not in units(interval) and "96368" not in units(interval)


def test_r13_interval_method_adds_one_unit_per_repeat_of_16_minutes():
    first = adm("A1", t(0), t(50), drug="vancomycin")
    second = adm("A2", t(120), t(160), drug="vancomycin")  # 40 minutes, far apart
    assert units(run([first, second])) == {"96365": 1}  # add_times: 50 + 40 = 90 billable minutes, no hour
    assert units(run([first, second], book=_repeat_book("interval"))) == {"96365": 1, "96366": 1}
    short = adm("A2", t(120), t(136), drug="vancomycin")  # 16 minutes
    assert units(run([first, short], book=_repeat_book("interval"))) == {"96365": 1, "96366": 1}
    shorter = adm("A2", t(120), t(135), drug="vancomycin")  # 15 minutes: a push of a drug also infused
    assert units(run([first, shorter], book=_repeat_book("interval"))) == {"96365": 1, "96376": 1}


def test_r13_add_times_recomputes_hours():
    first = adm("A1", t(0), t(60), drug="vancomycin")
    second = adm("A2", t(120), t(151), drug="vancomycin")  # 60 + 31 = 91 billable minutes
    result = run([first, second])
    assert units(result) == {"96365": 1, "96366": 1}
    assert "REPEAT_INFUSION" in warnings(result)


@pytest.mark.parametrize(("gap", "expected"), [(30, {"96374": 1}), (31, {"96374": 1, "96376": 1})])
def test_r13_same_drug_pushes_30_31_minutes(gap, expected):
    first = adm("P1", t(0), t(1), route="iv_push", drug="morphine")
    second = adm("P2", t(1 + gap), t(2 + gap), route="iv_push", drug="morphine")
    assert units(run([first, second])) == expected
    assert units(run([first, second], setting="professional")) == {"96374": 1}


@pytest.mark.parametrize(("start", "expected"), [(45, "96367"), (44, "96368")])
def test_r6_overlap_15_16(start, expected):
    main = adm("A1", t(0), t(60))
    other = adm("A2", t(start), t(65))  # overlap 15 or 16 minutes, 5 outside
    got = units(run([main, other]))
    assert got.get(expected) == 1 and got.get("96365") == 1
    assert len(got) == 2


@pytest.mark.parametrize(("stop", "expected"), [(75, "96368"), (76, "96367")])
def test_r6_outside_15_16(stop, expected):
    main = adm("A1", t(0), t(60))
    other = adm("A2", t(30), t(stop))  # 30 overlapping, 15 or 16 outside
    got = units(run([main, other]))
    assert got == {"96365": 1, expected: 1}


def test_r18_midnight_dating_of_additional_hours():
    base = datetime.datetime(2025, 3, 4, 22, 0)
    infusion = adm("A1", t(0, base), t(151, base))  # 22:00-00:31, units qualify at 23:30 and 00:30
    result = run([infusion])
    dated = sorted((line["code"], line["date"], line["units"]) for line in result["lines"])
    assert dated == [("96365", "2025-03-04", 1), ("96366", "2025-03-04", 1), ("96366", "2025-03-05", 1)]


def test_r18_midnight_unit_on_its_qualifying_minute():
    base = datetime.datetime(2025, 3, 4, 23, 0)
    on_day_two = run([adm("A1", t(0, base), t(91, base))])  # minute 91 begins at 00:30
    assert [(x["code"], x["date"]) for x in on_day_two["lines"]] == [("96365", "2025-03-04"), ("96366", "2025-03-05")]
    base = datetime.datetime(2025, 3, 4, 22, 29)
    on_day_one = run([adm("A1", t(0, base), t(91, base))])  # minute 91 begins at 23:59
    assert [(x["code"], x["date"]) for x in on_day_one["lines"]] == [("96365", "2025-03-04"), ("96366", "2025-03-04")]


def test_r18_professional_unit_on_a_later_day_is_warned():
    base = datetime.datetime(2025, 3, 4, 23, 0)
    result = run([adm("A1", t(0, base), t(91, base))], setting="professional")
    assert units(result) == {"96365": 1, "96366": 1}
    assert "ADDON_DATE_SPLIT" in warnings(result)


def test_dst_nonexistent_local_time_is_an_error():
    result = run([adm("A1", "2025-03-09T02:30", "2025-03-09T03:30")], timezone="America/New_York")
    assert errors(result) == {"NONEXISTENT_LOCAL_TIME"} and result["lines"] == []


def test_dst_ambiguous_local_time_is_an_error_unless_offset_given():
    result = run([adm("A1", "2025-11-02T01:30", "2025-11-02T03:00")], timezone="America/New_York")
    assert errors(result) == {"AMBIGUOUS_LOCAL_TIME"}
    fine = run([adm("A1", "2025-11-02T01:30-05:00", "2025-11-02T03:00")], timezone="America/New_York")
    assert fine["errors"] == [] and units(fine) == {"96365": 1}  # 01:30 EST to 03:00 EST = 90 minutes


def test_dst_minutes_are_elapsed_time():
    # 01:00 EST to 04:00 EDT on the spring-forward day is 2 elapsed hours (120 minutes): one additional hour.
    result = run([adm("A1", "2025-03-09T01:00", "2025-03-09T04:00")], timezone="America/New_York")
    assert units(result) == {"96365": 1, "96366": 1}
