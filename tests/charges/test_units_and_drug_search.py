from decimal import Decimal

import pytest

from charges import units
from charges.drug_search import DrugEntry, damerau_levenshtein, exact_match, search_drugs

CATALOG = [
    DrugEntry("J9312", "rituximab", ("Rituxan", "Truxima")),
    DrugEntry("J9355", "trastuzumab, excludes biosimilar", ("Herceptin",)),
    DrugEntry("J1200", "diphenhydramine up to 50 mg", ("Benadryl",)),
    DrugEntry("J7050", "normal saline 0.9% 250 mL", ("NS", "saline")),
    DrugEntry("J2405", "ondansetron", ("Zofran",)),
    DrugEntry("J9271", "pembrolizumab", ("Keytruda",)),
]


@pytest.mark.parametrize("query", ["ritux", "Rituxan", "rituximb", "RITUXIMAB", "rtiuximab", "J9312"])
def test_search_finds_rituximab(query):
    assert search_drugs(query, CATALOG)[0].entry.hcpcs == "J9312"


def test_search_ranks_exact_then_prefix_then_fuzzy_deterministically():
    a = [m.entry.hcpcs for m in search_drugs("saline", CATALOG)]
    b = [m.entry.hcpcs for m in search_drugs("saline", list(reversed(CATALOG)))]
    assert a == b == ["J7050"]
    assert search_drugs("x", CATALOG) == []
    assert search_drugs("zzzzzz", CATALOG) == []


def test_search_the_real_codebook(codebook):
    from charges.selectors import drug_catalog

    catalog = drug_catalog()
    for query in ("ritux", "Rituxan", "rituximb"):
        assert search_drugs(query, catalog)[0].entry.hcpcs == "J9312"
    assert exact_match("Benadryl", catalog).hcpcs == "J1200"


def test_edit_distance():
    assert damerau_levenshtein("rituximb", "rituximab") == 1
    assert damerau_levenshtein("rtiux", "ritux") == 1
    assert damerau_levenshtein("abc", "abc") == 0


def test_unit_conversion_uses_decimal():
    assert units.convert(Decimal("1.5"), "g", "mg") == Decimal("1500")
    assert units.convert(Decimal("250"), "mcg", "mg") == Decimal("0.25")
    assert units.convert(Decimal("1"), "L", "mL") == Decimal("1000")
    assert units.convert(Decimal("7"), "mg", "mg") == Decimal("7")


def test_unconvertible_unit_is_an_error_not_a_guess():
    with pytest.raises(units.UnitMismatch):
        units.convert(Decimal("1"), "mL", "mg")
    with pytest.raises(units.UnitMismatch):
        units.convert(Decimal("1"), "units", "mg")
    assert not units.convertible("mEq", "mg")
