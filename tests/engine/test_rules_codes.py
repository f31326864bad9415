"""At least one test per warning and error code of the closed list (coding-rules.md), each with the rule
behaviour around it (lines produced or not)."""

from __future__ import annotations

import datetime

import pytest

from charges.engine.api import derive_encounter
from charges.engine.snapshot import build_book, load_seed_book, read_tables

BOOK = load_seed_book()
BASE = datetime.datetime(2025, 3, 4, 10, 0)


def t(minutes: int) -> str:
    return (BASE + datetime.timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M")


def adm(admin_id, start, stop, route="iv_infusion", category="therapeutic", drug=None, **extra):
    item = {"id": admin_id, "drug": drug or f"drug {admin_id}", "route": route, "start": start, "stop": stop}
    if category is not None:
        item["category"] = category
    item.update(extra)
    return item


def run(admins, setting="facility", payer="medicare", book=BOOK, **extra):
    encounter = {"id": "E", "setting": setting, "payer": payer, "administrations": admins}
    encounter.update(extra)
    return derive_encounter(encounter, book)


def codes(result, kind=None):
    return sorted(
        (line["code"], tuple(line["modifiers"]), line["units"])
        for line in result["lines"]
        if kind is None or line["kind"] == kind
    )


def warned(result, code):
    return [w for w in result["warnings"] if w["code"] == code]


def error_codes(result):
    return {e["code"] for e in result["errors"]}


# ------------------------------------------------------------------------------------------------ warnings


def test_long_push():
    result = run([adm("P", t(0), t(20), route="iv_push")])
    assert codes(result) == [("96374", (), 1)] and warned(result, "LONG_PUSH")[0]["administration"] == "P"


def test_missing_stop_time_and_payer_setting():
    result = run([adm("A", t(0), None)])
    assert codes(result) == [] and warned(result, "MISSING_STOP_TIME")
    tables = read_tables()
    tables["payers"] = [dict(r, missing_stop_as_push="true") for r in tables["payers"]]
    as_push = run([adm("A", t(0), None)], book=build_book(tables, "t"))
    assert codes(as_push) == [("96374", (), 1)] and warned(as_push, "MISSING_STOP_TIME")


def test_hydration_not_documented_for_kvo_and_carrier():
    kvo = adm("F", t(0), t(31), category="hydration", purpose="kvo", hcpcs="J7050", dose=250, dose_unit="mL")
    result = run([kvo])
    assert codes(result, "administration") == [] and warned(result, "HYDRATION_NOT_DOCUMENTED")
    drug_lines = [x for x in result["lines"] if x["kind"] == "drug"]
    assert [(x["code"], x["revenue_code"], x["modifiers"]) for x in drug_lines] == [("J7050", "0258", [])]
    short = run([adm("F", t(0), t(30), category="hydration", purpose="carrier")])
    assert not warned(short, "HYDRATION_NOT_DOCUMENTED")
    professional = run([kvo], setting="professional")
    assert professional["lines"] == []


def test_hydration_under_31_counts_only_minutes_without_other_services():
    hydration = adm("H", t(0), t(40), category="hydration", purpose="hydration")
    push = adm("P", t(10), t(20), route="iv_push")  # 10 minutes removed: 30 countable
    result = run([hydration, push])
    assert codes(result) == [("96374", (), 1)] and warned(result, "HYDRATION_UNDER_31")


def test_electrolyte_bag_is_hydration_unless_replacement():
    saline = adm("S", t(0), t(60), category="hydration", purpose="hydration", bag="b1", hcpcs="J7030")
    kcl = adm("K", t(0), t(60), category=None, hcpcs="J3480", bag="b1", dose=20, dose_unit="mEq")
    assert codes(run([saline, kcl]), "administration") == [("96360", (), 1)]
    replacement = dict(kcl, purpose="electrolyte_replacement")
    result = run([saline, replacement])
    assert codes(result, "administration") == [("96365", (), 1)] and warned(result, "ELECTROLYTE_THERAPEUTIC")


def test_primary_reason_overridden_by_chemo():
    chemo = adm("C", t(0), t(60), category="chemo")
    marked = adm("T", t(60), t(120), primary_reason=True)
    result = run([chemo, marked], setting="professional")
    assert codes(result) == [("96367", (), 1), ("96413", (), 1)] and warned(result, "PRIMARY_REASON_OVERRIDDEN")


def test_primary_reason_followed_in_professional_setting():
    infusion = adm("T", t(0), t(60))
    push = adm("P", t(70), t(71), route="iv_push", primary_reason=True)
    result = run([infusion, push], setting="professional")
    assert codes(result) == [("96367", (), 1), ("96374", (), 1)]
    assert not warned(result, "PRIMARY_REASON_OVERRIDDEN")
    assert codes(run([infusion, push])) == [("96365", (), 1), ("96375", (), 1)]  # facility ignores the mark


def test_second_site_pooled_unless_required():
    first = adm("A1", t(0), t(60), site="A")
    second = adm("A2", t(90), t(150), site="B", drug="other")
    result = run([first, second])
    assert codes(result) == [("96365", (), 1), ("96367", (), 1)]
    assert warned(result, "SECOND_SITE_UNSUPPORTED")[0]["administration"] == "A2"
    required = run([first, dict(second, separate_site_required=True)])
    assert codes(required) == [("96365", (), 1), ("96365", ("XU",), 1)]
    commercial = run([first, dict(second, separate_site_required=True)], payer="commercial")
    assert codes(commercial) == [("96365", (), 1), ("96365", ("59",), 1)]


def test_integral_to_procedure():
    result = run([adm("I", t(0), t(60), integral_to="moderate sedation", hcpcs="J2270", dose=4, dose_unit="mg")])
    assert codes(result, "administration") == [] and warned(result, "INTEGRAL_TO_PROCEDURE")
    assert codes(result, "drug") == [("J2270", (), 1)]


def test_unlisted_code_for_concurrent_chemo():
    result = run([adm("C1", t(0), t(60), category="chemo"), adm("C2", t(0), t(60), category="chemo")])
    assert codes(result) == [("96413", (), 1), ("96549", (), 1)] and warned(result, "UNLISTED_CODE")


def test_repeat_infusion():
    result = run([adm("A1", t(0), t(30), drug="x"), adm("A2", t(100), t(130), drug="x")])
    assert codes(result) == [("96365", (), 1)] and warned(result, "REPEAT_INFUSION")


def test_push_with_same_drug_infusion():
    result = run([adm("A1", t(0), t(60), drug="x"), adm("P", t(65), t(66), route="iv_push", drug="X ")])
    assert codes(result) == [("96365", (), 1), ("96376", (), 1)] and warned(result, "PUSH_WITH_SAME_DRUG_INFUSION")
    professional = run(
        [adm("A1", t(0), t(60), drug="x"), adm("P", t(65), t(66), route="iv_push", drug="x")], setting="professional"
    )
    assert codes(professional) == [("96365", (), 1)]


def test_repeat_chemo_push():
    first = adm("P1", t(0), t(2), route="iv_push", category="chemo", drug="fluorouracil")
    again = adm("P2", t(120), t(122), route="iv_push", category="chemo", drug="fluorouracil")
    result = run([first, again])
    assert codes(result) == [("96409", (), 1)] and warned(result, "REPEAT_CHEMO_PUSH")


def test_same_ingredient_is_the_same_drug():
    a = adm("P1", t(0), t(1), route="iv_push", hcpcs="J2930", drug="Solu-Medrol 125", dose=125, dose_unit="mg")
    b = adm("P2", t(60), t(61), route="iv_push", hcpcs="J2920", drug="methylpred 40", dose=40, dose_unit="mg")
    result = run([a, b])
    assert codes(result, "administration") == [("96374", (), 1), ("96376", (), 1)]
    assert [x["code"] for x in result["lines"] if x["kind"] == "drug"] == ["J2930", "J2920"]


def test_split_dose_and_payer_setting():
    one = adm("I1", t(0), t(1), route="im", drug="ceftriaxone")
    two = adm("I2", t(5), t(6), route="im", drug="ceftriaxone")
    result = run([one, two], setting="professional")
    assert codes(result) == [("96372", (), 1)] and warned(result, "SPLIT_DOSE")
    tables = read_tables()
    tables["payers"] = [dict(r, split_dose_per_injection="true") for r in tables["payers"]]
    split = run([one, two], setting="professional", book=build_book(tables, "t"))
    assert codes(split) == [("96372", (), 1), ("96372", ("XU",), 1)]
    far = run([one, adm("I2", t(12), t(13), route="im", drug="ceftriaxone")], setting="professional")
    assert codes(far) == [("96372", (), 1), ("96372", ("XU",), 1)]


def test_unsupported_route():
    result = run([adm("X", t(0), t(1), route="intrathecal", category="therapeutic")])
    assert codes(result) == [] and warned(result, "UNSUPPORTED_ROUTE")
    assert codes(run([adm("X", t(0), t(1), route="intrathecal", category="chemo")])) == [("96450", (), 1)]


def test_g0498_and_its_follow_up():
    pump = adm("P", t(0), t(46 * 60), route="pump_prolonged", category="chemo", pump_supplied_by="provider")
    assert codes(run([pump], setting="professional")) == [("G0498", (), 1)]
    assert codes(run([pump], setting="facility")) == [("96416", (), 1)]
    assert codes(run([pump], setting="professional", payer="commercial")) == [("96416", (), 1)]
    visit = [
        adm("D", t(0), t(5), route="pump_disconnect", pump_supplied_by="provider"),
        adm("F", t(5), t(8), route="port_flush"),
    ]
    result = run(visit, setting="professional", em={"code": "99213", "separately_identifiable": True})
    assert codes(result) == [] and warned(result, "G0498_FOLLOW_UP_INCLUDED")


def test_pump_supplier_unknown():
    pump = adm("P", t(0), t(46 * 60), route="pump_prolonged", category="chemo")
    result = run([pump], setting="professional")
    assert codes(result) == [("96416", (), 1)] and warned(result, "PUMP_SUPPLIER_UNKNOWN")


def test_pump_non_chemo():
    pump = adm("P", t(0), t(10 * 60), route="pump_prolonged", category="therapeutic")
    assert codes(run([pump])) == [("C8957", (), 1)]
    professional = run([pump], setting="professional")
    assert codes(professional) == [] and warned(professional, "PUMP_NON_CHEMO")
    assert warned(run([pump], payer="commercial"), "PUMP_NON_CHEMO")


def test_pump_refill_codes():
    assert codes(run([adm("R", t(0), t(5), route="pump_refill", category=None)])) == [("96521", (), 1)]
    implanted = adm("R", t(0), t(5), route="pump_refill", category=None, pump_type="implanted")
    assert codes(run([implanted])) == [("96522", (), 1)]


def test_pump_disconnect_flush():
    visit = [
        adm("D", t(0), t(5), route="pump_disconnect", category=None),
        adm("F", t(5), t(8), route="port_flush", category=None),
    ]
    result = run(visit, setting="professional", payer="commercial")
    assert codes(result) == [("96523", (), 1)] and warned(result, "PUMP_DISCONNECT_FLUSH")


def test_port_flush_only_when_the_only_service():
    flush = adm("F", t(0), t(3), route="port_flush", category=None)
    assert codes(run([flush])) == [("96523", (), 1)]
    assert codes(run([flush], other_services=["36591"])) == []
    assert codes(run([flush, adm("I", t(10), t(11), route="im")])) == [("96372", (), 1)]
    clearance = adm("C", t(10), t(40), route="catheter_clearance", category=None, hcpcs="J2997", dose=2, dose_unit="mg")
    assert codes(run([flush, clearance]), "administration") == [("36593", (), 1)]


def test_facility_pos():
    result = run(
        [adm("A", t(0), t(60), hcpcs="J1745", dose=100, dose_unit="mg", wasted=0)],
        setting="professional",
        place_of_service="22",
    )
    assert result["lines"] == [] and warned(result, "FACILITY_POS")


def test_em_rules():
    injection = [adm("I", t(0), t(1), route="im")]
    bundled = run(injection, setting="professional", em={"code": "99211", "separately_identifiable": True})
    assert codes(bundled, "em") == [] and warned(bundled, "EM_99211_BUNDLED")
    not_separate = run(injection, setting="professional", em={"code": "99213", "separately_identifiable": False})
    assert codes(not_separate, "em") == [] and warned(not_separate, "EM_NOT_SEPARATE")
    separate = run(injection, setting="professional", em={"code": "99213", "separately_identifiable": True})
    assert codes(separate, "em") == [("99213", ("25",), 1)]
    facility = run(injection, em={"code": "99214", "separately_identifiable": True})
    assert [(x["code"], x["modifiers"], x["revenue_code"]) for x in facility["lines"] if x["kind"] == "em"] == [
        ("G0463", ["25"], "0510")
    ]
    ed = run(injection, em={"code": "99284", "separately_identifiable": True})
    assert codes(ed, "em") == [("99284", ("25",), 1)]
    oral_only = run([adm("O", t(0), t(0), route="oral")], em={"code": "99213", "separately_identifiable": False})
    assert codes(oral_only, "em") == [("G0463", (), 1)]


def test_addon_without_primary_in_professional_setting():
    # A push on the day before the initial infusion: 96375 has no primary on its date (professional).
    push = adm("P", "2025-03-03T21:00", "2025-03-03T21:01", route="iv_push", drug="a")
    infusion = adm("A", "2025-03-04T08:00", "2025-03-04T08:45", drug="b")
    professional = run([push, infusion], setting="professional")
    assert codes(professional) == [("96365", (), 1)] and warned(professional, "ADDON_WITHOUT_PRIMARY")
    facility = run([push, infusion])
    assert codes(facility) == [("96365", (), 1), ("96375", (), 1)]


def test_missing_dose_waste_and_ndc():
    no_dose = run([adm("A", t(0), t(60), category="chemo", hcpcs="J9312")])
    assert codes(no_dose, "drug") == [] and warned(no_dose, "MISSING_DOSE")
    no_waste = run([adm("A", t(0), t(60), category="chemo", hcpcs="J9312", dose=700, dose_unit="mg")])
    assert codes(no_waste, "drug") == [("J9312", (), 70)] and warned(no_waste, "WASTE_NOT_DOCUMENTED")
    unclassified = run([adm("A", t(0), t(1), route="im", hcpcs="J3490", billing_unit=20, dose=20, dose_unit="mg")])
    assert codes(unclassified, "drug") == [("J3490", (), 1)] and warned(unclassified, "MISSING_NDC")
    medicaid = run([adm("A", t(0), t(1), route="im", hcpcs="J1885", dose=30, dose_unit="mg")], payer="medicaid")
    assert warned(medicaid, "MISSING_NDC")
    with_ndc = run(
        [adm("A", t(0), t(1), route="im", hcpcs="J1885", dose=30, dose_unit="mg", ndc="0409-3795-01")], payer="medicaid"
    )
    assert not warned(with_ndc, "MISSING_NDC")
    assert [x.get("ndc") for x in with_ndc["lines"] if x["kind"] == "drug"] == ["0409-3795-01"]


def test_jw_jz_units_and_340b():
    chemo = dict(category="chemo", hcpcs="J9312", dose=305, dose_unit="mg", single_dose_container=True)
    jw = run([adm("A", t(0), t(60), wasted=95, **chemo)])
    assert codes(jw, "drug") == sorted([("J9312", ("JW",), 9), ("J9312", (), 31)])
    jz = run([adm("A", t(0), t(60), wasted=5, **chemo)])  # 5 mg < 10 mg unit: JZ
    assert codes(jz, "drug") == [("J9312", ("JZ",), 31)]
    tb = run([adm("A", t(0), t(60), wasted=95, acquired_340b=True, **chemo)])
    assert codes(tb, "drug") == sorted([("J9312", ("JW", "TB"), 9), ("J9312", ("TB",), 31)])
    jg = run([adm("A", t(0), t(60), wasted=0, acquired_340b=True, **chemo)], billing_entity="covered_entity")
    assert codes(jg, "drug") == [("J9312", ("JZ", "JG"), 31)]
    packaged = run([adm("P", t(0), t(1), route="iv_push", hcpcs="J2405", dose=8, dose_unit="mg", wasted=0)])
    assert codes(packaged, "drug") == [("J2405", (), 8)]
    assert [x["revenue_code"] for x in packaged["lines"] if x["kind"] == "drug"] == ["0250"]
    grams = run([adm("A", t(0), t(30), hcpcs="J0696", dose=1, dose_unit="g")])
    assert codes(grams, "drug") == [("J0696", (), 4)]


def test_mue_exceeded():
    injections = [adm(f"I{n}", t(20 * n), t(20 * n + 1), route="im", drug=f"drug {n}") for n in range(5)]
    result = run(injections, setting="professional")
    assert sum(units for code, _, units in codes(result) if code == "96372") == 5
    assert warned(result, "MUE_EXCEEDED")


def test_overlapping_pushes():
    result = run([adm("P1", t(0), t(2), route="iv_push"), adm("P2", t(1), t(3), route="iv_push")])
    assert codes(result) == [("96374", (), 1), ("96375", (), 1)] and warned(result, "OVERLAPPING_PUSHES")


def test_unknown_drug_and_payer():
    result = run([adm("A", t(0), t(60), category=None)], payer="acme")
    assert codes(result) == [] and warned(result, "UNKNOWN_DRUG") and warned(result, "UNKNOWN_PAYER")


def test_department_status_and_revenue_codes():
    chemo = adm("A", t(0), t(100), category="chemo", hcpcs="J9312", dose=100, dose_unit="mg", wasted=0)
    result = run([chemo], department_status="off_campus_excepted")
    assert [(x["code"], x["modifiers"], x["revenue_code"]) for x in result["lines"]] == [
        ("96413", ["PO"], "0335"),
        ("96415", ["PO"], "0335"),
        ("J9312", ["JZ", "PO"], "0636"),
    ]
    pn = run([chemo], department_status="off_campus_non_excepted")
    assert all("PN" in x["modifiers"] for x in pn["lines"])
    professional = run([chemo], setting="professional")
    assert all("revenue_code" not in x for x in professional["lines"])


def test_vaccines_by_payer():
    flu = adm("V1", t(0), t(1), route="im", category=None, hcpcs="90686", drug="flu vaccine")
    pneumo = adm("V2", t(5), t(6), route="im", category=None, hcpcs="90677", drug="pneumococcal vaccine")
    medicare = run([flu, pneumo], setting="professional")
    assert codes(medicare, "administration") == [("G0008", (), 1), ("G0009", (), 1)]
    assert codes(medicare, "drug") == [("90677", (), 1), ("90686", (), 1)]
    other = run([flu, pneumo], setting="professional", payer="commercial")
    assert codes(other, "administration") == [("90471", (), 1), ("90472", (), 1)]


def test_hormonal_chemo_injection_and_payer_chemo_list():
    lupron = adm("L", t(0), t(1), route="im", category=None, hcpcs="J9217", dose=7.5, dose_unit="mg", wasted=0)
    assert codes(run([lupron], setting="professional"), "administration") == [("96402", (), 1)]
    assert codes(run([lupron], setting="professional", payer="bcbs"), "administration") == [("96372", (), 1)]


def test_separate_encounter_group():
    morning = adm("A1", t(0), t(60), category="chemo")
    afternoon = adm("A2", t(300), t(310), route="iv_push", separate_encounter=True, drug="lorazepam")
    result = run([morning, afternoon])
    assert codes(result) == [("96374", ("XE",), 1), ("96413", (), 1)]
    assert codes(run([morning, afternoon], payer="commercial")) == [("96374", ("59",), 1), ("96413", (), 1)]


def test_output_does_not_depend_on_input_order():
    admins = [
        adm("A1", t(0), t(150), category="chemo", hcpcs="J9312", dose=700, dose_unit="mg", wasted=0),
        adm("A2", t(-20), t(-18), route="iv_push", hcpcs="J1200", dose=50, dose_unit="mg"),
        adm("A3", t(-10), t(200), category="hydration", purpose="hydration"),
        adm("A4", t(30), t(90), drug="leucovorin"),
    ]
    forward = run(admins)
    assert forward == run(list(reversed(admins)))
    assert forward == run(admins[2:] + admins[:2])


# ------------------------------------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"stop": t(-5)}, "STOP_BEFORE_START"),
        ({"pauses": [{"start": t(-10), "stop": t(5)}]}, "PAUSE_OUTSIDE"),
        ({"start": "yesterday"}, "BAD_TIME"),
        ({"route": "nasal"}, "UNKNOWN_ROUTE"),
        ({"category": None, "hcpcs": "J3490"}, "MISSING_CATEGORY"),
        ({"dose": 5, "dose_unit": "mL", "hcpcs": "J9312"}, "DOSE_UNIT_MISMATCH"),
        ({"drug": None}, "BAD_ENCOUNTER"),
        ({"dose": "lots"}, "BAD_ENCOUNTER"),
    ],
)
def test_administration_errors(change, expected):
    admin = adm("A", t(0), t(60))
    admin.update(change)
    if admin.get("category") is None:
        admin.pop("category")
    result = run([admin])
    assert error_codes(result) == {expected} and result["lines"] == []


def test_encounter_errors():
    ok = [adm("A", t(0), t(60))]
    assert error_codes(run(ok, setting="home")) == {"UNKNOWN_SETTING"}
    assert error_codes(run(ok, timezone="Mars/Olympus")) == {"BAD_TIMEZONE"}
    assert error_codes(run([adm("A", t(0), t(60)), adm("A", t(70), t(80))])) == {"DUPLICATE_ID"}
    assert error_codes(run([adm("A", "2024-06-01T10:00", "2024-06-01T11:00")])) == {"NO_CODEBOOK_FOR_DATE"}
    assert error_codes(
        run(
            [adm("A", t(0), t(60), hcpcs="J9312", dose=100, dose_unit="mg", acquired_340b=True)], setting="professional"
        )
    ) == {"NOT_340B_ENTITY"}
    assert error_codes(derive_encounter({"id": "E", "setting": "facility"}, BOOK)) == {"BAD_ENCOUNTER"}
    assert error_codes(derive_encounter(["not", "an", "object"], BOOK)) == {"BAD_ENCOUNTER"}
    assert error_codes(run([adm("A", t(0), t(60))], nonexistent=1)) == set()  # unknown keys are ignored


def test_separate_encounter_modifier_on_initial_and_its_hours_only():
    morning = adm("A1", t(0), t(60), category="chemo")
    hydration = adm("H", t(300), t(400), category="hydration", purpose="hydration", separate_encounter="return")
    result = run([morning, hydration])
    assert codes(result) == [("96360", ("XE",), 1), ("96361", ("XE",), 1), ("96413", (), 1)]
    push = adm("P", t(420), t(421), route="iv_push", separate_encounter="return", drug="ondansetron")
    with_push = run([morning, hydration, push])  # the push outranks hydration: 96374-XE, hydration secondary
    assert codes(with_push) == [("96361", (), 2), ("96374", ("XE",), 1), ("96413", (), 1)]


def test_only_later_groups_carry_the_separate_encounter_modifier():
    first = adm("A1", t(0), t(60), separate_encounter="one")
    second = adm("A2", t(300), t(360), separate_encounter="two", drug="other")
    assert codes(run([first, second])) == [("96365", (), 1), ("96365", ("XE",), 1)]
