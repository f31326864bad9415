"""The worked examples of coding-rules-reference.md section 4.7 (facility unless stated), and the explanation
contract: every line names its rule ids, a time-based line names its billable minutes."""

from __future__ import annotations

import collections
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from charges.engine.api import derive_encounter
from charges.engine.snapshot import load_seed_book

BOOK = load_seed_book()
GEN = Path(__file__).resolve().parents[3] / "shared" / "tools" / "gen-encounters"


def a(admin_id, drug, route, start, stop, category="therapeutic", **extra):
    item = {
        "id": admin_id,
        "drug": drug,
        "route": route,
        "category": category,
        "start": f"2025-03-04T{start}",
        "stop": None if stop is None else f"2025-03-04T{stop}",
    }
    item.update(extra)
    return item


def totals(result, kinds=("administration",)):
    units = collections.Counter()
    for line in result["lines"]:
        if line["kind"] in kinds:
            units[(line["code"], tuple(line["modifiers"]))] += line["units"]
    return dict(units)


EXAMPLES = {
    "1 rituximab with premeds": (
        [
            a("A1", "diphenhydramine", "iv_push", "09:40", "09:41", hcpcs="J1200", dose=50, dose_unit="mg"),
            a("A2", "methylprednisolone", "iv_push", "09:45", "09:46", hcpcs="J2930", dose=125, dose_unit="mg"),
            a(
                "A3",
                "rituximab",
                "iv_infusion",
                "10:00",
                "14:10",
                "chemo",
                hcpcs="J9312",
                dose=700,
                dose_unit="mg",
                wasted=0,
            ),
            a("A4", "normal saline", "iv_infusion", "09:35", "14:15", "hydration", purpose="carrier"),
        ],
        {("96413", ()): 1, ("96415", ()): 3, ("96375", ()): 2},
        {("J9312", ("JZ",)): 70, ("J1200", ()): 1, ("J2930", ()): 1},
    ),
    "2 dehydration and antiemetic": (
        [
            a("A1", "normal saline", "iv_infusion", "13:00", "15:05", "hydration", purpose="hydration"),
            a("A2", "ondansetron", "iv_push", "13:10", "13:12", hcpcs="J2405", dose=4, dose_unit="mg"),
        ],
        {("96374", ()): 1, ("96361", ()): 2},
        {("J2405", ()): 4},
    ),
    "3 sequential antibiotics": (
        [
            a("A1", "ceftriaxone", "iv_infusion", "10:00", "10:30", hcpcs="J0696", dose=2, dose_unit="g"),
            a("A2", "vancomycin", "iv_infusion", "10:30", "12:15", hcpcs="J3370", dose=1.5, dose_unit="g"),
        ],
        {("96365", ()): 1, ("96366", ()): 1, ("96367", ()): 1},
        {("J0696", ()): 8, ("J3370", ()): 3},
    ),
    "4 concurrent antibiotics": (
        [a("A1", "cefazolin", "iv_infusion", "10:00", "11:00"), a("A2", "vancomycin", "iv_infusion", "10:00", "11:00")],
        {("96365", ()): 1, ("96368", ()): 1},
        None,
    ),
    "5 overlap": (
        [a("A1", "drug a", "iv_infusion", "06:00", "07:30"), a("A2", "drug b", "iv_infusion", "07:00", "16:00")],
        {("96365", ()): 1, ("96366", ()): 8, ("96367", ()): 1},
        None,
    ),
    "6 cisplatin with pre and post hydration": (
        [
            a("A1", "normal saline", "iv_infusion", "08:00", "09:00", "hydration", purpose="hydration"),
            a("A2", "cisplatin", "iv_infusion", "09:00", "11:00", "chemo"),
            a("A3", "normal saline", "iv_infusion", "11:00", "12:30", "hydration", purpose="hydration"),
        ],
        {("96413", ()): 1, ("96415", ()): 1, ("96361", ()): 2},
        None,
    ),
    "7 same drug pushed twice": (
        [a("A1", "morphine", "iv_push", "10:00", "10:01"), a("A2", "morphine", "iv_push", "11:15", "11:16")],
        {("96374", ()): 1, ("96376", ()): 1},
        None,
    ),
    "9 two access sites by protocol": (
        [
            a("A1", "drug a", "iv_infusion", "09:00", "11:00", "chemo", site="port"),
            a("A2", "drug b", "iv_infusion", "09:30", "10:30", "chemo", site="PIV", separate_site_required=True),
        ],
        {("96413", ()): 1, ("96415", ()): 1, ("96413", ("XU",)): 1},
        None,
    ),
    "10 FOLFOX day 1": (
        [
            a("A1", "oxaliplatin", "iv_infusion", "09:33", "12:15", "chemo", hcpcs="J9263"),
            a("A2", "leucovorin", "iv_infusion", "09:33", "12:15", hcpcs="J0640"),
            a("A3", "fluorouracil", "iv_push", "12:20", "12:23", "chemo", hcpcs="J9190"),
            {
                **a("A4", "fluorouracil", "pump_prolonged", "12:30", None, "chemo", hcpcs="J9190"),
                "stop": "2025-03-06T10:30",
            },
        ],
        {("96413", ()): 1, ("96415", ()): 2, ("96368", ()): 1, ("96411", ()): 1, ("96416", ()): 1},
        None,
    ),
    "11 port flush only": (
        [a("A1", "heparin flush", "port_flush", "10:00", "10:05", hcpcs="J1642", dose=500, dose_unit="units")],
        {("96523", ()): 1},
        {("J1642", ()): 50},
    ),
    "12 denosumab SC": (
        [a("A1", "denosumab", "sc", "10:00", "10:01", hcpcs="J0897", dose=120, dose_unit="mg", wasted=0)],
        {("96372", ()): 1},
        {("J0897", ("JZ",)): 120},
    ),
}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_reference_worked_example(name):
    admins, administration, drugs = EXAMPLES[name]
    result = derive_encounter({"id": name, "setting": "facility", "administrations": admins}, BOOK)
    assert result["errors"] == []
    assert totals(result) == administration
    if drugs is not None:
        assert totals(result, ("drug",)) == drugs


def test_example_7_office_reports_the_first_push_only():
    admins = EXAMPLES["7 same drug pushed twice"][0]
    result = derive_encounter({"id": "E", "setting": "professional", "administrations": admins}, BOOK)
    assert totals(result) == {("96374", ()): 1}


TIME_BASED = {
    "96360",
    "96361",
    "96365",
    "96366",
    "96367",
    "96368",
    "96369",
    "96370",
    "96413",
    "96415",
    "96417",
    "96422",
    "96423",
}


def _generated():
    if not GEN.exists():
        pytest.skip("gen-encounters not available")
    done = subprocess.run(
        [sys.executable, str(GEN), "--count", "300", "--seed", "7"], capture_output=True, timeout=120, check=True
    )
    return json.loads(done.stdout)["encounters"]


def test_every_explanation_names_rules_and_minutes():
    checked = 0
    for encounter in _generated():
        result = derive_encounter(encounter, BOOK)
        for line in result["lines"]:
            text = line["explanation"]
            assert re.search(r"\bR\d{1,2}\b", text), text
            if line["code"] in TIME_BASED:
                assert re.search(r"\d+ (billable|countable) minutes|\(\d+ minutes", text), text
            checked += 1
        for item in result["warnings"] + result["errors"]:
            assert set(item) == {"code", "administration", "message"} and item["message"]
    assert checked > 1000
